"""Runs that never end, and what a hostile server says, against a misbehaving loopback server (tests/faults).

httpx's read timeout is per read: a server that drips its answer a byte at a time never trips it.
Every network phase has a TOTAL deadline from the settings (timeouts.answer, .status, .poll); the
poll honours the cancel event; SIGTERM/SIGINT stop `haihai-tui run` like the TUI's cancel; an
import_id once received is never lost; outside text reaches the terminal escaped.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from corefixtures import CANARY, make_settings
from faults.server import HOSTILE_TEXT, IMPORT_ID, RAW_ESCAPES, FaultServer, Script
from haihai_tui.cli.main import main
from haihai_tui.core.events import Outcome
from haihai_tui.core.haihai.client import send_import
from haihai_tui.core.haihai.multipart import ImportRequest
from haihai_tui.core.haihai.status import poll_status
from haihai_tui.core.records.samples import SAMPLE_DATABASE
from haihai_tui.core.records.store import RecordStore
from haihai_tui.core.run.history import History
from haihai_tui.core.secret import Secret
from haihai_tui.core.settings import store
from haihai_tui.core.settings.model import Timeouts

INTEGRATION = "配配メール 顧客登録"
ROWS = [
    ("takahashi@example.co.jp", "髙橋商事㈱", "髙橋 一郎", "タカハシ", "東京都", "03-0000-0001"),
    ("yamasaki@example.co.jp", "山﨑工業", "山﨑 花子", "ヤマサキ", "大阪府", "06-0000-0002"),
    ("maru@example.co.jp", "①商店, 本店", '"丸" 太郎', "マル", "京都府", "075-000-0003"),
    ("nami@example.co.jp", "波～株式会社", "波 次郎", "ナミ", "北海道", "011-000-0004"),
]
SLACK = 3.0  # seconds a deadline may be overrun by start-up, history and report mail on a busy machine


@pytest.fixture(autouse=True)
def no_proxies(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


def settings_for(tmp_path: Path, url: str, rows=ROWS, **timeouts: float):
    """Sample settings pointed at ``url`` with the given timeouts, and the sample customers."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    paths = make_settings(tmp_path)

    def point(doc):
        for g in doc["integrations"]:
            g["url"] = url
            g["report_mail"] = 0
            if timeouts:
                g["timeouts"] = dict(timeouts)

    store.update(paths.db, point)
    from haihai_tui.core.settings.permissions import current_login

    def me(doc):
        doc["users"][0]["login"] = current_login()

    store.update(paths.admin, me)
    rs = RecordStore.open(paths.records_dir, SAMPLE_DATABASE)
    rs.insert_rows(rows, [f.id for f in SAMPLE_DATABASE.fields])
    rs.close()
    return paths


def run_args(paths, *more: str) -> list[str]:
    return [
        "run",
        "--config-dir",
        str(paths.config_dir),
        "--data-dir",
        str(paths.data_dir),
        "--menu",
        "顧客一覧",
        "--integration",
        INTEGRATION,
        *more,
    ]


def no_raw_escapes(text: str) -> None:
    for ch in RAW_ESCAPES:
        assert ch not in text, f"raw {ch!r} reached the terminal"
    assert CANARY not in text


# --- the upload answer ---------------------------------------------------------------------------


def test_dripped_upload_answer_ends_by_the_answer_deadline_as_unknown(tmp_path, capsys):
    """A byte every 50 ms never trips the 1 s read timeout; timeouts.answer (1.5 s) ends the wait.
    One POST only (an answer that never completes is 結果不明, never re-sent)."""
    with FaultServer(Script(import_mode="drip", drip_interval=0.05, drip_bytes=2000)) as srv:
        paths = settings_for(tmp_path, srv.import_url, connect=2, read=1, answer=1.5)
        t0 = time.monotonic()
        code = main(run_args(paths))
        took = time.monotonic() - t0
        assert srv.stats.dripped < 2000  # the drip was still going: only the deadline ended it
    assert code == 3
    assert 1.5 <= took < 1.5 + SLACK
    assert srv.stats.count("POST") == 1
    rec = History(paths.history_db).list()[0]
    assert rec.outcome is Outcome.UNKNOWN and rec.code == "TIMEOUT_AFTER_SEND"
    assert "1.5 s" in rec.message and "timeouts.answer" in rec.message
    out = capsys.readouterr()
    assert "結果不明" in out.out
    no_raw_escapes(out.out + out.err)


async def test_dripped_answer_without_deadline_setting_uses_it_at_the_client(tmp_path):
    """The same at the client itself: send_import returns by timeouts.answer, exactly one POST."""
    csv = tmp_path / "c.csv"
    csv.write_bytes("メールアドレス\r\na@example.co.jp\r\n".encode("cp932"))
    with FaultServer(Script(import_mode="drip", drip_interval=0.05, drip_bytes=2000)) as srv:
        req = ImportRequest(
            url=srv.import_url,
            headers={"X-HM-apitoken": Secret(CANARY)},
            params={"login_id": "x"},
            csv_path=csv,
            timeouts=Timeouts(connect=2, write=2, read=1, pool=2, answer=0.8),
        )
        t0 = time.monotonic()
        r = await send_import(req, max_tries=3, backoff=0.01)
        took = time.monotonic() - t0
        assert srv.stats.count("POST") == 1
    assert r.outcome is Outcome.UNKNOWN and r.code == "TIMEOUT_AFTER_SEND" and r.attempts == 1
    assert 0.8 <= took < 0.8 + SLACK


# --- the status poll -----------------------------------------------------------------------------


def test_dripped_status_ends_by_the_poll_deadline_and_keeps_the_import_id(tmp_path, capsys):
    """Each status request drips; timeouts.status cuts each, timeouts.poll the whole. The import
    stays 完了 with its import_id, and says its row results were not fetched."""
    with FaultServer(Script(import_mode="ok", status_mode="drip", drip_interval=0.05, drip_bytes=2000)) as srv:
        paths = settings_for(tmp_path, srv.import_url, connect=2, read=1, status=0.6, poll=2)
        t0 = time.monotonic()
        code = main(run_args(paths))
        took = time.monotonic() - t0
        assert srv.stats.count("GET") >= 2  # several status requests, each cut by timeouts.status
    assert code == 0
    assert took < 2 + 0.6 + SLACK  # the poll, then one result-file request at most
    rec = History(paths.history_db).list()[0]
    assert rec.outcome is Outcome.DONE and rec.import_ids == [IMPORT_ID]
    assert "not fetched" in rec.message and "timeouts.status" in rec.message
    out = capsys.readouterr()
    assert IMPORT_ID in out.out and "完了" in out.out
    assert "not fetched" in out.err


async def test_poll_honours_the_cancel_event(tmp_path):
    import asyncio

    csv = tmp_path / "c.csv"
    csv.write_bytes(b"x\r\n")
    with FaultServer(Script(status_mode="drip", drip_interval=0.05)) as srv:
        req = ImportRequest(
            url=srv.import_url,
            headers={"X-HM-apitoken": Secret(CANARY)},
            params={},
            csv_path=csv,
            timeouts=Timeouts(connect=2, read=1, status=30, poll=60),
        )
        cancel = asyncio.Event()
        poll = asyncio.ensure_future(poll_status(req, IMPORT_ID, cancel=cancel, interval=0.05))
        for _ in range(200):  # wait (bounded) until the drip has begun
            if srv.stats.dripped:
                break
            await asyncio.sleep(0.02)
        assert srv.stats.dripped, "the status drip never started"
        t0 = time.monotonic()
        cancel.set()
        st = await asyncio.wait_for(poll, 5)
        assert time.monotonic() - t0 < 1.0
    assert st is not None and st.cancelled and not st.finished
    assert "stopped by you" in st.error


# --- signals to `haihai-tui run` ------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_during_the_poll_exits_promptly_and_keeps_the_import_id(tmp_path, sig):
    with FaultServer(Script(import_mode="ok", status_mode="drip", drip_interval=0.05, drip_bytes=20_000)) as srv:
        paths = settings_for(tmp_path, srv.import_url, connect=2, read=5, status=60, poll=120)
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        proc = subprocess.Popen(
            [sys.executable, "-m", "haihai_tui", *run_args(paths)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert srv.status_asked.wait(30), "the run never reached the status poll"
            t0 = time.monotonic()
            proc.send_signal(sig)
            out, err = proc.communicate(timeout=15)
            took = time.monotonic() - t0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert took < SLACK, f"took {took:.1f} s to stop after {sig.name}"
    assert proc.returncode == 0, err
    assert IMPORT_ID in out and "完了" in out
    assert "Traceback" not in err and sig.name in err
    rec = History(paths.history_db).list()[0]
    assert rec.outcome is Outcome.DONE and rec.import_ids == [IMPORT_ID] and rec.ended_at
    assert "not fetched" in rec.message and "stopped by you" in rec.message
    no_raw_escapes(out + err)


# --- outside text in the command line's output ------------------------------------------------------


def test_hostile_server_error_text_is_shown_escaped(tmp_path, capfd):
    with FaultServer(Script(import_mode="hostile", error_status=422)) as srv:
        paths = settings_for(tmp_path, srv.import_url, connect=2, read=5)
        code = main(run_args(paths))
    assert code == 1
    out = capfd.readouterr()
    text = out.out + out.err
    no_raw_escapes(text)
    assert "\\x1b[31mRED" in text or "\\x1b" in text  # shown as an escape, not acted on
    assert "[bold]loud[/bold]" in text and "[@click=app.quit]" in text  # markup shown literally


def test_record_values_and_memo_with_escapes_never_reach_the_terminal(tmp_path, capfd):
    evil = "\x1b]52;c;ZWNobyBwd25lZA==\x07\x1b[2J\x00"
    rows = ROWS + [("evil@example.co.jp", f"悪{evil}商事", f"名前{evil}", "ア", "東京都", "03")]
    with FaultServer(Script(import_mode="hostile")) as srv:
        dirty = settings_for(tmp_path / "dirty", srv.import_url, rows=rows, connect=2, read=5)
        assert main(run_args(dirty, "--dry-run")) == 1  # pre-flight names the characters, row and column
        dry = capfd.readouterr()
        clean = settings_for(tmp_path / "clean", srv.import_url, connect=2, read=5)
        assert main(run_args(clean, "--memo", f"memo{evil}[bold]x[/bold]")) == 1  # sent; HaiHai says 422
        run = capfd.readouterr()
        assert srv.stats.count("POST") == 1
    for text in (dry.out + dry.err, run.out + run.err):
        no_raw_escapes(text)
    assert "row 5" in dry.err and "U+001B" in dry.err and "U+0007" in dry.err and "U+0000" in dry.err
    assert History(clean.history_db).list()[0].memo == f"memo{evil}[bold]x[/bold]"  # kept as typed, shown escaped
    assert HOSTILE_TEXT not in run.out + run.err and "[@click=app.quit]" in run.err


# --- the deadlines in the settings -----------------------------------------------------------------


def test_timeouts_are_read_and_checked_with_file_and_line(tmp_path):
    from haihai_tui.core.settings.load import load_settings

    paths = make_settings(tmp_path)
    text = paths.db.read_text(encoding="utf-8")
    assert "# answer = 600" in text and "# poll = 60" in text  # the sample documents them, commented
    anchor = "daily_quota = 240\n"
    paths.db.write_text(
        text.replace(anchor, anchor + "\n[integrations.timeouts]\nanswer = 45\nstatus = 0\npoll = inf\n", 1),
        encoding="utf-8",
    )
    loaded = load_settings(paths, {})
    g = loaded.settings.integrations[0]
    assert (g.timeouts.answer, g.timeouts.read, g.timeouts.poll) == (45.0, 300.0, float("inf"))
    lines = paths.db.read_text(encoding="utf-8").splitlines()
    bad = {m.group(1): p for p in loaded.problems if (m := re.search(r"(timeouts\.\w+) must", p.message))}
    assert set(bad) == {"timeouts.status", "timeouts.poll"}
    for key in ("status", "poll"):
        p = bad[f"timeouts.{key}"]
        assert p.file == "db.toml" and lines[p.line - 1].startswith(f"{key} =") and "above 0" in p.message
