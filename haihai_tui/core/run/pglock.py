"""One run of an integration at a time across every host sharing the PostgreSQL state.

The lock is a PostgreSQL session advisory lock (keyed by the integration's name) taken on a connection of its
own and held for as long as the run is prepared, confirmed and sent; ``release()`` lets it go. When the
process dies its connection closes and the server drops the lock, so the next run anywhere takes it over.
Beside the lock, a row in ``haihai_run_locks`` names the holder (login, pid, machine, since when) for the
message a refused run shows; only the advisory lock decides.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime

import psycopg

from haihai_tui.core.run.lock import RunLocked
from haihai_tui.core.run.pgstate import PgState

#: the advisory lock key of an integration (64-bit, from its exact name)
KEY_SQL = "hashtextextended('haihai-tui run ' || %s, 0)"
#: SQL (in a SELECT over haihai_runs) true while some session holds the run lock of the row's integration:
#: pg_locks shows a bigint advisory key as classid (high 32 bits) and objid (low 32 bits), objsubid 1
LOCK_HELD = """SELECT EXISTS (
    SELECT 1 FROM pg_locks l, LATERAL (SELECT hashtextextended('haihai-tui run ' || integration, 0) AS k) h
    WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted
    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND l.classid::text::bigint = ((h.k >> 32) & 4294967295) AND l.objid::text::bigint = (h.k & 4294967295))"""


@dataclass
class PgRunLock:
    """A held lock (the connection holding it); ``release()`` (idempotent) lets it go."""

    integration: str
    conn: psycopg.Connection | None

    def release(self) -> None:
        conn, self.conn = self.conn, None
        if conn is None:
            return
        try:
            conn.execute(
                "DELETE FROM haihai_run_locks WHERE integration = %s AND pid = %s AND machine = %s",
                (self.integration, os.getpid(), socket.gethostname()),
            )
            conn.execute(f"SELECT pg_advisory_unlock({KEY_SQL})", (self.integration,))
        except psycopg.Error:
            pass  # the connection is gone: the server has dropped the lock with it
        finally:
            conn.close()

    @property
    def held(self) -> bool:
        return self.conn is not None

    def __del__(self) -> None:
        self.release()


def acquire(state: PgState, integration: str, *, login: str) -> PgRunLock:
    """Take ``integration``'s lock or raise :class:`RunLocked` naming who holds it (StateUnavailable: no server)."""
    conn = state.open()
    try:
        row = conn.execute(f"SELECT pg_try_advisory_lock({KEY_SQL}) AS got", (integration,)).fetchone()
        if not row["got"]:
            holder = conn.execute(
                "SELECT login, pid, machine AS host, started FROM haihai_run_locks WHERE integration = %s",
                (integration,),
            ).fetchone()
            conn.close()
            raise RunLocked(integration, dict(holder or {}))
        conn.execute(
            "INSERT INTO haihai_run_locks (integration, pid, machine, login, started) VALUES (%s, %s, %s, %s, %s) "
            "ON CONFLICT (integration) DO UPDATE SET pid = EXCLUDED.pid, machine = EXCLUDED.machine, "
            "login = EXCLUDED.login, started = EXCLUDED.started",
            (
                integration,
                os.getpid(),
                socket.gethostname(),
                login,
                datetime.now().astimezone().isoformat(timespec="seconds"),
            ),
        )
    except psycopg.Error as e:
        conn.close()
        raise state.error(e, "cannot take the run lock") from None
    return PgRunLock(integration, conn)
