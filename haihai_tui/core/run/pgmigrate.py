"""``haihai-tui state migrate``: copy this host's SQLite run history and sync state into the shared state.

Each copied run remembers where it came from (``origin`` = machine, run id and start time in the SQLite file),
so copying again adds nothing: runs already there are counted and left alone. The copy is one transaction
(all or nothing). Run ids are new in the shared history; the run numbers a run's sync details name (the run it
was compared with, retried or removed for) are turned into the new numbers where that run was copied too, and so
are the runs the sync state names. A key the shared sync state already has (another host sent it) is kept.
"""

from __future__ import annotations

import json
import socket
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from haihai_tui.core.run.history import History
from haihai_tui.core.run.pgstate import PgState
from haihai_tui.core.run.pgsync import PgSyncStore
from haihai_tui.core.run.syncstate import BATCH

#: run numbers inside a run's ``sync`` details
_RUN_REFS = ("since_run", "removal_run", "removal_of", "retry_of")
_COLUMNS = [
    "started_at", "started_epoch", "ended_at", "executor", "integration", "menu", "conditions", "memo", "rows",
    "bytes", "requests", "host", "url", "http_status", "outcome", "code", "message", "import_ids", "counts",
    "params", "response_excerpt", "dry_run", "result_csv", "sync", "pid", "proc_start", "boot_id", "machine",
]  # fmt: skip


@dataclass
class Migrated:
    copied: int
    already: int
    source: Path
    keys: int = 0  # sync state keys added

    def describe(self, where: str) -> str:
        if not self.copied and not self.already:
            return f"{self.source}: no runs to copy"
        return (
            f"copied {self.copied:,} run(s) from {self.source} into {where}; "
            f"{self.already:,} were there already (copied before); {self.keys:,} sync state key(s) added"
        )


def migrate_history(source: History, state: PgState) -> Migrated:
    """Copy every run of the SQLite ``source``, and its sync state, into ``state`` (idempotent, one transaction)."""
    me = socket.gethostname()
    with closing(sqlite3.connect(source.path)) as lite, state.connect(rows=False) as db, db.transaction():
        lite.row_factory = sqlite3.Row
        have = {r[1] for r in lite.execute("PRAGMA table_info(runs)")}
        cols = [c for c in _COLUMNS if c in have]
        rows = lite.execute(f"SELECT run_id, {', '.join(cols)} FROM runs ORDER BY run_id").fetchall()
        copied: list[int] = []
        origins: dict[str, int] = {}
        for row in rows:
            values = {c: row[c] for c in cols}
            values["machine"] = values.get("machine") or me
            origin = f"sqlite:{values['machine']}:{row['run_id']}:{values['started_at']}"
            origins[origin] = row["run_id"]
            names = [*values, "origin"]
            got = db.execute(
                f"INSERT INTO haihai_runs ({', '.join(f'{chr(34)}{n}{chr(34)}' for n in names)}) "
                f"VALUES ({', '.join(['%s'] * len(names))}) ON CONFLICT (origin) DO NOTHING RETURNING run_id",
                [*values.values(), origin],
            ).fetchone()
            if got is not None:
                copied.append(got[0])
        found = db.execute("SELECT origin, run_id FROM haihai_runs WHERE origin = ANY(%s)", (list(origins),)).fetchall()
        ids = {origins[o]: int(r) for o, r in found}  # SQLite run id -> shared run id (copied now or before)
        for new in copied:
            (raw,) = db.execute("SELECT sync FROM haihai_runs WHERE run_id = %s", (new,)).fetchone()
            sync = _renumbered(raw, ids)
            if sync is not None:
                db.execute("UPDATE haihai_runs SET sync = %s WHERE run_id = %s", (sync, new))
        keys = _copy_sync(lite, db, ids)
    return Migrated(len(copied), len(rows) - len(copied), Path(source.path), keys)


def _copy_sync(lite: sqlite3.Connection, db, ids: dict[int, int]) -> int:
    """The sync state's integrations, scopes, keys and failures, with run ids turned into the shared ones. A key
    the shared state already has (another host sent it) is kept as it is there. Returns how many keys were added."""
    if not lite.execute("SELECT 1 FROM sqlite_master WHERE name = 'sync_keys'").fetchone():
        return 0
    integ = {
        i: PgSyncStore._integ(db, name, True) for i, name in lite.execute("SELECT id, name FROM sync_integrations")
    }
    scope = {}
    for sid, i, ident, description, last_run in lite.execute(
        "SELECT id, integ, ident, description, last_run FROM sync_scopes"
    ):
        (scope[sid],) = db.execute(
            "INSERT INTO haihai_sync_scopes (integ, ident, description, last_run) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (ident) DO UPDATE SET last_run = COALESCE(haihai_sync_scopes.last_run, EXCLUDED.last_run) "
            "RETURNING id",
            (integ[i], ident, description, ids.get(last_run)),
        ).fetchone()
    (before,) = db.execute("SELECT COUNT(*) FROM haihai_sync_keys").fetchone()
    cur = lite.execute("SELECT integ, key, scope, digest, state, run, reason, email FROM sync_keys")
    while chunk := cur.fetchmany(BATCH):
        with db.cursor() as c:
            c.executemany(
                "INSERT INTO haihai_sync_keys (integ, key, scope, digest, state, run, reason, email) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (integ, key) DO NOTHING",
                [(integ[i], k, scope[s], d, st, ids.get(r, 0), why, e) for i, k, s, d, st, r, why, e in chunk],
            )
    fails = [(ids[r], k, e, why) for r, k, e, why in lite.execute("SELECT run, key, email, reason FROM sync_failures")]
    with db.cursor() as c:
        c.executemany(
            "INSERT INTO haihai_sync_failures (run, key, email, reason) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (run, key) DO NOTHING",
            [f for f in fails if f[0] in ids.values()],
        )
    (after,) = db.execute("SELECT COUNT(*) FROM haihai_sync_keys").fetchone()
    return int(after) - int(before)


def _renumbered(raw: str | None, new_ids: dict[int, int]) -> str | None:
    """The sync details with their run numbers turned into the copied runs' numbers; None when none changed."""
    if not raw:
        return None
    try:
        sync = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(sync, dict):
        return None
    changed = False
    for key in _RUN_REFS:
        old = sync.get(key)
        if isinstance(old, int) and old in new_ids:
            sync[key], changed = new_ids[old], True
    return json.dumps(sync, ensure_ascii=False) if changed else None
