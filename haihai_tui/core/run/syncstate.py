"""What HaiHai confirmed, per integration and key: the sync state, kept in the run history's SQLite file.

Tables (created on first use, beside ``runs``; any backend with a keyed table can hold the same):

- ``sync_integrations(id, name)`` and ``sync_scopes(id, integ, ident, description, last_run)``: small
  numbers for the integration and the scope (menu + conditions + search + gid/spid), so each key row
  stays short.
- ``sync_keys(integ, key, scope, digest, state, run, reason, email)`` WITHOUT ROWID, one row per
  integration and key (the lower-cased e-mail): the 8-byte digest of the cells HaiHai last confirmed
  (NULL when never confirmed), ``state`` 1 confirmed / 2 refused (失敗, ``reason`` says why), the run
  that set it, the scope that sent it, and the address as sent when it is not all lower case.
- ``sync_failures(run, key, email, reason)`` WITHOUT ROWID: the rows HaiHai reported 失敗 per run, for
  ``run --retry-failed RUN``.

Every call opens its own short connection (WAL, busy timeout), like :class:`History`, so cron runs and
the TUI share the file. Reads for a whole scope are one query; writes are one transaction of
``executemany``, never a statement per row from Python's side of a loop over the database.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from itertools import islice
from operator import itemgetter, methodcaller
from pathlib import Path

from haihai_tui.core.paths import ensure_private_dir
from haihai_tui.core.run.history import BUSY_TIMEOUT_S, HistoryBusy, HistoryError
from haihai_tui.core.settings.model import Database, Menu

CONFIRMED, REFUSED = 1, 2
REFUSED_MARK = b"!"  # load_scope(): a refused key's value starts with it (a digest is exactly 8 bytes)


def is_refused(value: bytes) -> bool:
    """A load_scope() value of a key HaiHai refused (失敗) last time."""
    return len(value) != 8


def was_confirmed(value: bytes) -> bool:
    """A load_scope() value of a key HaiHai confirmed at some time (so it is in the group)."""
    return len(value) == 8 or len(value) == 9


BATCH = 20_000
#: a key's state in one value (see load_scope): the digest, or "!" + the digest confirmed before when refused
_VALUE = "CASE WHEN state = 2 THEN X'21' || COALESCE(digest, X'') ELSE digest END"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sync_integrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS sync_scopes (
    id INTEGER PRIMARY KEY, integ INTEGER NOT NULL, ident TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL, last_run INTEGER
);
CREATE TABLE IF NOT EXISTS sync_keys (
    integ INTEGER NOT NULL, key TEXT NOT NULL, scope INTEGER NOT NULL, digest BLOB,
    state INTEGER NOT NULL, run INTEGER NOT NULL, reason TEXT, email TEXT,
    PRIMARY KEY (integ, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sync_failures (
    run INTEGER NOT NULL, key TEXT NOT NULL, email TEXT, reason TEXT NOT NULL,
    PRIMARY KEY (run, key)
) WITHOUT ROWID;
"""


# -- keys and digests: what the state holds per row -------------------------------------------------

_SEP = "\x1f"
CHUNK = 5000  # rows digested and compared at a time


def key_index(menu: Menu, database: Database) -> int | None:
    """Position of the e-mail column (the first field of type ``email``) among the menu's columns: the key."""
    for i, fid in enumerate(menu.columns):
        f = database.field(fid)
        if f is not None and f.type == "email":
            return i
    return None


def row_key(address: str) -> str:
    """A customer's key: the e-mail address, compared ignoring case."""
    return address.strip().lower()


def row_keys(addresses: Iterable[str]) -> list[str]:
    return list(map(str.lower, map(str.strip, addresses)))


def row_digest(row: Sequence[str]) -> bytes:
    """8 bytes that change when any cell of the row changes (blake2b over the cells as sent)."""
    return hashlib.blake2b(_SEP.join(row).encode("utf-8", "surrogatepass"), digest_size=8).digest()


_B8 = partial(hashlib.blake2b, digest_size=8)
_DIGEST = methodcaller("digest")


def row_digests(chunk: list) -> list[bytes]:
    """row_digest of every row of ``chunk``, at C speed (map), the same bytes as row by row."""
    try:
        return list(map(_DIGEST, map(_B8, map(str.encode, map(_SEP.join, chunk)))))
    except (UnicodeEncodeError, TypeError):  # a lone surrogate, or a cell that is not text
        return [row_digest(tuple("" if c is None else str(c) for c in r)) for r in chunk]


_TABLES = {"sync_integrations", "sync_scopes", "sync_keys", "sync_failures"}


@dataclass(frozen=True)
class KeyState:
    """One key's row: the last result HaiHai gave for it in an integration."""

    key: str
    scope: int
    digest: bytes | None  # the cells last confirmed (None: never confirmed)
    state: int  # CONFIRMED | REFUSED
    run: int
    reason: str = ""
    email: str = ""  # the address as sent ('' when it is ``key``)

    @property
    def address(self) -> str:
        return self.email or self.key


def _chunks(items: Iterable, n: int = BATCH) -> Iterator[list]:
    it = iter(items)
    while chunk := list(islice(it, n)):
        yield chunk


class SyncStore:
    """The sync state in ``path`` (the run history's file)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:  # customer addresses live here: readable by the owner only, as the history it shares
            ensure_private_dir(self.path.parent)
            if not self.path.exists():
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        except OSError as e:
            raise HistoryError(f"{self.path}: cannot create the run history: {e.strerror or e}") from None
        with self._connect() as db:
            have = {n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE name LIKE 'sync_%'")}
            if have >= _TABLES:  # the usual case: a read, no write lock (the record list asks per page)
                return
            db.execute("PRAGMA journal_mode=WAL")  # readers never wait for a run writing its state (as History)
            db.execute("BEGIN IMMEDIATE")
            for statement in filter(str.strip, _SCHEMA.split(";")):
                db.execute(statement)
            db.execute("COMMIT")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as e:
            raise HistoryError(f"{self.path}: cannot open the run history: {e}") from None
        try:
            db.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
            yield db
        except sqlite3.DatabaseError as e:
            if db.in_transaction:
                db.execute("ROLLBACK")
            text = str(e)
            if "locked" in text or "busy" in text:
                raise HistoryBusy(f"{self.path}: busy for over {BUSY_TIMEOUT_S:.0f} s; try again") from None
            raise HistoryError(f"{self.path}: {text}") from None
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    # -- ids -------------------------------------------------------------------------------------

    @staticmethod
    def _integ(db: sqlite3.Connection, name: str, create: bool) -> int | None:
        row = db.execute("SELECT id FROM sync_integrations WHERE name = ?", (name,)).fetchone()
        if row is None and create:
            return int(db.execute("INSERT INTO sync_integrations (name) VALUES (?)", (name,)).lastrowid)
        return None if row is None else int(row[0])

    def scope_id(self, integration: str, ident: str, description: str) -> int:
        """The number of the scope ``ident`` (made on first use)."""
        with self._connect() as db:
            row = db.execute("SELECT id FROM sync_scopes WHERE ident = ?", (ident,)).fetchone()
            if row is not None:
                return int(row[0])
            db.execute("BEGIN IMMEDIATE")
            integ = self._integ(db, integration, True)
            row = db.execute("SELECT id FROM sync_scopes WHERE ident = ?", (ident,)).fetchone()
            sid = (
                int(row[0])
                if row
                else int(
                    db.execute(
                        "INSERT INTO sync_scopes (integ, ident, description) VALUES (?, ?, ?)",
                        (integ, ident, description),
                    ).lastrowid
                )
            )
            db.execute("COMMIT")
            return sid

    def last_run(self, scope_id: int) -> int | None:
        """The newest run that HaiHai confirmed rows of in this scope (the N of "nothing changed since run #N")."""
        with self._connect() as db:
            row = db.execute("SELECT last_run FROM sync_scopes WHERE id = ?", (scope_id,)).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    # -- reading ---------------------------------------------------------------------------------

    def load_scope(self, integration: str, scope_id: int) -> dict[str, bytes]:
        """key -> state for every key this scope sent last, in one query, compact for a million keys: the
        8-byte confirmed digest, or for a key HaiHai refused ``REFUSED_MARK`` followed by the digest it
        had confirmed before (if any). See :func:`is_refused` and :func:`was_confirmed`."""
        with self._connect() as db:
            integ = self._integ(db, integration, False)
            if integ is None:
                return {}
            cur = db.execute(f"SELECT key, {_VALUE} FROM sync_keys WHERE integ = ? AND scope = ?", (integ, scope_id))
            return dict(cur.fetchall())

    def confirmed_digest_set(self, integration: str) -> set[bytes]:
        """The digests of every confirmed key of ``integration`` (any scope): one query."""
        with self._connect() as db:
            integ = self._integ(db, integration, False)
            if integ is None:
                return set()
            cur = db.execute("SELECT digest FROM sync_keys WHERE integ = ? AND state = 1", (integ,))
            return set(map(itemgetter(0), cur))

    def scope_digests(self, integration: str, scope_id: int) -> set[bytes]:
        """The digests HaiHai confirmed in a scope (a row whose digest is among them is unchanged): one query."""
        with self._connect() as db:
            integ = self._integ(db, integration, False)
            if integ is None:
                return set()
            cur = db.execute(
                "SELECT digest FROM sync_keys WHERE integ = ? AND scope = ? AND state = 1", (integ, scope_id)
            )
            return set(map(itemgetter(0), cur))

    def scope_has_keys(self, integration: str, scope_id: int) -> bool:
        with self._connect() as db:
            integ = self._integ(db, integration, False)
            return (
                integ is not None
                and db.execute(
                    "SELECT 1 FROM sync_keys WHERE integ = ? AND scope = ? LIMIT 1", (integ, scope_id)
                ).fetchone()
                is not None
            )

    def scope_lookup(self, integration: str, scope_id: int, keys: Sequence[str]) -> dict[str, bytes]:
        """key -> value as :meth:`load_scope` gives it, for ``keys`` sent last by this scope."""
        out: dict[str, bytes] = {}
        with self._connect() as db:
            integ = self._integ(db, integration, False)
            if integ is None:
                return out
            for chunk in _chunks(dict.fromkeys(keys), 500):
                marks = ",".join("?" * len(chunk))
                out.update(
                    db.execute(
                        f"SELECT key, {_VALUE} FROM sync_keys WHERE integ = ? AND scope = ? AND key IN ({marks})",
                        (integ, scope_id, *chunk),
                    ).fetchall()
                )
        return out

    def scope_keys(self, integration: str, scope_id: int) -> set[str]:
        """The keys HaiHai confirmed at some time in this scope (those a mirror run may remove)."""
        with self._connect() as db:
            integ = self._integ(db, integration, False)
            if integ is None:
                return set()
            cur = db.execute(
                "SELECT key FROM sync_keys WHERE integ = ? AND scope = ? AND digest IS NOT NULL", (integ, scope_id)
            )
            return set(map(itemgetter(0), cur))

    def lookup(self, integration: str, keys: Sequence[str]) -> dict[str, KeyState]:
        """The rows of ``keys`` (lower-cased addresses) in ``integration``; absent keys are left out."""
        out: dict[str, KeyState] = {}
        with self._connect() as db:
            integ = self._integ(db, integration, False)
            if integ is None:
                return out
            for chunk in _chunks(dict.fromkeys(keys), 500):
                marks = ",".join("?" * len(chunk))
                for row in db.execute(
                    f"SELECT key, scope, digest, state, run, reason, email FROM sync_keys "
                    f"WHERE integ = ? AND key IN ({marks})",
                    (integ, *chunk),
                ):
                    out[row[0]] = KeyState(row[0], row[1], row[2], row[3], row[4], row[5] or "", row[6] or "")
        return out

    def keys_with_state(self, integration: str, state: int) -> set[str]:
        """Every key of ``integration`` whose last result was ``state`` (e.g. REFUSED: 失敗 last time)."""
        with self._connect() as db:
            integ = self._integ(db, integration, False)
            if integ is None:
                return set()
            return {k for (k,) in db.execute("SELECT key FROM sync_keys WHERE integ = ? AND state = ?", (integ, state))}

    def failures(self, run_id: int) -> list[tuple[str, str, str]]:
        """(key, address as sent, reason) of every row HaiHai reported 失敗 in run ``run_id``."""
        with self._connect() as db:
            rows = db.execute("SELECT key, email, reason FROM sync_failures WHERE run = ? ORDER BY key", (run_id,))
            return [(k, e or k, r) for k, e, r in rows]

    def addresses(self, integration: str, keys: Sequence[str]) -> list[str]:
        """The addresses as last sent for ``keys`` (for a removal request), in the order given."""
        found = self.lookup(integration, keys)
        return [found[k].address if k in found else k for k in keys]

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
        """Write what HaiHai confirmed of a finished 完了 run.

        ``sent`` is (key, digest, address) per row sent; ``refused`` is key -> reason for the rows
        HaiHai reported 失敗 (every other sent row is confirmed). A removal confirmed drops the key.
        One short transaction per BATCH rows, so other processes' history writes (a run starting) never
        wait long; each row stands on its own (HaiHai confirmed it), so a crash between batches leaves
        only rows that are sent again next time. Returns (confirmed, refused) counts."""
        ok = bad = 0
        with self._connect() as db:
            db.execute("PRAGMA synchronous=NORMAL")  # a power cut may lose the last batch: sent again next time
            db.execute("BEGIN IMMEDIATE")
            integ = self._integ(db, integration, True)
            db.execute("COMMIT")
            # a refused update keeps the cells confirmed before (the customer is still in the group); a refused
            # removal keeps none, so it is not asked again every night (HaiHai's reason stays on the key)
            digest_kept = "NULL" if removal else "CASE WHEN scope = excluded.scope THEN digest ELSE NULL END"
            for chunk in _chunks(sorted(sent, key=itemgetter(0))):  # in key order: B-tree appends, not scatter
                db.execute("BEGIN IMMEDIATE")
                good = [(k, d, a) for k, d, a in chunk if k not in refused]
                fail = [(k, a, refused[k]) for k, _d, a in chunk if k in refused]
                if removal:
                    gone = [(integ, k) for k, _, _ in good]
                    db.executemany("DELETE FROM sync_keys WHERE integ = ? AND key = ?", gone)
                else:
                    db.executemany(
                        "INSERT INTO sync_keys (integ, key, scope, digest, state, run, reason, email) "
                        "VALUES (?, ?, ?, ?, 1, ?, NULL, ?) ON CONFLICT (integ, key) DO UPDATE SET "
                        "scope = excluded.scope, digest = excluded.digest, state = 1, run = excluded.run, "
                        "reason = NULL, email = excluded.email",
                        [(integ, k, scope_id, d, run_id, None if a == k else a) for k, d, a in good],
                    )
                db.executemany(
                    "INSERT INTO sync_keys (integ, key, scope, digest, state, run, reason, email) "
                    "VALUES (?, ?, ?, NULL, 2, ?, ?, ?) ON CONFLICT (integ, key) DO UPDATE SET "
                    f"digest = {digest_kept}, "
                    "scope = excluded.scope, state = 2, run = excluded.run, reason = excluded.reason, "
                    "email = excluded.email",
                    [(integ, k, scope_id, run_id, r, None if a == k else a) for k, a, r in fail],
                )
                db.executemany(
                    "INSERT OR REPLACE INTO sync_failures (run, key, email, reason) VALUES (?, ?, ?, ?)",
                    [(run_id, k, None if a == k else a, r) for k, a, r in fail],
                )
                db.execute("COMMIT")
                ok, bad = ok + len(good), bad + len(fail)
            if ok and not removal:
                db.execute("UPDATE sync_scopes SET last_run = ? WHERE id = ?", (run_id, scope_id))
        return ok, bad
