"""``haihai-tui check`` for an ``engine = "postgresql"`` database: connect with a short timeout and compare the
table with db.toml. Every finding is (keypath suffix under the database, severity, message), so the command
line prints it as ``db.toml:LINE: ...`` like every other settings problem.

Looked at: the connection (host and the driver's reason, never the DSN), the table or view, the SELECT
permission, each field's column and its type, the key column, and whether a sort by each field can use an
index (on a big table, a sort without one reads the whole table: a warning with the CREATE INDEX to run).
"""

from __future__ import annotations

from collections.abc import Mapping

from haihai_tui.core.records.engines import resolve_dsn
from haihai_tui.core.records.errors import RecordSourceError
from haihai_tui.core.settings.model import Database, Settings
from haihai_tui.core.text import one_line

Finding = tuple[tuple, str, str]
CHECK_TIMEOUT = 3  # seconds to connect
#: types read as they are; these others are read as text (``::text``) and are fine too
CAST_TYPES = (
    "smallint integer bigint numeric real double precision date time timestamp boolean uuid character citext "
    "inet money interval name"
).split()


def _type_ok(t: str) -> bool:
    if t.endswith("[]"):
        return False
    base = t.split("(")[0].strip()
    return base in ("text", "character varying") or any(base.startswith(c) for c in CAST_TYPES)


def check_source(db: Database, settings: Settings, environ: Mapping[str, str] | None = None) -> list[Finding]:
    """The findings for ``db`` (empty when all is well); connects once, reads the catalog only."""
    from haihai_tui.core.records.postgres import BIG_TABLE, ident, pg_connect, scrub, sortable_columns, table_sql

    try:
        dsn = resolve_dsn(db, settings, environ)
        conn, host = pg_connect(dsn, "dsn", CHECK_TIMEOUT)
    except RecordSourceError as e:
        return [(("dsn",), "error", str(e))]
    import psycopg

    out: list[Finding] = []
    try:
        oid = conn.execute("SELECT to_regclass(%s)::oid", [table_sql(db.table)]).fetchone()[0]
        if oid is None:
            return [
                (("table",), "error", f"no table or view {one_line(db.table)} at {host} (or this login may not see it)")
            ]
        kind, est, can_read = conn.execute(
            "SELECT relkind, reltuples::bigint, has_table_privilege(%s, 'SELECT') FROM pg_class WHERE oid = %s",
            [oid, oid],
        ).fetchone()
        if not can_read:
            user = conn.info.user
            out.append(
                (
                    ("table",),
                    "error",
                    f"the login {one_line(user)!r} may not read {one_line(db.table)} at {host}; "
                    f"GRANT SELECT ON {table_sql(db.table)} TO {ident(user)}",
                )
            )
        cols = {
            name: (typ, coll)
            for name, typ, coll in conn.execute(
                "SELECT attname, format_type(atttypid, atttypmod), "
                "coalesce((SELECT collname FROM pg_collation WHERE oid = attcollation), '') "
                "FROM pg_attribute WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
                [oid],
            )
        }
        listing = one_line(", ".join(cols)[:300])
        for j, f in enumerate(db.fields):
            col = f.source_column
            where = ("fields", j, "column") if f.column else ("fields", j)
            if col not in cols:
                out.append(
                    (
                        where,
                        "error",
                        f"field {f.id!r}: {one_line(db.table)} has no column {one_line(col)!r}; "
                        f'its columns are: {listing}; set column = "..." on the field',
                    )
                )
            elif not _type_ok(cols[col][0]):
                out.append(
                    (
                        where,
                        "error",
                        f"field {f.id!r}: column {one_line(col)!r} is {cols[col][0]}, which is not "
                        "text, a number or a date; choose a text column or a view that casts it (::text)",
                    )
                )
        pk = [
            r[0]
            for r in conn.execute(
                "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s AND i.indisprimary",
                [oid],
            )
        ]
        key = db.key or (pk[0] if len(pk) == 1 else "")
        if not key:
            out.append(
                (
                    ("table",),
                    "error",
                    f'{one_line(db.table)} has no one-column primary key; set key = "COLUMN" to a column '
                    "that is unique and never empty (a view needs it always)",
                )
            )
        elif key not in cols:
            out.append((("key",), "error", f"key: {one_line(db.table)} has no column {one_line(key)!r}"))
        if kind in ("r", "p", "m") and est > BIG_TABLE:
            indexed = sortable_columns(conn, oid)
            for j, f in enumerate(db.fields):
                col = f.source_column
                if col in cols and col not in indexed:
                    out.append(
                        (
                            ("fields", j),
                            "warning",
                            f"field {f.id!r}: sorting by it reads all ~{est:,} rows of {one_line(db.table)} (no "
                            f"index in code-point order); to make it quick: CREATE INDEX ON {table_sql(db.table)} "
                            f'({ident(col)} COLLATE "C", {ident(key or col)})',
                        )
                    )
    except psycopg.Error as e:
        out.append((("table",), "error", f"reading the catalog at {host} failed: {scrub(str(e), dsn)}"))
    finally:
        conn.close()
    return out
