"""engine = "postgresql": a database's records read from someone else's table or view, with the query API of
the SQLite ``RecordStore`` (count, keyset pages, random access, search, conditions, sort, streaming rows).

Same query, same result as in SQLite: ``=`` compares exactly, ``~`` (contains) ignores the case of ASCII
letters only (``ILIKE`` under ``COLLATE "C"``), sorting compares code points (``COLLATE "C"``; ties in key
order), every value is shown as text (a number or a date column is cast with ``::text``). Two differences,
both only where SQLite cannot have them: an empty (NULL) cell sorts after every value ascending, and before
them descending (PostgreSQL's order, so a plain index serves it); and in a database not encoded in UTF-8 the
"C" order is that encoding's byte order.

The table is only read: the session is ``READ ONLY`` and the writing methods raise ``ReadOnlyRecords``.
Rows are identified by ``key`` (db.toml) or the table's one-column primary key. A page is one keyset query,
a row deep in the list is reached from the nearest of the anchors that one server-side ``row_number()``
pass computes (every ``ANCHOR_EVERY`` rows), and ``iter_rows`` streams through a server-side (named) cursor,
so no result set is ever loaded; ``csv_lines`` streams the same way each row's CSV line as the server writes it
(the run's export: core/checks/csvlines.py). Counts and anchors are cached for ``CACHE_SECONDS`` (another program may
change the table at any time).

Threads: one connection under an ``RLock``, as the SQLite store. Errors of the driver become
``RecordSourceError`` with the host and the driver's reason; the connection string and its password never
appear in a message (``scrub``).
"""

from __future__ import annotations

import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from operator import itemgetter

import psycopg
from psycopg import conninfo

from haihai_tui.core.records.errors import ReadOnlyRecords, RecordSourceError
from haihai_tui.core.records.paging import Cursor, Page, page_of, seek
from haihai_tui.core.records.query import Query
from haihai_tui.core.records.store import check_fields
from haihai_tui.core.secret import MASK, Secret
from haihai_tui.core.settings.model import Database
from haihai_tui.core.text import one_line

__all__ = ["CONNECT_TIMEOUT", "PgRecordStore", "describe_host", "ident", "pg_connect", "scrub"]

CONNECT_TIMEOUT = 5  # seconds: the TUI and `check` say "unreachable" quickly instead of hanging
CACHE_SECONDS = 30.0
ANCHOR_EVERY = 250  # one anchor every K rows: the server sends 4,000 for a million, a deep row skips < 250
BIG_TABLE = 100_000  # estimated rows above which a sort without an index is called slow (list, check)
_CACHED_QUERIES = 16
#: types compared and sorted as they are; any other column is cast with ::text
TEXT_TYPES = frozenset({"text", "character varying"})


def ident(name: str) -> str:
    """A quoted SQL identifier (``"a""b"``)."""
    return '"' + name.replace('"', '""') + '"'


def table_sql(table: str) -> str:
    """``schema.name`` or ``name`` as quoted SQL."""
    return ".".join(ident(p) for p in table.split("."))


def _dsn_parts(dsn: Secret, what: str) -> dict[str, str]:
    try:
        return conninfo.conninfo_to_dict(dsn.reveal())
    except psycopg.Error:
        raise RecordSourceError(
            f"{what}: the dsn is not a PostgreSQL connection string; write it as "
            f"postgresql://USER@HOST:5432/DBNAME (password in secrets.toml or ~/.pgpass) or host=... dbname=..."
        ) from None


def describe_host(parts: dict[str, str]) -> str:
    """``host:port/dbname`` of a parsed DSN (a socket folder for a local server); never the user or password."""
    host = parts.get("host") or parts.get("hostaddr") or "local socket"
    port = parts.get("port") or "5432"
    return one_line(f"{host}:{port}/{parts.get('dbname') or '(default database)'}")


def scrub(text: str, dsn: Secret) -> str:
    """``text`` on one terminal-safe line with the DSN and its password masked wherever they appear."""
    raw = dsn.reveal()
    for secret in sorted({raw, _password(raw)} - {""}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return one_line(" ".join(text.split()))


def _password(raw: str) -> str:
    try:
        return conninfo.conninfo_to_dict(raw).get("password") or ""
    except psycopg.Error:
        return ""


def pg_connect(dsn: Secret, what: str, timeout: float = CONNECT_TIMEOUT) -> tuple[psycopg.Connection, str]:
    """A read-only, autocommit connection and the host's description; RecordSourceError if it cannot be had."""
    host = describe_host(_dsn_parts(dsn, what))
    try:
        conn = psycopg.connect(
            dsn.reveal(), connect_timeout=max(1, int(timeout)), autocommit=True, application_name="haihai-tui"
        )
        conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    except psycopg.Error as e:
        raise RecordSourceError(
            f"{what}: cannot connect to PostgreSQL at {host}: {scrub(str(e), dsn)}; check that the server runs, "
            "the dsn and the password (haihai-tui check tries again)"
        ) from None
    return conn, host


@dataclass
class _Plan:
    """The SQL of one query: WHERE with its params, the sort expression, ORDER BY, and the keyset parts."""

    where: str
    params: list
    sort: str | None  # the sort expression (COLLATE "C"), None = key order
    key: str
    desc: bool

    @property
    def order(self) -> str:
        if self.sort is None:
            return f"{self.key} DESC" if self.desc else self.key
        return f"{self.sort} DESC, {self.key}" if self.desc else f"{self.sort}, {self.key}"

    def parts(self, at: Cursor, inclusive: bool) -> list[tuple[str, list, str]]:
        """The rows after ``at`` (or from it on) as (WHERE, params, ORDER BY) pieces, read in turn."""
        w, p, k, s, eq = f"({self.where})", self.params, self.key, self.sort, "=" if inclusive else ""
        if s is None:
            return [(f"{w} AND {k} {'<' if self.desc else '>'}{eq} %s", p + [at.rowid], self.order)]
        if at.key is None:  # in the empty cells' group: last ascending, first descending
            tail = [(f"{w} AND {s} IS NOT NULL", p, f"{s} DESC, {k}")] if self.desc else []
            return [(f"{w} AND {s} IS NULL AND {k} >{eq} %s", p + [at.rowid], k)] + tail
        ties = (f"{w} AND {s} = %s AND {k} >{eq} %s", p + [at.key, at.rowid], k)
        if self.desc:
            return [ties, (f"{w} AND {s} < %s", p + [at.key], f"{s} DESC, {k}")]
        return [ties, (f"{w} AND {s} > %s", p + [at.key], f"{s}, {k}"), (f"{w} AND {s} IS NULL", p, k)]

    def before(self, key_value, rowid) -> tuple[str, list]:
        """WHERE of the rows that come before the row (key_value, rowid) in this order."""
        w, p, k, s = f"({self.where})", self.params, self.key, self.sort
        if s is None:
            return f"{w} AND {k} {'>' if self.desc else '<'} %s", p + [rowid]
        if key_value is None:
            if self.desc:
                return f"{w} AND {s} IS NULL AND {k} < %s", p + [rowid]
            return f"{w} AND ({s} IS NOT NULL OR {k} < %s)", p + [rowid]
        beyond = f"{s} IS NULL OR {s} > %s" if self.desc else f"{s} < %s"
        return f"{w} AND ({beyond} OR ({s} = %s AND {k} < %s))", p + [key_value, key_value, rowid]


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class PgRecordStore:
    """The records of one ``engine = "postgresql"`` database. See the module doc."""

    read_only = True

    def __init__(self, database: Database, dsn: Secret, *, connect_timeout: float = CONNECT_TIMEOUT):
        self.database = database
        self._dsn = dsn
        self._what = f"database {one_line(database.id)!r}"
        self._lock = threading.RLock()
        self._conn, self.host = pg_connect(dsn, self._what, connect_timeout)
        self.table = table_sql(database.table)
        self._counts: dict[Query, tuple[float, int]] = {}
        self._anchors: OrderedDict[Query, tuple[float, list[tuple]]] = OrderedDict()
        try:
            self._exprs, self.key = self._introspect()
        except BaseException:
            self._conn.close()
            raise

    # --- the table -------------------------------------------------------------------------------

    def _introspect(self) -> tuple[dict[str, str], str]:
        """(field id -> text expression, quoted key column); RecordSourceError naming what is missing."""
        d = self.database
        with self._guard():
            oid = self._conn.execute("SELECT to_regclass(%s)::oid", [self.table]).fetchone()[0]
            if oid is None:
                raise RecordSourceError(
                    f"{self._what}: there is no table or view {one_line(d.table)} at {self.host} (or this login may "
                    "not see it); correct table in db.toml or grant access (haihai-tui check lists the details)"
                )
            types = dict(
                self._conn.execute(
                    "SELECT attname, format_type(atttypid, NULL) FROM pg_attribute "
                    "WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped",
                    [oid],
                ).fetchall()
            )
            est = self._conn.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s", [oid]).fetchone()[0]
            indexed = sortable_columns(self._conn, oid) if est > BIG_TABLE else set(types)
            #: field ids whose sort reads the whole (big) table: the record list says so
            self.slow_sorts = {f.id for f in d.fields if f.source_column not in indexed}
            pk = [
                r[0]
                for r in self._conn.execute(
                    "SELECT a.attname FROM pg_index i JOIN pg_attribute a "
                    "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s AND i.indisprimary",
                    [oid],
                )
            ]
        missing = [f"{f.source_column} (field {f.id})" for f in d.fields if f.source_column not in types]
        if missing:
            raise RecordSourceError(
                f"{self._what}: {one_line(d.table)} at {self.host} has no column {one_line(', '.join(missing))}; "
                'set column = "..." on the field in db.toml (haihai-tui check lists the details)'
            )
        key = d.key or (pk[0] if len(pk) == 1 else "")
        if not key or key not in types:
            raise RecordSourceError(
                f"{self._what}: {one_line(d.table)} has "
                + (f"no column {one_line(key)!r} for key" if key else "no one-column primary key")
                + '; set key = "COLUMN" in db.toml to a column that is unique and never empty (e.g. the customer id)'
            )
        exprs = {}
        for f in d.fields:
            col = ident(f.source_column)
            exprs[f.id] = col if types[f.source_column] in TEXT_TYPES else f"{col}::text"
        return exprs, ident(key)

    def _guard(self):
        return _Guard(self)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> PgRecordStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- writing: never ----------------------------------------------------------------------------

    def _refuse(self, *_a, **_k):
        raise ReadOnlyRecords(
            f"{self._what} is read from PostgreSQL ({one_line(self.database.table)} at {self.host}); this tool "
            "never writes there: change the records in the system that owns that table"
        )

    import_csv = insert_rows = _refuse

    # --- reading -----------------------------------------------------------------------------------

    def plan(self, q: Query) -> _Plan:
        known = self._exprs
        names = [c.field_id for c in q.conditions] + list(q.search_fields) + [q.sort_field or ""]
        self._check([n for n in names if n])
        parts, params = [], []
        for c in q.conditions:
            if c.op == "=":
                parts.append(f'{known[c.field_id]} COLLATE "C" = %s')
                params.append(c.value)
            else:
                parts.append(f"{known[c.field_id]} COLLATE \"C\" ILIKE %s ESCAPE '\\'")
                params.append(_like(c.value))
        text = q.search.strip()
        if text:
            fields = q.search_fields or tuple(known)
            parts.append("(" + " OR ".join(f"{known[f]} COLLATE \"C\" ILIKE %s ESCAPE '\\'" for f in fields) + ")")
            params += [_like(text)] * len(fields)
        sort = f'{known[q.sort_field]} COLLATE "C"' if q.sort_field else None
        return _Plan(" AND ".join(parts) or "TRUE", params, sort, self.key, q.descending)

    def count(self, q: Query = Query()) -> int:
        with self._lock:
            hit = self._counts.get(q)
            if hit and time.monotonic() - hit[0] < CACHE_SECONDS:
                return hit[1]
            plan = self.plan(q)
            with self._guard():
                n = self._conn.execute(f"SELECT count(*) FROM {self.table} WHERE {plan.where}", plan.params).fetchone()[
                    0
                ]
            self._counts[q] = (time.monotonic(), n)
            return n

    def page(self, q: Query, columns: Sequence[str], *, after: Cursor | None = None, limit: int = 100) -> Page:
        plan, cols = self.plan(q), self._columns(columns)
        select = f"{cols}{plan.sort or 'NULL'}, {plan.key}"
        with self._lock, self._guard():
            if after is None:
                raw = self._conn.execute(
                    f"SELECT {select} FROM {self.table} WHERE {plan.where} ORDER BY {plan.order} LIMIT %s",
                    plan.params + [limit + 1],
                ).fetchall()
            else:
                raw = self._seek(plan, select, after, False, 0, limit + 1)
        return page_of(raw, limit, len(columns))

    def rows_at(
        self, q: Query, columns: Sequence[str], start: int, count: int, *, with_rowid: bool = False
    ) -> list[tuple]:
        if start < 0 or count < 0:
            raise ValueError("rows_at: start and count must not be negative")
        plan, cols = self.plan(q), self._columns(columns)
        with self._lock, self._guard():
            anchors = self._anchors_for(q, plan)
            a, skip = divmod(start, ANCHOR_EVERY)
            if a >= len(anchors) or count == 0:
                return []
            raw = self._seek(plan, cols + plan.key, Cursor(*anchors[a]), True, skip, count)
        return list(map(itemgetter(slice(0, len(columns) + with_rowid)), raw))

    def row_index_of(self, q: Query, rowid) -> int | None:
        plan = self.plan(q)
        with self._lock, self._guard():
            hit = self._conn.execute(
                f"SELECT {plan.sort or 'NULL'} FROM {self.table} WHERE {plan.key} = %s AND ({plan.where})",
                [rowid] + plan.params,
            ).fetchone()
            if hit is None:
                return None
            where, params = plan.before(hit[0], rowid)
            return self._conn.execute(f"SELECT count(*) FROM {self.table} WHERE {where}", params).fetchone()[0]

    def iter_rows(self, q: Query, columns: Sequence[str], *, batch: int = 5000) -> Iterator[tuple[str, ...]]:
        """Every row of the result, in order, through a server-side (named) cursor, ``batch`` rows per FETCH.

        The next batch is fetched by a helper thread while the caller works on this one (at most two batches
        wait), so the server's and the caller's work overlap; a lost connection raises RecordSourceError here.
        """
        plan, cols = self.plan(q), self._columns(columns)
        sql = f"SELECT {cols.rstrip(', ')} FROM {self.table} WHERE {plan.where} ORDER BY {plan.order}"
        return self._stream(sql, plan.params, batch)

    def csv_lines(
        self, q: Query, columns: Sequence[str], with_column: int | None = None, *, batch: int = 5000
    ) -> Iterator[tuple[str, str]]:
        """Every row of the result, in order, as the server writes it: ``(line, cell)``, ``line`` the row's CSV line
        exactly as ``csv.writer`` (QUOTE_MINIMAL) writes it, without its line end, and ``cell`` the plain value of
        ``columns[with_column]`` ("" when None). core/checks/csvlines.py builds the upload file from these
        without building rows in Python. Streamed as ``iter_rows`` (server-side cursor, the next batch fetched
        while the caller works); a lost connection raises RecordSourceError here.

        ``csv.writer`` quotes a cell that holds a comma, a quote, CR or LF (each quote doubled), and a row of
        one empty cell (``""``, so it is not an empty line); nothing else.
        """
        plan = self.plan(q)
        self._check(columns)
        values = [f"coalesce({self._exprs[c]}, '')" for c in columns]
        line = " || ',' || ".join(map(_csv_cell, values))
        if len(values) == 1:
            line = f"CASE WHEN {values[0]} = '' THEN '\"\"' ELSE {line} END"
        cell = values[with_column] if with_column is not None else "''"
        sql = f"SELECT {line}, {cell} FROM {self.table} WHERE {plan.where} ORDER BY {plan.order}"
        return self._stream(sql, plan.params, batch)

    def _stream(self, sql: str, params: list, batch: int) -> Iterator[tuple]:
        with self._lock, self._guard(), self._conn.transaction():
            with self._conn.cursor(name="haihai_export") as cur:
                cur.itersize = batch
                cur.execute(sql, params)
                ahead: queue.Queue = queue.Queue(maxsize=2)
                stop = threading.Event()

                def fetch() -> None:
                    try:
                        while not stop.is_set():
                            rows = cur.fetchmany(batch)
                            ahead.put(rows)
                            if not rows:
                                return
                    except BaseException as e:  # handed to the reader, raised there
                        ahead.put(e)

                helper = threading.Thread(target=fetch, name="haihai-pg-export", daemon=True)
                helper.start()
                try:
                    while True:
                        got = ahead.get()
                        if isinstance(got, BaseException):
                            raise got
                        if not got:
                            return
                        yield from got
                finally:
                    stop.set()
                    while helper.is_alive():  # let it finish its FETCH before the cursor is closed
                        try:
                            ahead.get(timeout=0.05)
                        except queue.Empty:
                            pass
                    helper.join()

    # --- internals -------------------------------------------------------------------------------

    def _check(self, names: Iterable[str]) -> None:
        check_fields(names, self._exprs, self.database)

    def _columns(self, columns: Sequence[str]) -> str:
        self._check(columns)
        return "".join(f"coalesce({self._exprs[c]}, ''), " for c in columns)

    def _anchors_for(self, q: Query, plan: _Plan) -> list[tuple]:
        """(sort value, key) of rows 0, K, 2K, ... of ``q``'s order, computed by the server in one pass."""
        hit = self._anchors.get(q)
        if hit and time.monotonic() - hit[0] < CACHE_SECONDS:
            self._anchors.move_to_end(q)
            return hit[1]
        anchors = self._conn.execute(
            f"SELECT s, k FROM (SELECT {plan.sort or 'NULL'} AS s, {plan.key} AS k, "
            f"row_number() OVER (ORDER BY {plan.order}) AS n FROM {self.table} WHERE {plan.where}) x "
            f"WHERE mod(n - 1, {ANCHOR_EVERY}) = 0 ORDER BY n",
            plan.params,
        ).fetchall()
        self._anchors[q] = (time.monotonic(), anchors)
        while len(self._anchors) > _CACHED_QUERIES:
            self._anchors.popitem(last=False)
        return anchors

    def _seek(self, plan: _Plan, select: str, at: Cursor, inclusive: bool, skip: int, count: int) -> list[tuple]:
        return seek(self._conn.execute, self.table, plan.parts(at, inclusive), select, skip, count, "%s")


def _csv_cell(value: str) -> str:
    """SQL for a text ``value`` as ``csv.writer`` writes a cell: quoted (quotes doubled) when it holds , " CR LF."""
    test = " + ".join(f"strpos({value}, {lit})" for lit in ("','", "'\"'", "E'\\n'", "E'\\r'"))
    return f"CASE WHEN {test} > 0 THEN '\"' || replace({value}, '\"', '\"\"') || '\"' ELSE {value} END"


def sortable_columns(conn, oid) -> set[str]:
    """Columns that lead a b-tree index in "C" (code point) order, as the record list sorts."""
    rows = conn.execute(
        "SELECT a.attname, coalesce(c.collname, '') FROM pg_index i "
        "JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam AND am.amname = 'btree' "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] "
        "LEFT JOIN pg_collation c ON c.oid = i.indcollation[0] WHERE i.indrelid = %s",
        [oid],
    ).fetchall()
    cur = conn.execute("SELECT datcollate IN ('C', 'POSIX') FROM pg_database WHERE datname = current_database()")
    default_is_c = cur.fetchone()[0]
    return {name for name, coll in rows if coll in ("C", "POSIX", "ucs_basic") or (coll == "default" and default_is_c)}


class _Guard:
    """Turns the driver's errors into RecordSourceError (host and reason, the DSN masked)."""

    def __init__(self, store: PgRecordStore) -> None:
        self.store = store

    def __enter__(self) -> None:
        return None

    def __exit__(self, typ, exc, tb) -> bool:
        if exc is None or not isinstance(exc, psycopg.Error):
            return False
        s = self.store
        if isinstance(exc, psycopg.OperationalError) or s._conn.closed:
            what = f"the connection to PostgreSQL at {s.host} was lost"
            hint = "check the server and the network, then try again"
        else:
            what = f"PostgreSQL at {s.host} refused the query"
            hint = "haihai-tui check says what is missing (table, column, permission)"
        raise RecordSourceError(f"{s._what}: {what}: {scrub(str(exc), s._dsn)}; {hint}") from None
