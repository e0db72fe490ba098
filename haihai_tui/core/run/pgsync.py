"""The sync modes' confirmed state in the shared PostgreSQL state: the API of the SQLite :class:`SyncStore`.

Same tables as in the history file (core/run/syncstate.py explains them), named ``haihai_sync_*``; every host of
a team then plans its changes and mirror runs against what HaiHai confirmed to any of them. Reads for a whole
scope are one query; writes are one transaction per ``BATCH`` rows of ``executemany``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from operator import itemgetter

from haihai_tui.core.run.pgstate import PgState
from haihai_tui.core.run.syncstate import BATCH, KeyState, SyncStore, _chunks

#: a key's state in one value, as SyncStore.load_scope gives it ("!" + the digest confirmed before when refused)
_VALUE = "CASE WHEN state = 2 THEN '\\x21'::bytea || COALESCE(digest, ''::bytea) ELSE digest END"


class PgSyncStore(SyncStore):
    """The sync state in PostgreSQL; nothing is connected until the first call (safe to make on the UI thread)."""

    def __init__(self, state: PgState) -> None:
        self.state = state
        self.path = state.where  # type: ignore[assignment]

    def _connect(self):  # type: ignore[override]
        return self.state.connect(rows=False)

    @staticmethod
    def _integ(db, name: str, create: bool) -> int | None:  # type: ignore[override]
        row = db.execute("SELECT id FROM haihai_sync_integrations WHERE name = %s", (name,)).fetchone()
        if row is None and create:
            row = db.execute(
                "INSERT INTO haihai_sync_integrations (name) VALUES (%s) "
                "ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id",
                (name,),
            ).fetchone()
        return None if row is None else int(row[0])

    def scope_id(self, integration: str, ident: str, description: str) -> int:
        with self._connect() as db:
            row = db.execute("SELECT id FROM haihai_sync_scopes WHERE ident = %s", (ident,)).fetchone()
            if row is not None:
                return int(row[0])
            with db.transaction():
                integ = self._integ(db, integration, True)
                row = db.execute(
                    "INSERT INTO haihai_sync_scopes (integ, ident, description) VALUES (%s, %s, %s) "
                    "ON CONFLICT (ident) DO UPDATE SET ident = EXCLUDED.ident RETURNING id",
                    (integ, ident, description),
                ).fetchone()
            return int(row[0])

    def last_run(self, scope_id: int) -> int | None:
        with self._connect() as db:
            row = db.execute("SELECT last_run FROM haihai_sync_scopes WHERE id = %s", (scope_id,)).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    # -- reading ---------------------------------------------------------------------------------

    def _select(self, integration: str, sql: str, params: tuple = ()) -> list[tuple]:
        """Rows of ``sql`` (its first %s is the integration's number); [] for an integration never synced."""
        with self._connect() as db:
            integ = self._integ(db, integration, False)
            if integ is None:
                return []
            return db.execute(sql, (integ, *params)).fetchall()

    def load_scope(self, integration: str, scope_id: int) -> dict[str, bytes]:
        sql = f"SELECT key, {_VALUE} FROM haihai_sync_keys WHERE integ = %s AND scope = %s"
        return dict(self._select(integration, sql, (scope_id,)))

    def confirmed_digest_set(self, integration: str) -> set[bytes]:
        sql = "SELECT digest FROM haihai_sync_keys WHERE integ = %s AND state = 1"
        return set(map(itemgetter(0), self._select(integration, sql)))

    def scope_digests(self, integration: str, scope_id: int) -> set[bytes]:
        sql = "SELECT digest FROM haihai_sync_keys WHERE integ = %s AND scope = %s AND state = 1"
        return set(map(itemgetter(0), self._select(integration, sql, (scope_id,))))

    def scope_has_keys(self, integration: str, scope_id: int) -> bool:
        sql = "SELECT 1 FROM haihai_sync_keys WHERE integ = %s AND scope = %s LIMIT 1"
        return bool(self._select(integration, sql, (scope_id,)))

    def scope_lookup(self, integration: str, scope_id: int, keys: Sequence[str]) -> dict[str, bytes]:
        sql = f"SELECT key, {_VALUE} FROM haihai_sync_keys WHERE integ = %s AND scope = %s AND key = ANY(%s)"
        return dict(self._select(integration, sql, (scope_id, list(dict.fromkeys(keys)))))

    def scope_keys(self, integration: str, scope_id: int) -> set[str]:
        sql = "SELECT key FROM haihai_sync_keys WHERE integ = %s AND scope = %s AND digest IS NOT NULL"
        return set(map(itemgetter(0), self._select(integration, sql, (scope_id,))))

    def lookup(self, integration: str, keys: Sequence[str]):
        sql = (
            "SELECT key, scope, digest, state, run, reason, email FROM haihai_sync_keys "
            "WHERE integ = %s AND key = ANY(%s)"
        )
        rows = self._select(integration, sql, (list(dict.fromkeys(keys)),))
        return {r[0]: KeyState(r[0], r[1], r[2], r[3], r[4], r[5] or "", r[6] or "") for r in rows}

    def keys_with_state(self, integration: str, state: int) -> set[str]:
        sql = "SELECT key FROM haihai_sync_keys WHERE integ = %s AND state = %s"
        return set(map(itemgetter(0), self._select(integration, sql, (state,))))

    def failures(self, run_id: int) -> list[tuple[str, str, str]]:
        with self._connect() as db:
            rows = db.execute(
                'SELECT key, email, reason FROM haihai_sync_failures WHERE run = %s ORDER BY key COLLATE "C"',
                (run_id,),
            ).fetchall()
        return [(k, e or k, r) for k, e, r in rows]

    # -- writing ---------------------------------------------------------------------------------

    def record(
        self,
        run_id: int,
        integration: str,
        scope_id: int,
        sent: Iterable[tuple[str, bytes, str]],
        refused: dict[str, str],
        *,
        removal: bool = False,
    ) -> tuple[int, int]:
        """As :meth:`SyncStore.record`: one transaction per BATCH rows, each row standing on its own."""
        ok = bad = 0
        keep = "NULL" if removal else "CASE WHEN k.scope = EXCLUDED.scope THEN k.digest ELSE NULL END"
        with self._connect() as db:
            with db.transaction():
                integ = self._integ(db, integration, True)
            for chunk in _chunks(sorted(sent, key=itemgetter(0)), BATCH):
                good = [(k, d, a) for k, d, a in chunk if k not in refused]
                fail = [(k, a, refused[k]) for k, _d, a in chunk if k in refused]
                with db.transaction(), db.cursor() as cur:
                    if removal:
                        gone = [(integ, k) for k, _, _ in good]
                        cur.executemany("DELETE FROM haihai_sync_keys WHERE integ = %s AND key = %s", gone)
                    else:
                        cur.executemany(
                            "INSERT INTO haihai_sync_keys AS k (integ, key, scope, digest, state, run, reason, email) "
                            "VALUES (%s, %s, %s, %s, 1, %s, NULL, %s) ON CONFLICT (integ, key) DO UPDATE SET "
                            "scope = EXCLUDED.scope, digest = EXCLUDED.digest, state = 1, run = EXCLUDED.run, "
                            "reason = NULL, email = EXCLUDED.email",
                            [(integ, k, scope_id, d, run_id, None if a == k else a) for k, d, a in good],
                        )
                    cur.executemany(
                        "INSERT INTO haihai_sync_keys AS k (integ, key, scope, digest, state, run, reason, email) "
                        "VALUES (%s, %s, %s, NULL, 2, %s, %s, %s) ON CONFLICT (integ, key) DO UPDATE SET "
                        f"digest = {keep}, scope = EXCLUDED.scope, state = 2, run = EXCLUDED.run, "
                        "reason = EXCLUDED.reason, email = EXCLUDED.email",
                        [(integ, k, scope_id, run_id, r, None if a == k else a) for k, a, r in fail],
                    )
                    cur.executemany(
                        "INSERT INTO haihai_sync_failures (run, key, email, reason) VALUES (%s, %s, %s, %s) "
                        "ON CONFLICT (run, key) DO UPDATE SET email = EXCLUDED.email, reason = EXCLUDED.reason",
                        [(run_id, k, None if a == k else a, r) for k, a, r in fail],
                    )
                ok, bad = ok + len(good), bad + len(fail)
            if ok and not removal:
                db.execute("UPDATE haihai_sync_scopes SET last_run = %s WHERE id = %s", (run_id, scope_id))
        return ok, bad
