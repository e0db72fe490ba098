"""Where the run state lives: admin.toml ``[state] backend``.

``sqlite`` (the default): the history, sync state and run locks are files in this host's data folder.
``postgresql``: they live in the shared database named by ``[state] dsn`` (core/run/pgstate.py), so every
host of a team sees one history, one quota count, one sync state and one lock per integration. The run
journal (HaiHai's answers not yet written) stays a local file either way. Callers go through these
functions and get the same API whichever backend is set.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from haihai_tui.core.paths import Paths
from haihai_tui.core.run import lock as file_lock
from haihai_tui.core.run.history import History, StateUnavailable
from haihai_tui.core.run.syncstate import SyncStore
from haihai_tui.core.secret import Secret
from haihai_tui.core.settings import headers as hdr
from haihai_tui.core.settings.model import Settings

if TYPE_CHECKING:  # psycopg loads only when a shared state is configured (it costs ~85 ms at start-up)
    from haihai_tui.core.run.pgstate import PgState

_STATES: dict[str, PgState] = {}  # one per DSN in this process: the schema is checked once


def shared_state(settings: Settings | None, environ: dict[str, str] | None = None) -> PgState | None:
    """The shared PostgreSQL state of ``settings``, or None for the local SQLite files.

    Raises StateUnavailable when [state] is wrong or its dsn does not resolve (never falls back to local
    files: the hosts would then count the quota and lock runs each on their own)."""
    if settings is None:
        return None
    st = settings.state
    if st.problem:
        raise StateUnavailable(st.problem)
    if st.backend != "postgresql":
        return None
    hv = hdr.resolve("dsn", st.dsn, settings, dict(os.environ) if environ is None else environ)
    if hv.missing or not isinstance(hv.value, Secret):
        raise StateUnavailable(f"admin.toml [state] dsn: {hv.missing or 'not a reference'}")
    raw = hv.value.reveal()
    if raw not in _STATES:
        from haihai_tui.core.run.pgstate import PgState  # lazy: see the TYPE_CHECKING import above

        _STATES[raw] = PgState(hv.value)
    return _STATES[raw]


def open_history(paths: Paths, settings: Settings | None, environ: dict[str, str] | None = None) -> History:
    """The run history of this configuration (PostgreSQL's PgHistory, or the SQLite file)."""
    state = shared_state(settings, environ)
    if state is None:
        return History(paths.history_db, paths.history_journal)
    from haihai_tui.core.run.pghistory import PgHistory

    return PgHistory(state, paths.history_journal, paths.history_db)


def open_sync_store(paths: Paths, settings: Settings | None, environ: dict[str, str] | None = None) -> SyncStore:
    """The sync modes' confirmed state of this configuration (PostgreSQL's PgSyncStore, or the history file)."""
    state = shared_state(settings, environ)
    if state is None:
        return SyncStore(paths.history_db)
    from haihai_tui.core.run.pgsync import PgSyncStore

    return PgSyncStore(state)


def sync_source(paths: Paths, settings: Settings | None, environ: dict[str, str] | None = None):
    """What the record list's results read, opened in its worker: the history file, or a function giving the
    shared store (so a wrong [state] is reported there, not at compose time)."""
    if settings is None or settings.state.backend == "sqlite" and not settings.state.problem:
        return paths.history_db
    return lambda: open_sync_store(paths, settings, environ)


def acquire_run_lock(
    paths: Paths, settings: Settings | None, integration: str, *, login: str, environ: dict[str, str] | None = None
):
    """Take ``integration``'s run lock (RunLocked when someone holds it): across hosts with PostgreSQL."""
    state = shared_state(settings, environ)
    if state is None:
        return file_lock.acquire(Path(paths.data_dir), integration, login=login)
    from haihai_tui.core.run.pglock import acquire

    return acquire(state, integration, login=login)
