"""The sync core without a server: the run lock, the confirmed state, the record list's results, the settings rule."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from corefixtures import REPO, make_settings
from haihai_tui.cli.main import main
from haihai_tui.core.records.samples import SAMPLE_DATABASE
from haihai_tui.core.run.lock import RunLocked, acquire, lock_path
from haihai_tui.core.run.sync import (
    RESULT_CHANGED,
    RESULT_FAILED,
    RESULT_OK,
    RESULT_UNSENT,
    Planner,
    ScopeView,
    SyncPlan,
    changed_keys,
    confirm_run,
    keys_with_result,
    parse_result_csv,
    record_results,
    row_digest,
)
from haihai_tui.core.run.syncstate import SyncStore
from haihai_tui.core.settings import store
from haihai_tui.core.settings.model import Menu

INTEG = "配配メール 顧客登録"
MENU = Menu("顧客一覧", "customers", columns=["email", "company", "name"], integrations=[INTEG])
A = ("a@example.jp", "A社", "A")
B = ("B@Example.jp", "B社", "B")
C = ("c@example.jp", "C社", "C")


# -- the lock ---------------------------------------------------------------------------------------


def test_lock_refuses_a_second_holder_and_names_the_first(tmp_path):
    held = acquire(tmp_path, INTEG, login="cron")
    with pytest.raises(RunLocked) as e:
        acquire(tmp_path, INTEG, login="admin")
    text = str(e.value)
    assert "cron" in text and f"pid {os.getpid()}" in text and socket.gethostname() in text and "since 20" in text
    other = acquire(tmp_path, "配配メール 配信停止", login="admin")  # another integration is free
    other.release()
    held.release()
    acquire(tmp_path, INTEG, login="admin").release()  # free again once released


def test_lock_is_shared_by_processes(tmp_path):
    code = (
        "import sys, time; sys.path.insert(0, sys.argv[2]);"
        "from haihai_tui.core.run.lock import acquire;"
        "l = acquire(sys.argv[1], '配配メール 顧客登録', login='cron'); print('held', flush=True); time.sleep(60)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path), str(REPO)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(RunLocked) as e:
            acquire(tmp_path, INTEG, login="admin")
        assert f"pid {proc.pid}" in str(e.value) and "cron" in str(e.value)
    finally:
        proc.kill()
        proc.wait()
    acquire(tmp_path, INTEG, login="admin").release()  # the kernel dropped the dead process's lock


def test_lock_left_by_a_dead_process_is_taken_over(tmp_path):
    # the flock is still held (a child inherited the descriptor), but the recorded holder is gone
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    path = lock_path(tmp_path, INTEG)
    path.parent.mkdir(parents=True, exist_ok=True)
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.write(fd, json.dumps({"pid": dead.pid, "host": socket.gethostname(), "login": "gone"}).encode())
    try:
        lock = acquire(tmp_path, INTEG, login="admin")
        assert json.loads(path.read_text())["login"] == "admin"
        lock.release()
    finally:
        os.close(fd)


def test_cli_run_refused_while_another_process_holds_the_lock(tmp_path, capsys):
    paths = make_settings(tmp_path)
    held = acquire(paths.data_dir, INTEG, login="nightly-cron")
    try:
        code = main(
            [
                "run",
                "--config-dir",
                str(paths.config_dir),
                "--data-dir",
                str(paths.data_dir),
                "--menu",
                "顧客一覧",
                "--integration",
                INTEG,
                "--dry-run",
            ]
        )
    finally:
        held.release()
    assert code == 4
    err = capsys.readouterr().err
    assert "already being run by nightly-cron" in err and "since" in err and "nothing was sent" in err


# -- the plan --------------------------------------------------------------------------------------


def _plan(mode, confirmed, rows, retry=None):
    view = ScopeView(None, INTEG, 1, confirmed)
    planner = Planner(SyncPlan(mode, 1, 7, key_label="メールアドレス", target="gid=12"), 0, view, retry)
    sent = list(planner.rows(rows))
    return planner.finish(), sent


def test_planner_sorts_rows_into_new_changed_retried_unchanged_and_removed():
    confirmed = {
        "a@example.jp": row_digest(A),  # unchanged
        "b@example.jp": row_digest(("B@Example.jp", "旧", "B")),  # changed (key compared ignoring case)
        "c@example.jp": b"!" + row_digest(C),  # refused last time (was confirmed before)
        "gone@example.jp": row_digest(("gone@example.jp", "x", "y")),  # left the result
        "never@example.jp": b"!",  # refused and never confirmed: not in the group, never removed
    }
    plan, sent = _plan("mirror", confirmed, [A, B, C, ("new@example.jp", "N", "N")])
    assert sent == [B, C, ("new@example.jp", "N", "N")]
    assert (plan.new, plan.changed, plan.retried, plan.unchanged, plan.removed) == (1, 1, 1, 1, 1)
    assert plan.removals == ["gone@example.jp"]
    words = plan.describe()
    assert (
        "since run #7" in words and "1 new (e.g. new@example.jp)" in words and "1 changed (e.g. B@Example.jp)" in words
    )
    assert (
        "1 unchanged (not sent)" in words
        and "1 to remove from delivery group (gid) 12" in words
        and "gone@example.jp" in words
    )
    changes, _ = _plan("changes", confirmed, [A, B, C])
    assert changes.removed == 0 and changes.removals == []


def test_nothing_changed_says_since_which_run():
    plan, sent = _plan("changes", {"a@example.jp": row_digest(A)}, [A])
    assert sent == [] and plan.nothing_to_send
    assert plan.describe() == "nothing changed since run #7: 1 unchanged row(s), nothing is sent"


def test_retry_sends_only_the_refused_keys_and_lists_the_missing():
    plan, sent = _plan("retry", {}, [A, B, C], retry={"b@example.jp": "B@Example.jp", "z@example.jp": "z@example.jp"})
    assert sent == [B] and plan.retried == 1 and plan.missing == ["z@example.jp"]


def test_result_csv_parsed_by_key_ignoring_case_and_a_failed_duplicate_wins():
    data = "処理結果,理由,メールアドレス,会社名\r\n成功,,A@example.jp,A\r\n失敗,受信拒否,b@example.jp,B\r\n".encode(
        "cp932"
    )
    assert parse_result_csv(data, "メールアドレス") == {
        "a@example.jp": ("成功", "", "A@example.jp"),
        "b@example.jp": ("失敗", "受信拒否", "b@example.jp"),
    }
    assert parse_result_csv(b"\xff\xfe garbage", "メールアドレス") is None
    assert parse_result_csv("処理結果,理由,名前\r\n".encode(), "メールアドレス") is None


# -- the confirmed state and the results column ------------------------------------------------------


def _confirmed(tmp_path, rows, result_csv=None, done=True):
    state = SyncStore(tmp_path / "history.sqlite3")
    sid = state.scope_id(INTEG, "scope", "test scope")
    plan, _ = _plan("changes", {}, rows)
    plan.scope_id = sid
    note = confirm_run(
        state,
        3,
        INTEG,
        plan,
        done=done,
        offered=result_csv is not None,
        files=[result_csv] if result_csv is not None else [],
        complete=True,
        outcome_word="完了" if done else "結果不明",
        rows_per_file=[len(rows)],
    )
    return state, sid, note


def test_only_a_done_run_confirms(tmp_path):
    state, sid, note = _confirmed(tmp_path, [A, B], done=False)
    assert "nothing confirmed" in note and state.load_scope(INTEG, sid) == {}


def test_results_column_shows_ok_failed_unsent_and_changed(tmp_path):
    result = (
        "処理結果,理由,メールアドレス,会社名,お名前\r\n成功,,a@example.jp,A社,A\r\n失敗,受信拒否,B@Example.jp,B社,B\r\n"
    )
    state, sid, note = _confirmed(tmp_path, [A, B], result.encode("cp932"))
    assert "confirmed 1 row(s); 1 refused (失敗)" in note
    assert state.failures(3) == [("b@example.jp", "B@Example.jp", "受信拒否")]
    assert state.last_run(sid) == 3
    hist = tmp_path / "history.sqlite3"
    edited_a = ("a@example.jp", "A社（新）", "A")
    got = record_results(hist, INTEG, MENU, SAMPLE_DATABASE, [A, B, C, edited_a])
    assert [r.word for r in got] == [RESULT_OK, RESULT_FAILED, RESULT_UNSENT, RESULT_CHANGED]
    assert got[1].text() == "失敗: 受信拒否" and got[1].run_id == 3
    assert keys_with_result(hist, INTEG, RESULT_FAILED) == {"b@example.jp"}
    assert keys_with_result(hist, INTEG, RESULT_OK) == {"a@example.jp"}
    assert changed_keys(hist, INTEG, MENU, SAMPLE_DATABASE, [edited_a, B, C]) == {"a@example.jp"}
    # another integration knows nothing of these
    assert [r.word for r in record_results(hist, "other", MENU, SAMPLE_DATABASE, [A])] == [RESULT_UNSENT]


def test_state_stays_small_per_key(tmp_path):
    state = SyncStore(tmp_path / "history.sqlite3")
    sid = state.scope_id(INTEG, "scope", "s")
    n = 20_000
    rows = [(f"user{i}@example.jp", "会社", "名前") for i in range(n)]
    before = (tmp_path / "history.sqlite3").stat().st_size
    t = time.perf_counter()
    state.record(1, INTEG, sid, [(r[0], row_digest(r), r[0]) for r in rows], {})
    assert time.perf_counter() - t < 5
    import sqlite3

    db = sqlite3.connect(tmp_path / "history.sqlite3")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    per_key = ((tmp_path / "history.sqlite3").stat().st_size - before) / n
    assert per_key < 100  # bench/sync.py holds the real target (<= 100 MB per million keys)
    assert len(state.load_scope(INTEG, sid)) == n


# -- the settings rule --------------------------------------------------------------------------------


def test_menu_without_email_column_cannot_use_changes(tmp_path, capsys):
    paths = make_settings(tmp_path)

    def edit(doc):
        doc["integrations"][0]["sync"] = "changes"
        doc["menus"][0]["columns"] = ["company", "name"]

    store.update(paths.db, edit)
    assert main(["check", "--config-dir", str(paths.config_dir), "--data-dir", str(paths.data_dir)]) != 0
    out = capsys.readouterr()
    lines = [x for x in (out.out + out.err).splitlines() if "sync = changes keys each customer" in x]
    assert lines and all(x.startswith("db.toml:") for x in lines)
    assert "use sync = full" in lines[0]


def test_prepare_holds_the_lock_until_discard(tmp_path):
    from haihai_tui.core.run.prepare import RunBusy, Target, prepare
    from haihai_tui.core.settings.context import AppContext

    ctx = AppContext(make_settings(tmp_path))
    first = prepare(ctx.settings, ctx.paths, Target("顧客一覧", INTEG), environ={}, sync="changes")
    try:
        with pytest.raises(RunBusy, match="already being run by"):
            prepare(ctx.settings, ctx.paths, Target("顧客一覧", INTEG), environ={})
    finally:
        first.discard()
    again = prepare(ctx.settings, ctx.paths, Target("顧客一覧", INTEG), environ={})
    again.discard()
    again.discard()  # twice is fine
    acquire(ctx.paths.data_dir, INTEG, login="cron").release()


def test_state_file_is_private_when_the_results_column_makes_it(tmp_path):
    hist = tmp_path / "data" / "history.sqlite3"
    got = record_results(hist, INTEG, MENU, SAMPLE_DATABASE, [A])
    assert [r.word for r in got] == [RESULT_UNSENT]
    assert hist.stat().st_mode & 0o777 == 0o600 and hist.parent.stat().st_mode & 0o077 == 0


def test_a_hostile_reason_is_kept_short_and_shown_terminal_safe(tmp_path):
    reason = "\x1b]52;c;ZXZpbA==\x07" + "長" * 5000
    result = f"処理結果,理由,メールアドレス,会社名,お名前\r\n失敗,{reason},a@example.jp,A社,A\r\n"
    _confirmed(tmp_path, [A], result.encode("utf-8"))
    got = record_results(tmp_path / "history.sqlite3", INTEG, MENU, SAMPLE_DATABASE, [A])[0]
    assert got.word == RESULT_FAILED and len(got.reason) == 200
    assert "\x1b" not in got.text() and "\x07" not in got.text()
