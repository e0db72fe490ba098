"""The run history: round trip, listing, finish, interrupted runs, the JST quota day, output."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from haihai_tui.core.events import Outcome
from haihai_tui.core.paths import Paths
from haihai_tui.core.run.history import (
    INTERRUPTED_MESSAGE,
    JST,
    History,
    HistoryError,
    RunRecord,
)
from haihai_tui.core.run.history_text import format_table, to_json
from haihai_tui.core.text import cell_width as text_width

REPO = Path(__file__).resolve().parents[1]
URL = "https://a01.hm-f.jp/api_sample/api/v1/custcsv/import"


def record(**changes) -> RunRecord:
    base = dict(
        run_id=None,
        started_at="2026-11-29T23:32:01+09:00",
        ended_at=None,
        executor="tanaka",
        integration="配配メール 顧客登録",
        menu="顧客一覧",
        conditions=["会社名~株式会社", "search:東京"],
        memo="月次の登録",
        rows=1234,
        bytes=56789,
        requests=1,
        host="a01.hm-f.jp",
        url=URL,
        http_status=None,
        outcome=Outcome.RUNNING,
        code=None,
        message="",
        import_ids=[],
        counts=None,
        params={"login_id": "ops01", "import_type": "0", "gid": "12"},
        response_excerpt="",
    )
    base.update(changes)
    return RunRecord(**base)


@pytest.fixture
def hist(tmp_path: Path) -> History:
    return History(Paths(tmp_path / "cfg", tmp_path / "data").history_db)


def test_creates_private_folder_file_and_schema(tmp_path: Path):
    old = os.umask(0o022)
    try:
        path = Paths(tmp_path / "cfg", tmp_path / "data").history_db
        h = History(path)
        h.start(record())
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(1,)]
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    History(path)  # opening again keeps one schema row
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == 1


def test_round_trip(hist: History):
    rec = record(dry_run=True)
    run_id = hist.start(rec)
    assert run_id == rec.run_id == 1
    got = hist.get(run_id)
    assert got is not None
    assert got.outcome is Outcome.RUNNING
    assert got.conditions == ["会社名~株式会社", "search:東京"]
    assert got.params == {"login_id": "ops01", "import_type": "0", "gid": "12"}
    assert (got.executor, got.integration, got.menu, got.memo) == (
        "tanaka",
        "配配メール 顧客登録",
        "顧客一覧",
        "月次の登録",
    )
    assert (got.rows, got.bytes, got.requests, got.dry_run) == (1234, 56789, 1, True)
    assert got.started_at == "2026-11-29T23:32:01+09:00" and got.ended_at is None
    assert got.counts is None and got.result_csv is None and not got.has_result_csv
    assert hist.get(999) is None
    assert hist.count() == 1


def test_url_is_stored_without_query_or_user_info(hist: History):
    run_id = hist.start(record(url="https://user:pw@a01.hm-f.jp:8443/api_sample/x?apitoken=CANARY-7f3a9c#f", host=""))
    got = hist.get(run_id)
    assert got.url == "https://a01.hm-f.jp:8443/api_sample/x"
    assert got.host == "a01.hm-f.jp"
    assert b"CANARY-7f3a9c" not in hist.path.read_bytes()


def test_finish_updates_named_fields_and_sets_ended_at(hist: History):
    run_id = hist.start(record())
    done = hist.finish(
        run_id,
        outcome=Outcome.DONE,
        http_status=200,
        import_ids=["20250401-000017"],
        counts={"success": 1200, "failure": 4, "other": 30, "stopped": 0},
        response_excerpt='{"result": "success"}',
        result_csv=b"category,email\r\n",
    )
    assert done.outcome is Outcome.DONE and done.http_status == 200
    assert done.import_ids == ["20250401-000017"]
    assert done.counts == {"success": 1200, "failure": 4, "other": 30, "stopped": 0}
    assert done.result_csv == b"category,email\r\n" and done.result_csv_size == 16
    assert done.ended_at and datetime.fromisoformat(done.ended_at).tzinfo is not None
    assert done.memo == "月次の登録"  # untouched fields stay
    again = hist.finish(run_id, ended_at="2026-11-29T23:40:00+09:00", message="checked")
    assert again.ended_at == "2026-11-29T23:40:00+09:00" and again.message == "checked"
    with pytest.raises(TypeError, match="nonsense"):
        hist.finish(run_id, nonsense=1)
    with pytest.raises(HistoryError, match="no run #42"):
        hist.finish(42, outcome=Outcome.ERROR)


def test_list_is_newest_first_across_offsets(hist: History):
    a = hist.start(record(started_at="2026-11-29T23:00:00+09:00", memo="a"))  # 14:00 UTC
    b = hist.start(record(started_at="2026-11-29T14:30:00+00:00", memo="b"))  # 14:30 UTC
    c = hist.start(record(started_at="2026-11-29T22:45:00+09:00", memo="c"))  # 13:45 UTC
    hist.finish(b, result_csv=b"x" * 10)
    listed = hist.list()
    assert [r.run_id for r in listed] == [b, a, c]
    assert listed[0].result_csv is None and listed[0].has_result_csv and listed[0].result_csv_size == 10
    assert not listed[1].has_result_csv
    assert [r.run_id for r in hist.list(limit=1, offset=1)] == [a]
    assert hist.count() == 3


def _start_in_child(path: Path) -> int:
    code = (
        "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[2]);"
        "from haihai_tui.core.run.history import History, RunRecord;"
        "from haihai_tui.core.events import Outcome;"
        "r = RunRecord(None, '', None, 'cron', 'I', 'M', [], '', 1, 1, 1, 'h', 'https://h/x', None,"
        " Outcome.RUNNING, None, '', [], None, {}, '');"
        "print(History(Path(sys.argv[1])).start(r))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path), str(REPO)], check=True, capture_output=True, text=True, timeout=20
    )
    return int(out.stdout)


def test_mark_interrupted_dead_pid_only(hist: History):
    dead = _start_in_child(hist.path)  # the child process has exited: its run is orphaned
    alive = hist.start(record())  # this process is alive: its run stays RUNNING
    finished = hist.start(record())
    hist.finish(finished, outcome=Outcome.DONE)
    assert hist.mark_interrupted() == 1
    got = hist.get(dead)
    assert got.outcome is Outcome.UNKNOWN and got.message == INTERRUPTED_MESSAGE and got.ended_at
    assert hist.get(alive).outcome is Outcome.RUNNING
    assert hist.get(finished).outcome is Outcome.DONE
    assert hist.mark_interrupted() == 0


def test_mark_interrupted_after_reboot_and_pid_reuse(hist: History):
    rebooted = hist.start(record())
    reused = hist.start(record())
    with sqlite3.connect(hist.path) as db:
        db.execute("UPDATE runs SET boot_id = 'another-boot' WHERE run_id = ?", (rebooted,))
        # same live pid, but a different process start time: the pid now belongs to someone else
        db.execute("UPDATE runs SET proc_start = '1' WHERE run_id = ?", (reused,))
    expected = 2 if Path("/proc/self/stat").exists() else 1
    assert hist.mark_interrupted() == expected
    assert hist.get(rebooted).outcome is Outcome.UNKNOWN


def test_used_today_follows_the_jst_day(hist: History):
    host = "a01.hm-f.jp"
    hist.start(record(started_at="2026-11-29T23:59:59+09:00", requests=2))
    hist.start(record(started_at="2026-11-30T00:00:00+09:00", requests=3))
    hist.start(record(started_at="2026-11-29T15:30:00+00:00", requests=4))  # 00:30 JST on the 30th
    hist.start(record(started_at="2026-11-30T01:00:00+09:00", requests=5, dry_run=True))
    hist.start(record(started_at="2026-11-30T01:00:00+09:00", requests=6, host="b02.hm-f.jp"))
    before = datetime(2026, 11, 29, 23, 59, 59, 500000, tzinfo=JST)
    after = datetime(2026, 11, 30, 8, 0, tzinfo=JST)
    assert hist.used_today(host, now=before) == 2
    assert hist.used_today(host, now=after) == 7
    assert hist.used_today(host, now=after.astimezone(UTC)) == 7
    assert hist.used_today(host, now=after + timedelta(days=1)) == 0
    assert hist.used_today("b02.hm-f.jp", now=after) == 6


def test_json_output(hist: History):
    run_id = hist.start(record())
    hist.finish(
        run_id,
        outcome=Outcome.ERROR,
        http_status=422,
        code="UNKNOWN_GROUP",
        message="gid 12 does not exist",
        result_csv=b"a,b\r\n",
    )
    data = to_json(hist.get(run_id))
    text = json.dumps(data, ensure_ascii=False)
    back = json.loads(text)
    assert back["outcome"] == "error" and back["state"] == "エラー"
    assert back["http_status"] == 422 and back["code"] == "UNKNOWN_GROUP"
    assert back["conditions"] == ["会社名~株式会社", "search:東京"]
    assert back["has_result_csv"] is True and "result_csv" not in back
    assert to_json(hist.list()[0])["has_result_csv"] is True


def test_table_aligns_japanese_by_display_width(hist: History):
    hist.start(record(executor="tanaka", integration="配配メール 顧客登録", memo="月次", rows=1234))
    r2 = hist.start(
        record(executor="ops", integration="plain ascii", memo="weekly", rows=5, started_at="2026-11-30T09:00:00+09:00")
    )
    hist.finish(r2, outcome=Outcome.UNKNOWN, http_status=None)
    r3 = hist.start(record(integration="ｶﾅ半角 and 全角", memo="改行\nあり", started_at="2026-11-30T10:00:00+09:00"))
    hist.finish(r3, outcome=Outcome.DONE, http_status=200)
    text = format_table(hist.list(), width=100)
    lines = text.splitlines()
    assert len(lines) == 4 and "\n" not in "".join(lines)
    assert {text_width(line) for line in lines} == {text_width(lines[0])}
    assert max(text_width(line) for line in lines) <= 100
    # every column starts (or, right-aligned, ends) at the same display cell on every line
    state_cols = {text_width(line[: line.index(w)]) for line, w in zip(lines, ["state", "完了", "結果不明", "実行中"])}
    assert len(state_cols) == 1
    rows_ends = {
        text_width(line[: line.rindex(w)]) + text_width(w) for line, w in zip(lines, ["rows", "1,234", "5", "1,234"])
    }
    assert len(rows_ends) == 1
    assert "結果不明" in text and "実行中" in text and "完了" in text


def test_table_truncates_to_width(hist: History):
    hist.start(record(integration="配配メール 顧客登録 (とても長い名前の連携設定です)", memo="メモ " * 40))
    lines = format_table(hist.list(), width=80).splitlines()
    assert all(text_width(line) <= 80 for line in lines)
    assert ".." in lines[1]
    assert format_table([]).splitlines()[-1] == "(no runs yet)"


def test_bad_file_gives_a_clear_error(tmp_path: Path):
    path = tmp_path / "history.sqlite3"
    path.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(HistoryError, match="not a readable run history"):
        History(path)


def test_newer_schema_is_refused(tmp_path: Path):
    path = tmp_path / "history.sqlite3"
    History(path)
    with sqlite3.connect(path) as db:
        db.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(HistoryError, match="newer haihai-tui"):
        History(path)


def test_several_processes_write_at_once(hist: History):
    code = (
        "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[2]);"
        "from haihai_tui.core.run.history import History, RunRecord;"
        "from haihai_tui.core.events import Outcome;"
        "h = History(Path(sys.argv[1]))\n"
        "for i in range(25):\n"
        "    r = RunRecord(None, '', None, 'cron', 'I', 'M', [], '', 1, 1, 1, 'h', 'https://h/x', None,"
        " Outcome.RUNNING, None, '', [], None, {}, '')\n"
        "    h.finish(h.start(r), outcome=Outcome.DONE)\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(hist.path), str(REPO)]) for _ in range(4)]
    assert [p.wait(timeout=25) for p in procs] == [0, 0, 0, 0]
    assert hist.count() == 100
    assert all(r.outcome is Outcome.DONE for r in hist.list(limit=200))


HOSTILE = "\x1b]52;c;ZXZpbA==\x07\x1b[2J\x9b31m\u202e"


def test_table_measures_like_rich_and_escapes_outside_text(hist: History):
    from rich.cells import cell_len

    hist.start(record(memo="家族👨\u200d👩\u200d👧です", integration="連携" + HOSTILE, executor="ops" + HOSTILE))
    hist.start(record(memo="plain", integration="plain"))
    lines = format_table(hist.list(), width=100).splitlines()
    assert len({cell_len(line) for line in lines}) == 1  # aligned as the terminal draws it
    text = "\n".join(lines)
    for raw in ("\x1b", "\x07", "\x9b", "\u202e"):
        assert raw not in text
    assert "\\x1b]52;c;ZXZpbA==\\x07" in text


def test_cli_history_table_and_json_never_print_raw_controls(tmp_path: Path, capsys):
    from haihai_tui.cli.main import main

    paths = Paths(tmp_path / "cfg", tmp_path / "data")
    h = History(paths.history_db)
    run_id = h.start(record(memo="メモ" + HOSTILE, integration="連携" + HOSTILE))
    h.finish(run_id, outcome=Outcome.ERROR, message="server said " + HOSTILE, response_excerpt=HOSTILE)
    base = ["--config-dir", str(paths.config_dir), "--data-dir", str(paths.data_dir)]
    assert main(["history", *base]) == 0
    table = capsys.readouterr().out
    assert main(["history", "--json", *base]) == 0
    out = capsys.readouterr().out
    for raw in ("\x1b", "\x07", "\x9b", "\u202e"):
        assert raw not in table and raw not in out
    assert "\\x1b]52" in table
    row = json.loads(out)  # still JSON, and it decodes to the exact text
    assert row["memo"] == "メモ" + HOSTILE and row["message"] == "server said " + HOSTILE
    assert "連携" in out  # readable Japanese is kept
