"""`haihai-tui state migrate` against a real server (tests/pg/server.py): a host's SQLite history and sync state are
copied into the shared PostgreSQL state once; running it again adds nothing and says so. The DSN's password (the canary)
appears nowhere."""

from __future__ import annotations

import httpx

from corefixtures import CANARY
from haihai_tui.core.events import Outcome
from haihai_tui.core.run.history import History, RunRecord
from haihai_tui.core.run.state import open_history
from haihai_tui.core.settings.context import AppContext
from pg.server import pg_server  # noqa: F401
from test_run import mock, received  # noqa: F401  (fixtures)
from test_state_postgres import OTHER_HOST, history_json, make_host, run_cli, state_dsn  # noqa: F401
from test_state_postgres_sync import _changes


def _local_runs(paths, n: int) -> list[int]:
    """``n`` finished runs in the host's SQLite history (as before [state] was set); the last one names the
    one before it in its sync details."""
    h = History(paths.history_db, paths.history_journal)
    ids = []
    for i in range(n):
        sync = {"mode": "changes", "new": 1, "since_run": ids[-1]} if ids else {"mode": "full", "new": 2}
        rec = RunRecord(None, f"2026-11-2{i}T10:00:00+09:00", None, "tanaka", "配配メール 顧客登録", "顧客一覧",
                        [], f"memo {i}", 2, 100, 1, "h.example", "https://h.example/api", 200, Outcome.RUNNING,
                        None, "", [], None, {}, "", sync=sync)  # fmt: skip
        ids.append(h.start(rec))
        h.finish(ids[-1], outcome=Outcome.DONE, import_ids=[f"imp-{i}"], ended_at=f"2026-11-2{i}T10:00:05+09:00")
    return ids


def test_migrate_copies_the_sqlite_history_once(tmp_path, mock, state_dsn):  # noqa: F811
    httpx.post(f"{mock.url}/_mock/reset")
    a = make_host(tmp_path / "a", mock, state_dsn)
    old = _local_runs(a, 3)
    first = run_cli(a, "state", "migrate")
    assert first.returncode == 0, first.stderr
    assert "copied 3 run(s) from" in first.stdout and "0 were there already" in first.stdout
    second = run_cli(a, "state", "migrate")
    assert second.returncode == 0, second.stderr
    assert "copied 0 run(s)" in second.stdout and "3 were there already" in second.stdout
    runs = history_json(a)
    assert [r["memo"] for r in runs] == ["memo 2", "memo 1", "memo 0"]
    assert [r["import_ids"] for r in runs] == [["imp-2"], ["imp-1"], ["imp-0"]]
    assert all(r["outcome"] == "done" and r["machine"] for r in runs)
    # the sync details name the copied run's new number, not the SQLite one
    assert runs[0]["sync"]["since_run"] == runs[1]["run_id"]
    assert open_history(a, AppContext(a).settings).count() == 3
    assert len(old) == 3
    for r in (first, second):
        assert CANARY not in r.stdout + r.stderr


def test_migrate_without_a_postgresql_state_says_how_to_set_it(tmp_path, mock, state_dsn):  # noqa: F811
    a = make_host(tmp_path / "a", mock, state_dsn)
    a.admin.write_text(a.admin.read_text(encoding="utf-8").split("\n[state]\n")[0], encoding="utf-8")
    r = run_cli(a, "state", "migrate")
    assert r.returncode == 2
    assert '[state] backend = "postgresql"' in r.stderr


def test_migrate_copies_the_sync_state_so_another_host_sends_nothing_unchanged(tmp_path, mock, state_dsn):  # noqa: F811
    httpx.post(f"{mock.url}/_mock/reset")
    a, b = make_host(tmp_path / "a", mock, state_dsn), make_host(tmp_path / "b", mock, state_dsn)
    with_state = a.admin.read_text(encoding="utf-8")
    a.admin.write_text(with_state.split("\n[state]\n")[0], encoding="utf-8")  # host a still on SQLite
    local = _changes(a)
    assert local.returncode == 0, local.stderr
    assert len(received(mock)) == 1
    a.admin.write_text(with_state, encoding="utf-8")  # [state] set: copy what host a had
    first = run_cli(a, "state", "migrate")
    assert first.returncode == 0, first.stderr
    assert "copied 1 run(s)" in first.stdout and "4 sync state key(s) added" in first.stdout
    again = run_cli(a, "state", "migrate")
    assert "copied 0 run(s)" in again.stdout and "1 were there already" in again.stdout
    assert "0 sync state key(s) added" in again.stdout
    other = _changes(b, host=OTHER_HOST)
    assert other.returncode == 0, other.stderr
    runs = history_json(b)
    assert f"nothing changed since run #{runs[1]['run_id']}" in other.stdout + other.stderr  # the copied run's number
    assert len(received(mock)) == 1  # nothing sent again
    assert CANARY not in first.stdout + first.stderr + again.stdout + other.stdout + other.stderr


def test_a_journalled_outcome_of_a_local_run_is_kept_for_migrate(tmp_path, mock, state_dsn):  # noqa: F811
    """The shared state opened before `state migrate`: an answer journalled for a run of the SQLite file (written
    before [state] was set) goes into that file, not away, and migrate then copies it as HaiHai answered."""
    a = make_host(tmp_path / "a", mock, state_dsn)
    local = History(a.history_db, a.history_journal)
    rec = RunRecord(None, "2026-11-20T10:00:00+09:00", None, "tanaka", "配配メール 顧客登録", "顧客一覧", [],
                    "late", 2, 100, 1, "h.example", "https://h.example/api", None, Outcome.RUNNING, None, "", [],
                    None, {}, "")  # fmt: skip
    run_id = local.start(rec)
    local.journal_outcome(run_id, rec.started_at, {"outcome": Outcome.DONE, "import_ids": ["imp-late"]})
    shared = open_history(a, AppContext(a).settings)  # replays the journal at start
    assert shared.count() == 0 and a.history_journal.read_text(encoding="utf-8") == ""
    kept = History(a.history_db, a.history_journal).get(run_id)
    assert kept.outcome is Outcome.DONE and kept.import_ids == ["imp-late"]
    assert run_cli(a, "state", "migrate").returncode == 0
    (copied,) = history_json(a)
    assert copied["outcome"] == "done" and copied["import_ids"] == ["imp-late"] and copied["memo"] == "late"
