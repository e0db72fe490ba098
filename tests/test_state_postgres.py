"""[state] backend = "postgresql" against a real server (tests/pg/server.py): two hosts (processes with their own
settings and data folders; the second in its own UTS namespace with another host name when run as root) share one
history, one daily quota count and one run lock per integration. The DSN's password is the suite's canary and must
appear nowhere."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import httpx
import pytest

from corefixtures import CANARY, make_settings
from haihai_tui.core.events import Outcome
from haihai_tui.core.haihai import client
from haihai_tui.core.records.samples import SAMPLE_DATABASE
from haihai_tui.core.records.store import RecordStore
from haihai_tui.core.run.execute import execute
from haihai_tui.core.run.history import QuotaExceeded, RunRecord
from haihai_tui.core.run.pgstate import SCHEMA_VERSION, StateUnavailable
from haihai_tui.core.run.prepare import RunBusy, Target, prepare
from haihai_tui.core.run.state import acquire_run_lock, open_history, shared_state
from haihai_tui.core.secret import Secret
from haihai_tui.core.settings import store
from haihai_tui.core.settings.context import AppContext
from haihai_tui.core.settings.permissions import current_login
from pg.server import pg_server  # noqa: F401
from test_run import ROWS, mock, received  # noqa: F401  (fixtures)

MENU, INTEG = "顧客一覧", "配配メール 顧客登録"
CLI = str(Path(sys.executable).parent / "haihai-tui")
OTHER_HOST = "host-b"
CAN_RENAME = os.geteuid() == 0 and shutil.which("unshare") is not None


@pytest.fixture
def state_dsn(pg_server):  # noqa: F811
    """A fresh database for this test's shared state; the DSN carries the canary as its password."""
    name = f"state_{uuid.uuid4().hex[:10]}"
    with pg_server.connect(dbname="postgres") as c:
        c.execute(f"CREATE DATABASE {name}")
    return pg_server.dsn(password=CANARY, dbname=name)


def make_host(base: Path, mock, dsn: str, *, quota: int | None = None):  # noqa: F811
    """A settings folder + data folder sharing the state ``dsn`` (in secrets.toml; admin.toml names it)."""
    base.mkdir(mode=0o700)
    paths = make_settings(base)
    url = f"{mock.url}/demo/api/v1/custcsv/import"

    def point(doc):
        for g in doc["integrations"]:
            g["url"] = url
        if quota is not None:
            doc["integrations"][0]["limits"]["daily_quota"] = quota

    store.update(paths.db, point)

    def me(doc):
        doc["users"][0]["login"] = current_login()

    store.update(paths.admin, me)
    with paths.admin.open("a", encoding="utf-8") as f:
        f.write('\n[state]\nbackend = "postgresql"\ndsn = "${secret:state-dsn}"\n')
    sec = paths.secrets.read_text(encoding="utf-8").replace("[tokens]\n", f'[tokens]\n"state-dsn" = "{dsn}"\n', 1)
    paths.secrets.write_text(sec, encoding="utf-8")
    rs = RecordStore.open(paths.records_dir, SAMPLE_DATABASE)
    rs.insert_rows(ROWS, [f.id for f in SAMPLE_DATABASE.fields])
    rs.close()
    return paths


def argv(paths, *args: str) -> list[str]:
    return [*args, "--config-dir", str(paths.config_dir), "--data-dir", str(paths.data_dir)]


def on_host(host: str | None, cmd: list[str]) -> list[str]:
    """``cmd`` run as if on machine ``host`` (a UTS namespace of its own), or here when that is not possible."""
    if host is None or not CAN_RENAME:
        return cmd
    return ["unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', host, *cmd]


def run_cli(paths, *args: str, host: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        on_host(host, [CLI, *argv(paths, *args)]), capture_output=True, text=True, timeout=120, env=dict(os.environ)
    )


def run_integration(paths, host: str | None = None) -> subprocess.CompletedProcess:
    return run_cli(paths, "run", "--menu", MENU, "--integration", INTEG, "--yes", host=host)


def local_runs(paths) -> int:
    if not paths.history_db.exists():
        return 0
    with sqlite3.connect(paths.history_db) as db:
        if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'runs'").fetchone():
            return 0
        return db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]


def history_json(paths) -> list[dict]:
    r = run_cli(paths, "history", "--json")
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()]


def test_two_hosts_see_one_history_with_their_host_names(tmp_path, mock, state_dsn):  # noqa: F811
    httpx.post(f"{mock.url}/_mock/reset")
    a, b = make_host(tmp_path / "a", mock, state_dsn), make_host(tmp_path / "b", mock, state_dsn)
    ra = run_integration(a)
    rb = run_integration(b, host=OTHER_HOST)
    assert ra.returncode == 0, ra.stderr
    assert rb.returncode == 0, rb.stderr
    for paths in (a, b):
        runs = history_json(paths)
        assert [r["outcome"] for r in runs] == ["done", "done"]
        assert runs[0]["run_id"] == runs[1]["run_id"] + 1
        expected = [OTHER_HOST if CAN_RENAME else socket.gethostname(), socket.gethostname()]
        assert [r["machine"] for r in runs] == expected
    assert len(received(mock)) == 2
    for paths in (a, b):  # nothing went into a local history file
        assert local_runs(paths) == 0
    for r in (ra, rb):
        assert CANARY not in r.stdout + r.stderr


def test_daily_quota_is_one_count_across_hosts(tmp_path, mock, state_dsn):  # noqa: F811
    httpx.post(f"{mock.url}/_mock/reset")
    a = make_host(tmp_path / "a", mock, state_dsn, quota=1)
    b = make_host(tmp_path / "b", mock, state_dsn, quota=1)
    ra = run_integration(a)
    assert ra.returncode == 0, ra.stderr
    rb = run_integration(b, host=OTHER_HOST)
    assert rb.returncode == 1
    assert "daily quota left 0 of 1" in rb.stderr and "0 left of today's quota" in rb.stderr  # host b counts a's run
    assert len(received(mock)) == 1
    assert CANARY not in ra.stdout + ra.stderr + rb.stdout + rb.stderr


def test_runs_starting_at_once_on_two_hosts_reserve_the_quota_atomically(tmp_path, mock, state_dsn):  # noqa: F811
    """Both pass pre-flight with the quota still free; the FOR UPDATE on the host's quota row lets one through."""
    httpx.post(f"{mock.url}/_mock/reset")
    ctxs = [AppContext(make_host(tmp_path / n, mock, state_dsn, quota=1)) for n in ("a", "b")]
    hists = [open_history(c.paths, c.settings) for c in ctxs]
    gate = threading.Barrier(2)
    got: list[object] = []

    def start(h) -> None:
        rec = RunRecord(None, "", None, "x", INTEG, MENU, [], "", 1, 1, 1, "quota.example", "", None,
                        Outcome.RUNNING, None, "", [], None, {}, "")  # fmt: skip
        gate.wait(timeout=20)
        try:
            got.append(h.start(rec, daily_quota=1))
        except QuotaExceeded as e:
            got.append(e)

    threads = [threading.Thread(target=start, args=(h,)) for h in hists]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(type(g).__name__ for g in got) == ["QuotaExceeded", "int"]
    assert hists[0].used_today("quota.example") == hists[1].used_today("quota.example") == 1


HOLDER = """
import sys, time
from haihai_tui.core.run.prepare import Target, prepare
from haihai_tui.core.settings.context import AppContext
from pathlib import Path
from haihai_tui.core.paths import Paths
ctx = AppContext(Paths(Path(sys.argv[1]), Path(sys.argv[2])))
p = prepare(ctx.settings, ctx.paths, Target("顧客一覧", "配配メール 顧客登録"), environ=ctx.environ)
print("held", flush=True)
time.sleep(300)
"""


def test_second_run_refused_across_hosts_while_the_first_holds_the_lock(tmp_path, mock, state_dsn):  # noqa: F811
    httpx.post(f"{mock.url}/_mock/reset")
    a, b = make_host(tmp_path / "a", mock, state_dsn), make_host(tmp_path / "b", mock, state_dsn)
    holder = subprocess.Popen(
        on_host(OTHER_HOST, [sys.executable, "-c", HOLDER, str(a.config_dir), str(a.data_dir)]),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        line = holder.stdout.readline()
        assert line.strip() == "held", holder.stderr.read()
        ctx = AppContext(b)
        with pytest.raises(RunBusy) as e:
            prepare(ctx.settings, ctx.paths, Target(MENU, INTEG), environ=ctx.environ)
        host = OTHER_HOST if CAN_RENAME else socket.gethostname()
        assert f"being run by {current_login()}" in str(e.value)
        assert f"on {host})" in str(e.value) and "since 20" in str(e.value)
        rb = run_integration(b)  # the command line too, from the other host, sends nothing
        assert rb.returncode != 0 and "already being run" in rb.stderr
        assert received(mock) == []
    finally:
        os.killpg(holder.pid, signal.SIGKILL)  # the holder dies: the server drops its lock with its connection
        holder.wait(timeout=30)
    ctx = AppContext(b)
    for _ in range(50):  # the server notices the closed connection almost at once
        try:
            p = prepare(ctx.settings, ctx.paths, Target(MENU, INTEG), environ=ctx.environ)
            break
        except RunBusy:
            threading.Event().wait(0.1)
    else:
        pytest.fail("the lock of a killed holder was not released")
    p.discard()
    # released by discard(): taken again at once
    prepare(ctx.settings, ctx.paths, Target(MENU, INTEG), environ=ctx.environ).discard()


def test_newer_schema_is_refused_with_upgrade_advice(tmp_path, mock, state_dsn, pg_server):  # noqa: F811
    a = make_host(tmp_path / "a", mock, state_dsn)
    open_history(a, AppContext(a).settings)  # creates the schema
    dbname = state_dsn.split("dbname=")[1].split()[0]
    with pg_server.connect(dbname=dbname) as c:
        assert c.execute("SELECT MAX(version) FROM haihai_state_version").fetchone()[0] == SCHEMA_VERSION
        c.execute("INSERT INTO haihai_state_version VALUES (%s)", (SCHEMA_VERSION + 1,))
    r = run_cli(a, "history")
    assert r.returncode == 1
    assert f"newer haihai-tui (state schema {SCHEMA_VERSION + 1}, this one knows {SCHEMA_VERSION})" in r.stderr
    assert "upgrade haihai-tui" in r.stderr and CANARY not in r.stdout + r.stderr


def test_unreachable_state_exits_1_with_host_and_reason(tmp_path, mock, state_dsn, pg_server):  # noqa: F811
    httpx.post(f"{mock.url}/_mock/reset")
    gone = tmp_path / "nosock"
    gone.mkdir()
    a = make_host(tmp_path / "a", mock, state_dsn.replace(str(pg_server.socket_dir), str(gone)))
    for r in (run_integration(a), run_cli(a, "history")):
        assert r.returncode == 1, r.stderr
        assert f"the shared state (PostgreSQL at {gone}:5432/" in r.stderr and "cannot connect" in r.stderr
        assert "No such file or directory" in r.stderr or "connection" in r.stderr.lower()
        assert CANARY not in r.stdout + r.stderr
    assert received(mock) == []


def test_literal_dsn_in_admin_toml_is_refused(tmp_path, mock, state_dsn):  # noqa: F811
    a = make_host(tmp_path / "a", mock, state_dsn)
    text = a.admin.read_text(encoding="utf-8").replace('"${secret:state-dsn}"', json.dumps(state_dsn))
    a.admin.write_text(text, encoding="utf-8")
    ctx = AppContext(a)
    assert any("[state] dsn must not be written in admin.toml" in p.message for p in ctx.loaded.errors)
    with pytest.raises(StateUnavailable, match="secrets.toml"):
        shared_state(ctx.settings)
    r = run_cli(a, "check")
    assert r.returncode != 0 and "admin.toml:" in r.stdout + r.stderr
    assert CANARY not in r.stdout + r.stderr


def test_outcome_lost_after_accept_is_replayed_from_the_local_journal(
    tmp_path, mock, state_dsn, pg_server, monkeypatch
):  # noqa: F811
    """The state goes away once HaiHai has accepted the upload: the run still ends 完了, the answer waits in the
    local journal and is written to PostgreSQL at the next start, and nothing is sent twice."""
    httpx.post(f"{mock.url}/_mock/reset")
    a = make_host(tmp_path / "a", mock, state_dsn)
    ctx = AppContext(a)
    state = shared_state(ctx.settings)
    real = state.dsn
    gone = tmp_path / "nosock"
    gone.mkdir()
    orig = client.send_import

    async def send_then_lose(*args, **kw):
        res = await orig(*args, **kw)
        state.dsn = Secret(real.reveal().replace(str(pg_server.socket_dir), str(gone)))  # the server is gone
        return res

    p = prepare(ctx.settings, ctx.paths, Target(MENU, INTEG), environ=ctx.environ)
    monkeypatch.setattr(client, "send_import", send_then_lose)
    events: list = []
    done = asyncio.run(
        execute(
            p, ctx.paths, ctx.settings, executor=ctx.login, on_event=events.append, poll_interval=0.05, poll_timeout=5
        )
    )
    assert done.outcome is Outcome.DONE and done.import_ids
    warned = " ".join(str(getattr(e, "text", "")) for e in events)
    assert "could not write run" in warned and "goes into the history at the next start" in warned
    journal = a.history_journal.read_text(encoding="utf-8")
    assert f'"run_id": {done.run_id}' in journal and '"done"' in journal
    with pytest.raises(StateUnavailable):
        open_history(a, ctx.settings)  # still gone: refused with the reason, the journal kept
    assert a.history_journal.read_text(encoding="utf-8") == journal
    state.dsn = real  # the server is back
    h = open_history(a, ctx.settings)  # replays at start
    stored = h.get(done.run_id)
    assert stored.outcome is Outcome.DONE and stored.import_ids == done.import_ids
    assert a.history_journal.read_text(encoding="utf-8") == ""
    assert len(received(mock)) == 1
    assert CANARY not in journal + warned


def test_check_connects_to_the_shared_state_and_changes_nothing(tmp_path, mock, state_dsn, pg_server):  # noqa: F811
    a = make_host(tmp_path / "a", mock, state_dsn)
    ok = run_cli(a, "check")
    assert "shared state" not in ok.stdout + ok.stderr
    dbname = state_dsn.split("dbname=")[1].split()[0]
    with pg_server.connect(dbname=dbname) as c:  # check only looked: no table made
        assert c.execute("SELECT to_regclass('haihai_state_version')").fetchone()[0] is None
    gone = tmp_path / "nosock"
    gone.mkdir()
    sec = a.secrets.read_text(encoding="utf-8").replace(str(pg_server.socket_dir), str(gone))
    a.secrets.write_text(sec, encoding="utf-8")
    bad = run_cli(a, "check")
    assert bad.returncode == 1
    line = next(ln for ln in bad.stdout.splitlines() if "shared state" in ln)
    assert line.startswith("admin.toml:") and f"PostgreSQL at {gone}:5432/" in line and "cannot connect" in line
    assert CANARY not in bad.stdout + bad.stderr + ok.stdout + ok.stderr


def test_another_hosts_run_left_running_becomes_unknown_once_its_lock_is_gone(tmp_path, mock, state_dsn, pg_server):  # noqa: F811
    a = make_host(tmp_path / "a", mock, state_dsn)
    ctx = AppContext(a)
    h = open_history(a, ctx.settings)
    rec = RunRecord(None, "", None, "x", INTEG, MENU, [], "", 1, 1, 1, "h.example", "", None,
                    Outcome.RUNNING, None, "", [], None, {}, "")  # fmt: skip
    run_id = h.start(rec)
    dbname = state_dsn.split("dbname=")[1].split()[0]
    with pg_server.connect(dbname=dbname) as c:  # the run is another machine's: its pid means nothing here
        c.execute("UPDATE haihai_runs SET machine = 'batch-01', pid = 1 WHERE run_id = %s", (run_id,))
    held = acquire_run_lock(a, ctx.settings, INTEG, login="batch")  # its process still holds the run lock
    try:
        assert h.mark_interrupted() == 0 and h.get(run_id).outcome is Outcome.RUNNING
    finally:
        held.release()  # the process died: the server let the lock go with its connection
    assert h.mark_interrupted() == 1
    gone = h.get(run_id)
    assert gone.outcome is Outcome.UNKNOWN and "check HaiHai before re-sending" in gone.message
