"""The record database: one SQLite file per database, filtered, sorted and paged for the record list.

Threads: a store holds ONE connection, opened with ``check_same_thread=False``, and every use of it
happens under the store's lock (an ``RLock``). So one store may be shared by the UI thread and any
number of worker threads; calls simply take turns. A long call (an import, the first sort on a field,
building the row anchors of a new query) makes the others wait, and they then see all of the import or
none of it. ``iter_rows`` takes the lock once per batch, so an export does not shut others out. SQLite
releases the GIL while it works, so a worker busy in here does not freeze the UI thread.

Other processes may write the same file (``haihai-tui db import`` while the TUI is open): WAL mode
lets them, and ``PRAGMA data_version`` tells this store to drop its cached counts and anchors.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Container, Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import islice
from operator import itemgetter
from pathlib import Path

from haihai_tui.core.paths import ensure_private_dir
from haihai_tui.core.records.importer import BATCH, ImportResult, ProgressFn, import_file
from haihai_tui.core.records.paging import Cursor, Page, page_of, seek
from haihai_tui.core.records.query import Query
from haihai_tui.core.settings.model import Database
from haihai_tui.core.text import one_line

__all__ = [
    "ANCHOR_EVERY",
    "DatabaseIdError",
    "QueryPlan",
    "RecordFileError",
    "RecordQueryError",
    "RecordStore",
    "check_database_id",
    "check_fields",
    "column",
]

TABLE = "records"
ANCHOR_EVERY = 1000  # K: one anchor (sort key, rowid) every K rows of a query's order
_CACHED_QUERIES = 16


def column(field_id: str) -> str:
    """The quoted SQL column of a field (prefixed, so no field id can clash with ``rid`` or SQL words)."""
    return '"f_' + field_id.replace('"', '""') + '"'


class RecordQueryError(ValueError):
    """A query or column list names a field the database does not have."""


class RecordFileError(ValueError):
    """The record database file cannot be opened as one (damaged, not SQLite, locked for good)."""


class DatabaseIdError(ValueError):
    """A database id that cannot name a file in the records folder (``../x``, ``/abs``, NUL ...)."""


ID_MAX = 200  # bytes in UTF-8: with ".sqlite3" well within a file name's 255


def check_database_id(name: str) -> str:
    """``name`` if it is a plain file name that stays in the records folder; else DatabaseIdError saying why.

    Refused: empty, longer than ID_MAX bytes, starting with '.' ('..', hidden files), holding '/', '\\', ':' or
    any control character (NUL included). Letters of any script, digits, '-', '_' and inner dots are fine.
    """
    why = None
    if not isinstance(name, str) or not name.strip():
        why = "it is empty"
    elif len(name.encode("utf-8", "surrogatepass")) > ID_MAX:
        why = f"it is longer than {ID_MAX} bytes"
    elif name.startswith("."):
        why = "it starts with '.' (a path like '..' or a hidden file)"
    elif any(ch in "/\\:" for ch in name):
        why = "it holds a path separator ('/', '\\' or ':')"
    elif not name.isprintable() or name != name.strip():
        why = "it holds a control character, a line break, a space other than ' ', or spaces around it"
    if why is None and os.path.basename(os.path.normpath(name)) != name:  # belt and braces
        why = "it is not a plain file name"
    if why:
        raise DatabaseIdError(
            f"database id '{one_line(name)}' cannot be used as a file name in the records "
            f"folder: {why}; in db.toml use an id of letters, digits, '-' and '_' (e.g. "
            f'"customers")'
        )
    return name


class QueryPlan:
    """The SQL of one query: WHERE, ORDER BY and how to seek past a cursor in that order."""

    def __init__(self, q: Query, database: Database):
        known = {f.id for f in database.fields}
        names = [c.field_id for c in q.conditions] + list(q.search_fields) + [q.sort_field or ""]
        check_fields([n for n in names if n], known, database)
        parts, self.params = [], []
        for c in q.conditions:
            if c.op == "=":
                parts.append(f"{column(c.field_id)} = ?")
                self.params.append(c.value)
            else:
                parts.append(f"{column(c.field_id)} LIKE ? ESCAPE '\\'")
                self.params.append(_like(c.value))
        text = q.search.strip()
        if text:
            fields = q.search_fields or tuple(f.id for f in database.fields)
            parts.append("(" + " OR ".join(f"{column(f)} LIKE ? ESCAPE '\\'" for f in fields) + ")")
            self.params += [_like(text)] * len(fields)
        self.where = " AND ".join(parts) or "1"
        self.key = column(q.sort_field) if q.sort_field else None
        self.desc = q.descending
        if self.key:  # ties always in import order (a stable sort, as in a spreadsheet)
            self.order = f"{self.key} DESC, rid" if self.desc else f"{self.key}, rid"
        else:
            self.order = "rid DESC" if self.desc else "rid"

    def parts(self, at: Cursor, inclusive: bool) -> list[tuple[str, list, str]]:
        """The rows after ``at`` (or from ``at`` on) as (WHERE, params, ORDER BY) pieces, read in turn.

        With a sort key these are two exact index seeks: the rest of ``at``'s tie group
        (``key = ? AND rid > ?``), then the keys beyond it. One ``key >= ? AND (key > ? OR rid > ?)``
        would scan the whole tie group up to ``at`` (70 ms in a 900,000-row group).
        """
        eq = "=" if inclusive else ""
        if self.key is None:
            return [(f"({self.where}) AND rid {'<' if self.desc else '>'}{eq} ?", self.params + [at.rowid], self.order)]
        return [
            (f"({self.where}) AND {self.key} = ? AND rid >{eq} ?", self.params + [at.key, at.rowid], "rid"),
            (f"({self.where}) AND {self.key} {'<' if self.desc else '>'} ?", self.params + [at.key], self.order),
        ]

    def after(self, a: tuple, b: tuple) -> bool:
        """True if row ``a`` = (key, rowid) comes strictly after row ``b`` in this order."""
        if self.key is None:
            return a[1] < b[1] if self.desc else a[1] > b[1]
        if a[0] != b[0]:
            return a[0] < b[0] if self.desc else a[0] > b[0]
        return a[1] > b[1]


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def check_fields(names: Iterable[str], known: Container[str], database: Database) -> None:
    for n in names:
        if n not in known:
            listing = ", ".join(f"{f.id} ({f.label})" for f in database.fields)
            raise RecordQueryError(f"no field {n!r} in {database.name}; fields are: {listing}")


class RecordStore:
    """The records of one database, in ``<data>/records/<db id>.sqlite3``. See the module doc on threads."""

    def __init__(self, path: Path, database: Database):
        self.path = Path(path)
        self.database = database
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._anchors: OrderedDict[Query, list[tuple]] = OrderedDict()
        self._counts: dict[Query, int] = {}
        self._indexes: set[str] = set()
        with self._lock:
            try:
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=NORMAL")
                self._ensure_table()
                self._version = self._data_version()
            except sqlite3.DatabaseError as e:
                self._conn.close()
                raise RecordFileError(
                    f"the record database {self.path} cannot be used: {e}; if it is damaged, "
                    f"move it aside and load the records again (haihai-tui db import)"
                ) from None

    @classmethod
    def open(cls, records_dir: Path, database: Database) -> RecordStore:
        """Open (creating the folder, file and table as needed) the store of ``database``.

        Raises DatabaseIdError, before touching the disk, for an id that is not a plain file name inside
        ``records_dir`` (the settings check says so too; this is the store's own guard).
        """
        records_dir = Path(records_dir)
        path = records_dir / f"{check_database_id(database.id)}.sqlite3"
        ensure_private_dir(records_dir)
        if not path.exists():  # customer data: readable by its owner only, whatever the umask
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        return cls(path, database)

    def close(self) -> None:
        """Close the connection (again is fine); later calls raise sqlite3.ProgrammingError."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> RecordStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- writing ---------------------------------------------------------------------------------

    def import_csv(
        self,
        file: Path,
        *,
        replace: bool = False,
        on_progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
        batch: int | None = None,
    ) -> ImportResult:
        """Load a CSV (UTF-8 with or without BOM, else Windows-31J) in one transaction; see importer.py.

        ``replace`` empties the table first, in the same transaction. ``on_progress(rows, bytes, size)``
        is called after every batch. Raises RecordImportError (``line N: ...``), or ImportCancelled once
        ``cancel`` is set; then nothing is stored.
        """
        with self._lock:
            self._conn.execute("PRAGMA cache_size=-65536")  # 64 MiB while importing: fewer spills
            try:
                return import_file(
                    self._conn,
                    TABLE,
                    column,
                    Path(file),
                    self.database,
                    replace=replace,
                    on_progress=on_progress,
                    cancel=cancel,
                    batch=batch,
                )
            finally:
                self._conn.execute("PRAGMA cache_size=-2000")
                self._changed()

    def insert_rows(self, rows: Iterable[Sequence[str]], field_ids: Sequence[str]) -> int:
        """Append rows (cells in ``field_ids`` order) in one transaction; returns how many."""
        check_fields(field_ids, {f.id for f in self.database.fields}, self.database)
        sql = f"INSERT INTO {TABLE} ({', '.join(map(column, field_ids))}) VALUES ({', '.join('?' * len(field_ids))})"
        it, n = iter(rows), 0
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                while batch := list(islice(it, BATCH)):
                    self._conn.executemany(sql, batch)
                    n += len(batch)
                self._conn.execute("COMMIT")
            except sqlite3.ProgrammingError as e:
                self._rollback()
                raise ValueError(f"row {n + 1}..{n + BATCH}: {e}") from None
            except BaseException:
                self._rollback()
                raise
            finally:
                self._changed()
        return n

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[sqlite3.Connection]:
        """The connection, under the store's lock, inside one transaction (``BEGIN IMMEDIATE`` to write,
        ``BEGIN`` to read): committed at the end, rolled back on any error. For core/records/editing.py."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
            finally:
                if write:
                    self._changed()

    # --- reading ---------------------------------------------------------------------------------

    def count(self, q: Query = Query()) -> int:
        """How many records match ``q`` (cached until the next write)."""
        with self._lock:
            self._fresh()
            n = self._counts.get(q)
            if n is None:
                plan = QueryPlan(q, self.database)
                n = self._counts[q] = self._conn.execute(
                    f"SELECT count(*) FROM {TABLE} WHERE {plan.where}", plan.params
                ).fetchone()[0]
            return n

    def page(self, q: Query, columns: Sequence[str], *, after: Cursor | None = None, limit: int = 100) -> Page:
        """Up to ``limit`` rows after ``after`` (keyset paging, never OFFSET).

        Sorting by a field creates an index on it the first time (a few seconds per million records,
        once per file); later sorts on that field seek straight to the page.
        """
        plan, cols = QueryPlan(q, self.database), self._columns(columns)
        select = f"{cols}{plan.key or 'NULL'}, rid"
        with self._lock:
            self._ensure_index(q)
            if after is None:
                raw = self._conn.execute(
                    f"SELECT {select} FROM {TABLE} WHERE {plan.where} ORDER BY {plan.order} LIMIT ?",
                    plan.params + [limit + 1],
                ).fetchall()
            else:
                raw = self._seek(plan, select, after, False, 0, limit + 1)
        return page_of(raw, limit, len(columns))

    def rows_at(
        self, q: Query, columns: Sequence[str], start: int, count: int, *, with_rowid: bool = False
    ) -> list[tuple]:
        """Rows ``start .. start+count-1`` (0-based) of the result, for a virtual list view.

        Seeks from the nearest anchor (every ``ANCHOR_EVERY`` rows, built by one index-only scan the
        first time a query is seen, cached per query, dropped on any write), so row 900,000 of a
        million costs about the same as row 0. ``with_rowid``: each row ends with its record id.
        """
        if start < 0 or count < 0:
            raise ValueError("rows_at: start and count must not be negative")
        plan, cols = QueryPlan(q, self.database), self._columns(columns)
        with self._lock:
            anchors = self._anchors_for(q, plan)
            a, skip = divmod(start, ANCHOR_EVERY)
            if a >= len(anchors) or count == 0:
                return []
            raw = self._seek(plan, cols + "rid", Cursor(*anchors[a]), True, skip, count)
        return list(map(itemgetter(slice(0, len(columns) + with_rowid)), raw))

    def row_index_of(self, q: Query, rowid: int) -> int | None:
        """The 0-based position of record ``rowid`` in the result of ``q``; None if it is not in it."""
        plan = QueryPlan(q, self.database)
        with self._lock:
            hit = self._conn.execute(
                f"SELECT {plan.key or 'NULL'} FROM {TABLE} WHERE rid = ? AND ({plan.where})", [rowid] + plan.params
            ).fetchone()
            if hit is None:
                return None
            target = (hit[0], rowid)
            anchors = self._anchors_for(q, plan)
            lo, hi = 0, len(anchors)
            while lo < hi:  # first anchor after the target
                mid = (lo + hi) // 2
                if plan.after(anchors[mid], target):
                    hi = mid
                else:
                    lo = mid + 1
            a = max(lo - 1, 0)
            rids = [r[0] for r in self._seek(plan, "rid", Cursor(*anchors[a]), True, 0, ANCHOR_EVERY)]
        return a * ANCHOR_EVERY + rids.index(rowid) if rowid in rids else None

    def iter_rows(self, q: Query, columns: Sequence[str], *, batch: int = 5000) -> Iterator[tuple[str, ...]]:
        """Every row of the result, in order, fetched ``batch`` rows at a time (keyset); for exports."""
        after = None
        while True:
            page = self.page(q, columns, after=after, limit=batch)
            yield from page.rows
            if page.next is None:
                return
            after = page.next

    # --- internals -------------------------------------------------------------------------------

    def _ensure_table(self) -> None:
        cols = "".join(f", {column(f.id)} TEXT NOT NULL DEFAULT ''" for f in self.database.fields)
        self._conn.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (rid INTEGER PRIMARY KEY{cols})")
        have = {r[1] for r in self._conn.execute(f"PRAGMA table_info({TABLE})")}
        for f in self.database.fields:  # a field added to db.toml since the file was made
            if f"f_{f.id}" not in have:
                self._conn.execute(f"ALTER TABLE {TABLE} ADD COLUMN {column(f.id)} TEXT NOT NULL DEFAULT ''")

    def _columns(self, columns: Sequence[str]) -> str:
        """``"f_a", "f_b", `` (with the trailing comma, ready to prepend to more SELECT terms)."""
        check_fields(columns, {f.id for f in self.database.fields}, self.database)
        return "".join(f"{column(c)}, " for c in columns)

    def _ensure_index(self, q: Query) -> None:
        """Create the index a sort needs, the first time it is asked for (caller holds the lock)."""
        if not q.sort_field:
            return
        name = f'"ix_{q.sort_field.replace(chr(34), chr(34) * 2)}{"_desc" if q.descending else ""}"'
        if name not in self._indexes:
            self._conn.execute(
                f"CREATE INDEX IF NOT EXISTS {name} ON {TABLE} "
                f"({column(q.sort_field)}{' DESC' if q.descending else ''})"
            )
            self._indexes.add(name)

    def _anchors_for(self, q: Query, plan: QueryPlan) -> list[tuple]:
        """(key, rowid) of rows 0, K, 2K, ... of ``q``'s order (caller holds the lock)."""
        self._fresh()
        hit = self._anchors.get(q)
        if hit is not None:
            self._anchors.move_to_end(q)
            return hit
        self._ensure_index(q)
        cur = self._conn.execute(
            f"SELECT {plan.key or 'NULL'}, rid FROM {TABLE} WHERE {plan.where} ORDER BY {plan.order}", plan.params
        )
        anchors = self._anchors[q] = list(islice(cur, 0, None, ANCHOR_EVERY))  # skipping in C
        while len(self._anchors) > _CACHED_QUERIES:
            self._anchors.popitem(last=False)
        return anchors

    def _seek(self, plan: QueryPlan, select: str, at: Cursor, inclusive: bool, skip: int, count: int) -> list[tuple]:
        """``count`` rows after ``skip`` rows, from ``at`` on (or after it), in the query's order."""
        return seek(self._conn.execute, TABLE, plan.parts(at, inclusive), select, skip, count, "?")

    def _data_version(self) -> int:
        return self._conn.execute("PRAGMA data_version").fetchone()[0]

    def _fresh(self) -> None:
        """Drop cached counts and anchors if another connection has written since (caller holds the lock)."""
        v = self._data_version()
        if v != self._version:
            self._version = v
            self._changed()

    def _changed(self) -> None:
        self._anchors.clear()
        self._counts.clear()

    def _rollback(self) -> None:
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")
