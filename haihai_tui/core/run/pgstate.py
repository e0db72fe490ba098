"""[state] backend = "postgresql": the shared state's connection, its errors and its schema.

Every host of a team points admin.toml's ``[state] dsn`` (``${ENV}`` or ``${secret:NAME}``) at one
PostgreSQL database; the history (core/run/pghistory.py), the sync state (core/run/pgsync.py) and the run
locks (core/run/pglock.py) live there.
The tool creates and upgrades its own tables, recorded in ``haihai_state_version``; a database written by
a newer haihai-tui is refused (this one would misread it). Errors name the host and the driver's reason,
never the DSN or its password (``scrub``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import conninfo
from psycopg.rows import dict_row

from haihai_tui.core.records.postgres import CONNECT_TIMEOUT, describe_host, scrub
from haihai_tui.core.run.history import StateUnavailable
from haihai_tui.core.secret import Secret

SCHEMA_VERSION = 2
#: pg_advisory_xact_lock key taken while the schema is created or upgraded (two hosts starting at once)
SCHEMA_LOCK = 0x48414948  # "HAIH"

#: version -> the statements that bring the schema from version - 1 to it
UPGRADES: dict[int, list[str]] = {
    1: [
        """CREATE TABLE haihai_runs (
            run_id bigserial PRIMARY KEY,
            started_at text NOT NULL, started_epoch double precision NOT NULL, ended_at text,
            executor text NOT NULL, integration text NOT NULL, menu text NOT NULL,
            conditions text NOT NULL, memo text NOT NULL,
            "rows" integer NOT NULL, bytes bigint NOT NULL, requests integer NOT NULL,
            host text NOT NULL, url text NOT NULL, http_status integer,
            outcome text NOT NULL, code text, message text NOT NULL,
            import_ids text NOT NULL, counts text, params text NOT NULL, response_excerpt text NOT NULL,
            dry_run integer NOT NULL, result_csv bytea, sync text,
            pid integer, proc_start text, boot_id text, machine text,
            origin text UNIQUE
        )""",
        "CREATE INDEX haihai_runs_by_start ON haihai_runs (started_epoch)",
        "CREATE INDEX haihai_runs_by_outcome ON haihai_runs (outcome)",
        "CREATE INDEX haihai_runs_by_integration ON haihai_runs (integration, started_epoch)",
        # one row per HaiHai host: SELECT ... FOR UPDATE on it serialises the quota count and the insert
        "CREATE TABLE haihai_quota (host text PRIMARY KEY)",
        # who holds an integration's advisory lock, for the refusal message (the lock itself is the truth)
        """CREATE TABLE haihai_run_locks (
            integration text PRIMARY KEY, pid integer, machine text, login text, started text
        )""",
    ],
    # the sync modes' confirmed state (core/run/pgsync.py; the tables of core/run/syncstate.py)
    2: [
        "CREATE TABLE haihai_sync_integrations (id serial PRIMARY KEY, name text NOT NULL UNIQUE)",
        """CREATE TABLE haihai_sync_scopes (
            id serial PRIMARY KEY, integ integer NOT NULL, ident text NOT NULL UNIQUE,
            description text NOT NULL, last_run bigint
        )""",
        """CREATE TABLE haihai_sync_keys (
            integ integer NOT NULL, key text NOT NULL, scope integer NOT NULL, digest bytea,
            state integer NOT NULL, run bigint NOT NULL, reason text, email text,
            PRIMARY KEY (integ, key)
        )""",
        """CREATE TABLE haihai_sync_failures (
            run bigint NOT NULL, key text NOT NULL, email text, reason text NOT NULL,
            PRIMARY KEY (run, key)
        )""",
    ],
}


def dsn_host(dsn: Secret) -> str:
    try:
        return describe_host(conninfo.conninfo_to_dict(dsn.reveal()))
    except psycopg.Error:
        raise StateUnavailable(
            "[state] dsn is not a PostgreSQL connection string; write it as postgresql://USER@HOST:5432/DBNAME "
            "(password in secrets.toml or ~/.pgpass) or host=... dbname=..."
        ) from None


class PgState:
    """The shared state's connection string and host; ``connect()`` gives a ready connection."""

    def __init__(self, dsn: Secret) -> None:
        self.dsn = dsn
        self.host = dsn_host(dsn)
        self._schema_ok = False

    @property
    def where(self) -> str:
        return f"the shared state (PostgreSQL at {self.host})"

    def error(self, e: BaseException, doing: str) -> StateUnavailable:
        """Host, what failed and the driver's reason (its first line: fits the TUI's status lines)."""
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0].removeprefix("connection is bad: ")
        return StateUnavailable(
            f"{self.where}: {doing}: {scrub(reason, self.dsn)}; check the server, the [state] dsn and the password"
        )

    def probe(self) -> str | None:
        """For `check`: connect and read the schema version, changing nothing; None when usable, else why not."""
        try:
            with psycopg.connect(
                self.dsn.reveal(), connect_timeout=CONNECT_TIMEOUT, autocommit=True, application_name="haihai-tui check"
            ) as conn:
                have = schema_version(conn)
        except psycopg.Error as e:
            return str(self.error(e, "cannot connect"))
        if have is not None and have > SCHEMA_VERSION:
            return newer_schema(self.where, have)
        return None

    def open(self, *, rows: bool = True) -> psycopg.Connection:
        """A new autocommit connection (its own session: the advisory locks of pglock live on one)."""
        try:
            conn = psycopg.connect(
                self.dsn.reveal(),
                connect_timeout=CONNECT_TIMEOUT,
                autocommit=True,
                application_name="haihai-tui state",
                row_factory=dict_row if rows else psycopg.rows.tuple_row,
                # TCP keepalives: a run lock's idle connection is noticed when the network drops it (not a socket)
                keepalives=1,
                keepalives_idle=30,
                keepalives_interval=10,
                keepalives_count=3,
            )
        except psycopg.Error as e:
            raise self.error(e, "cannot connect") from None
        if not self._schema_ok:
            try:
                ensure_schema(conn, self.where)
            except BaseException:
                conn.close()
                raise
            self._schema_ok = True
        return conn

    @contextmanager
    def connect(self, *, rows: bool = True) -> Iterator[psycopg.Connection]:
        """One connection for one operation (rows as dicts, else tuples); driver errors become StateUnavailable."""
        conn = self.open(rows=rows)
        try:
            yield conn
        except psycopg.Error as e:
            raise self.error(e, "lost or refused") from None
        finally:
            conn.close()


def schema_version(conn: psycopg.Connection) -> int | None:
    row = conn.execute("SELECT to_regclass('haihai_state_version') IS NOT NULL AS present").fetchone()
    if not _first(row):
        return None
    row = conn.execute("SELECT MAX(version) AS v FROM haihai_state_version").fetchone()
    return _first(row)


def ensure_schema(conn: psycopg.Connection, where: str) -> int:
    """Create or upgrade the tables (one transaction, under an advisory lock); refuse a newer schema."""
    try:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            have = schema_version(conn)
            if have is None:
                conn.execute("CREATE TABLE haihai_state_version (version integer NOT NULL)")
                have = 0
            if have > SCHEMA_VERSION:
                raise StateUnavailable(newer_schema(where, have))
            for version in range(have + 1, SCHEMA_VERSION + 1):
                for statement in UPGRADES[version]:
                    conn.execute(statement)
                conn.execute("INSERT INTO haihai_state_version (version) VALUES (%s)", (version,))
            return SCHEMA_VERSION
    except psycopg.Error as e:
        raise StateUnavailable(f"{where}: cannot create or upgrade its tables: {one_reason(e)}") from None


def newer_schema(where: str, have: int) -> str:
    return (
        f"{where} was written by a newer haihai-tui (state schema {have}, this one knows "
        f"{SCHEMA_VERSION}); upgrade haihai-tui on this host (nothing was changed)"
    )


def one_reason(e: BaseException) -> str:
    return " ".join(str(e).split())[:300]


def _first(row) -> object:
    if row is None:
        return None
    return next(iter(row.values())) if isinstance(row, dict) else row[0]
