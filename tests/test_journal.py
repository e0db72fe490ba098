"""An upload HaiHai accepted is never reported as a failure because the local history was busy.

HaiHai's answer goes to the journal first (one fsync'd JSON line), then to the history; a history held
locked by another process (a long BEGIN EXCLUSIVE) leaves the run's exit code and output as HaiHai
answered, and the next command puts the journalled outcome into the history, once."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys

from corefixtures import CANARY
from haihai_tui.cli.main import main
from haihai_tui.core.events import Outcome
from haihai_tui.core.haihai import client
from haihai_tui.core.run import history as history_mod
from haihai_tui.core.run.history import History
from test_run import cli, env, mock, received  # noqa: F401  (fixtures)


def test_accepted_upload_while_history_is_locked_is_done_and_replayed_once(env, mock, capsys, monkeypatch):  # noqa: F811
    monkeypatch.setattr(history_mod, "BUSY_TIMEOUT_S", 0.2)
    real_send = client.send_import
    locker: list[sqlite3.Connection] = []

    async def send_then_lock(*args, **kwargs):
        result = await real_send(*args, **kwargs)  # HaiHai has answered...
        db = sqlite3.connect(env.history_db, isolation_level=None)
        db.execute("BEGIN EXCLUSIVE")  # ...and another process holds the history
        locker.append(db)
        return result

    monkeypatch.setattr(client, "send_import", send_then_lock)
    try:
        assert cli(env, "--integration", "配配メール 顧客登録") == 0
        out = capsys.readouterr()
        ids = re.findall(r"import_id (\S+)", out.out)
        assert len(ids) == 1 and "完了 (done)" in out.out
        assert len(received(mock)) == 1
        assert "HaiHai's answer stands" in out.err and str(env.history_journal) in out.err
        assert "try again" not in out.err
        lines = env.history_journal.read_text(encoding="utf-8").splitlines()
        assert lines and all(json.loads(line)["fields"]["import_ids"] == ids for line in lines)
    finally:
        for db in locker:
            db.execute("ROLLBACK")
            db.close()
    monkeypatch.setattr(client, "send_import", real_send)

    # the next command (any command) replays the journal into the history
    assert main(["history", "--json", "--data-dir", str(env.data_dir), "--config-dir", str(env.config_dir)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 1
    assert rows[0]["state"] == "完了" and rows[0]["outcome"] == "done" and rows[0]["import_ids"] == ids
    assert rows[0]["http_status"] == 200 and rows[0]["counts"]["success"] == 4
    h = History(env.history_db)
    assert h.replay_journal() == 0 and h.count() == 1  # replaying again adds nothing
    assert env.history_journal.read_bytes() == b""  # everything is in: the journal is emptied
    assert h.mark_interrupted() == 0 and h.get(rows[0]["run_id"]).outcome is Outcome.DONE
    assert CANARY not in env.history_journal.read_text() + out.out + out.err


def test_replay_matches_run_id_and_start_time_and_survives_a_torn_line(tmp_path):
    h = History(tmp_path / "history.sqlite3")
    rec = history_mod.RunRecord(
        None,
        "2026-11-29T23:32:01+09:00",
        None,
        "cron",
        "I",
        "M",
        [],
        "",
        1,
        1,
        1,
        "h",
        "https://h/x",
        None,
        Outcome.RUNNING,
        None,
        "",
        [],
        None,
        {},
        "",
    )
    run_id = h.start(rec)
    h.journal_outcome(
        run_id,
        rec.started_at,
        dict(outcome=Outcome.DONE, import_ids=["20261129-1"], http_status=200, ended_at="2026-11-29T23:33:00+09:00"),
    )
    h.journal_outcome(run_id, "2020-01-01T00:00:00+09:00", dict(outcome=Outcome.ERROR))  # another file's run 1
    with open(h.journal, "a", encoding="utf-8") as f:
        f.write('{"run_id": 1, "started_at": "2026-11-29T23:3')  # a crash mid-write
    assert History(h.path).get(run_id).outcome is Outcome.DONE  # opening the history replays
    got = h.get(run_id)
    assert got.import_ids == ["20261129-1"] and got.http_status == 200 and got.ended_at.endswith("23:33:00+09:00")
    assert h.replay_journal() == 0 and h.count() == 1


def test_a_run_whose_process_died_after_the_answer_is_done_not_unknown(tmp_path):
    path = tmp_path / "history.sqlite3"
    History(path)
    code = (
        "import sys; from pathlib import Path;"
        "from haihai_tui.core.run.history import History, RunRecord;"
        "from haihai_tui.core.events import Outcome;"
        "h = History(Path(sys.argv[1]));"
        "r = RunRecord(None, '', None, 'cron', 'I', 'M', [], '', 1, 1, 1, 'h', 'https://h/x', None,"
        " Outcome.RUNNING, None, '', [], None, {}, '');"
        "i = h.start(r);"
        "h.journal_outcome(i, r.started_at, dict(outcome=Outcome.DONE, import_ids=['x-1'], http_status=200))"
    )
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, timeout=30)  # then it is gone
    # before anything replays, the run looks RUNNING with a dead pid: mark_interrupted alone would say 結果不明
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT outcome FROM runs").fetchall() == [("running",)]
    h = History(path)
    assert h.mark_interrupted() == 0
    got = h.list()[0]
    assert got.outcome is Outcome.DONE and got.import_ids == ["x-1"]
