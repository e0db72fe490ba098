"""The sync modes' confirmed state in the shared PostgreSQL state (tests/pg/server.py): what HaiHai confirmed to one
host is what the other host's changes run compares with; a state schema of the previous version is upgraded in
place. The DSN's password (the canary) appears nowhere."""

from __future__ import annotations

import httpx

from corefixtures import CANARY
from haihai_tui.core.run.pgstate import SCHEMA_VERSION, PgState
from haihai_tui.core.run.state import open_sync_store, shared_state
from haihai_tui.core.settings.context import AppContext
from pg.server import pg_server  # noqa: F401
from test_run import mock, received  # noqa: F401  (fixtures)
from test_state_postgres import INTEG, MENU, OTHER_HOST, history_json, make_host, run_cli, state_dsn  # noqa: F401


def _changes(paths, host=None):
    return run_cli(paths, "run", "--menu", MENU, "--integration", INTEG, "--sync", "changes", "--yes", host=host)


def test_a_changes_run_on_one_host_compares_with_what_the_other_host_sent(tmp_path, mock, state_dsn):  # noqa: F811
    httpx.post(f"{mock.url}/_mock/reset")
    a, b = make_host(tmp_path / "a", mock, state_dsn), make_host(tmp_path / "b", mock, state_dsn)
    first = _changes(a)
    assert first.returncode == 0, first.stderr
    assert len(received(mock)) == 1
    second = _changes(b, host=OTHER_HOST)
    assert second.returncode == 0, second.stderr
    runs = history_json(b)
    assert "nothing changed since run #" + str(runs[1]["run_id"]) in second.stdout + second.stderr
    assert len(received(mock)) == 1  # host b sent nothing: host a's rows are confirmed in the shared state
    assert runs[0]["code"] == "NOTHING_TO_SEND" and runs[0]["requests"] == 0
    ctx = AppContext(b)
    store = open_sync_store(b, ctx.settings)
    assert type(store).__name__ == "PgSyncStore"
    assert len(store.keys_with_state(INTEG, 1)) == 4
    for r in (first, second):
        assert CANARY not in r.stdout + r.stderr


def test_a_previous_state_schema_is_upgraded_in_place(tmp_path, mock, state_dsn, pg_server):  # noqa: F811
    a = make_host(tmp_path / "a", mock, state_dsn)
    ctx = AppContext(a)
    shared_state(ctx.settings).open().close()  # creates the current schema
    dbname = state_dsn.split("dbname=")[1].split()[0]
    with pg_server.connect(dbname=dbname) as c:  # back to version 1: no sync tables
        c.execute("DELETE FROM haihai_state_version WHERE version > 1")
        for t in ("keys", "failures", "scopes", "integrations"):
            c.execute(f"DROP TABLE haihai_sync_{t}")
    store = open_sync_store(a, AppContext(a).settings)
    fresh = PgState(store.state.dsn)  # another process starting: checks the schema again
    conn = fresh.open()
    conn.close()
    with pg_server.connect(dbname=dbname) as c:
        assert c.execute("SELECT MAX(version) FROM haihai_state_version").fetchone()[0] == SCHEMA_VERSION == 2
        assert c.execute("SELECT to_regclass('haihai_sync_keys') IS NOT NULL").fetchone()[0]
