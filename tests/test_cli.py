"""The small commands: --help, db import, demo --no-tui, option placement."""

from __future__ import annotations

import os
import subprocess
import sys

from haihai_tui.cli.args import build_parser
from haihai_tui.cli.main import main
from haihai_tui.core.records.samples import SAMPLE_DATABASE
from haihai_tui.core.records.store import RecordStore


def test_help_lists_only_working_commands():
    text = build_parser().format_help()
    for cmd in ("tui", "demo", "run", "check", "init", "db", "history", "mock-server"):
        assert cmd in text


def test_config_dir_before_or_after_command(paths):
    a = build_parser().parse_args(["--config-dir", "/x", "check"])
    b = build_parser().parse_args(["check", "--config-dir", "/x"])
    assert a.config_dir == b.config_dir == "/x"


def test_db_import_cp932_and_errors(paths, tmp_path, capsys):
    f = tmp_path / "c.csv"
    f.write_bytes(
        "メールアドレス,会社名,お名前\r\na@example.co.jp,髙橋商事㈱,山﨑 ①\r\nb@example.co.jp,波～,x\r\n".encode(
            "cp932"
        )
    )
    base = ["--config-dir", str(paths.config_dir), "--data-dir", str(paths.data_dir)]
    assert main(["db", "import", "customers", str(f), *base]) == 0
    assert "imported 2 records" in capsys.readouterr().out
    rs = RecordStore.open(paths.records_dir, SAMPLE_DATABASE)
    from haihai_tui.core.records.query import Query

    assert list(rs.iter_rows(Query(), ["company", "name"])) == [("髙橋商事㈱", "山﨑 ①"), ("波～", "x")]
    rs.close()
    bad = tmp_path / "bad.csv"
    bad.write_text("メールアドレス,会社名\na@x.jp,a\nb@x.jp,b,extra\n", encoding="utf-8")
    assert main(["db", "import", "customers", str(bad), *base]) == 1
    err = capsys.readouterr().err
    assert "line 3" in err and "nothing was imported" in err
    assert main(["db", "import", "nope", str(f), *base]) == 2
    assert "databases: customers" in capsys.readouterr().err


def test_demo_no_tui(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "haihai_tui", "demo", "--no-tui", "--dir", str(tmp_path / "d"), "--rows", "300"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "customers in 顧客管理" in r.stdout and "may configure" in r.stdout
    secrets = tmp_path / "d" / "config" / "secrets.toml"
    assert secrets.stat().st_mode & 0o777 == 0o600
    token = secrets.read_text(encoding="utf-8").split('"')[-2]
    assert token not in r.stdout + r.stderr


def test_mock_server_needs_token(capsys, monkeypatch):
    monkeypatch.delenv("HAIHAI_MOCK_TOKEN", raising=False)
    assert main(["mock-server", "--port", "0"]) == 2
    assert "HAIHAI_MOCK_TOKEN" in capsys.readouterr().err


def test_closed_pipe_is_quiet(paths):
    """`haihai-tui check | head -0`: the reader went away; no "[Errno 32] Broken pipe", no traceback."""
    env = dict(os.environ, HAIHAI_TUI_CONFIG_DIR=str(paths.config_dir), HAIHAI_TUI_DATA_DIR=str(paths.data_dir))
    p = subprocess.Popen(
        [sys.executable, "-m", "haihai_tui", "check"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    p.stdout.close()  # before the program writes anything
    err = p.stderr.read().decode()
    rc = p.wait(timeout=60)
    assert "Broken pipe" not in err and "Traceback" not in err, err
    assert rc in (0, 141)


def test_init_writes_samples_once_with_safe_modes(tmp_path, capsys):
    cfg = tmp_path / "cfg"
    old = os.umask(0)
    try:
        assert main(["init", "--config-dir", str(cfg)]) == 0
    finally:
        os.umask(old)
    assert sorted(p.name for p in cfg.iterdir()) == ["admin.toml", "db.toml", "secrets.toml", "tui.toml"]
    assert (cfg / "secrets.toml").stat().st_mode & 0o777 == 0o600
    assert all((cfg / n).stat().st_mode & 0o022 == 0 for n in ("admin.toml", "db.toml", "tui.toml"))
    (cfg / "db.toml").write_text("# mine\n", encoding="utf-8")
    assert main(["init", "--config-dir", str(cfg)]) == 0
    assert (cfg / "db.toml").read_text(encoding="utf-8") == "# mine\n"  # never overwritten
    assert "kept the existing" in capsys.readouterr().err


def test_run_on_a_damaged_record_file_is_one_line(paths, capsys):
    paths.records_dir.mkdir(parents=True, exist_ok=True)
    (paths.records_dir / "customers.sqlite3").write_bytes(b"this is not a database" * 100)
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
            "配配メール 顧客登録",
            "--dry-run",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err and err.count("\n") <= 2, err
    assert "customers" in err
