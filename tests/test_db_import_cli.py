"""`haihai-tui db import` on hostile settings and damaged files: a clear message and an exit code, never a
traceback, and nothing written outside the records folder."""

from __future__ import annotations

from types import SimpleNamespace

from haihai_tui.cli.main import main
from haihai_tui.core.records.samples import SAMPLE_DATABASE
from haihai_tui.core.settings.model import Database


def base(paths):
    return ["--config-dir", str(paths.config_dir), "--data-dir", str(paths.data_dir)]


def csv_file(tmp_path):
    f = tmp_path / "c.csv"
    f.write_text("メールアドレス,会社名\r\na@example.jp,A社\r\n", encoding="utf-8")
    return f


def test_a_database_id_that_leaves_the_records_folder_is_refused(paths, tmp_path, capsys):
    db = paths.config_dir / "db.toml"
    db.write_text(
        db.read_text(encoding="utf-8").replace('id = "customers"', 'id = "../../escape"', 1), encoding="utf-8"
    )
    code = main(["db", "import", "../../escape", str(csv_file(tmp_path)), *base(paths)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert not list(tmp_path.rglob("escape*"))


def test_the_store_refuses_such_an_id_even_if_the_settings_let_it_through(paths, tmp_path, capsys, monkeypatch):
    hostile = Database("../../escape\x1b]52;c;AAAA\x07", "x", SAMPLE_DATABASE.fields)
    monkeypatch.setattr(
        "haihai_tui.cli.db.AppContext",
        lambda p: SimpleNamespace(settings=SimpleNamespace(database=lambda name: hostile)),
    )
    code = main(["db", "import", "x", str(csv_file(tmp_path)), *base(paths)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and "\x1b" not in err
    assert "cannot be used as a file name" in err and "nothing was imported" in err
    assert not list(tmp_path.rglob("escape*")) and not paths.records_dir.exists()


def test_a_damaged_record_database_is_a_message_not_a_traceback(paths, tmp_path, capsys):
    paths.records_dir.mkdir(parents=True, mode=0o700)
    (paths.records_dir / "customers.sqlite3").write_bytes(b"this is not SQLite at all" * 100)
    code = main(["db", "import", "customers", str(csv_file(tmp_path)), *base(paths)])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert "cannot be used" in err and "db import" in err and "nothing was imported" in err
