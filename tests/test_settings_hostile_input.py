"""Hostile settings files become `file:line: message` problems, never a traceback, and nothing unsafe is sent."""

from __future__ import annotations

import pytest

from corefixtures import CANARY
from haihai_tui.cli.main import main
from haihai_tui.core.problems import SettingsFileError
from haihai_tui.core.settings import store
from haihai_tui.core.settings.load import load_settings
from haihai_tui.core.settings.tomlpos import scan

DEEP = {
    "arrays": "x = " + "[" * 500 + "]" * 500 + "\n",
    "inline tables": "x = " + "{ a = " * 500 + "1" + " }" * 500 + "\n",
    "mixed": "x = " + "[{ a = " * 250 + "1" + "}]" * 250 + "\n",
    "dotted table header": "[" + ".".join(["a"] * 600) + "]\n",
}


def run_cli(paths, *argv: str) -> int:
    return main([*argv, "--config-dir", str(paths.config_dir), "--data-dir", str(paths.data_dir)])


def test_out_of_range_unicode_escape_in_a_key_is_a_message(paths):
    text = 'a = 1\na = 2\n"\\U00110000" = 3\n'
    assert scan(text).dups[0].line == 2  # the position scanner keeps going
    paths.db.write_text(text, encoding="utf-8")
    [p] = load_settings(paths, {}).problems
    assert (p.file, p.line, p.message) == ("db.toml", 2, "duplicate key a (first defined at line 1)")


@pytest.mark.parametrize("text", DEEP.values(), ids=DEEP.keys())
def test_values_nested_500_deep_are_a_message_in_check_run_and_the_store(paths, text, capsys):
    paths.db.write_text('[[databases]]\nid = "c"\n' + text if text.startswith("x") else text, encoding="utf-8")
    problems = load_settings(paths, {}).problems
    assert [p.file for p in problems] == ["db.toml"], problems
    assert "nested more than 32 levels deep" in problems[0].message
    with pytest.raises(SettingsFileError, match="nested more than 32 levels deep"):
        store.update(paths.db, lambda doc: None)
    assert run_cli(paths, "check") == 1
    out = capsys.readouterr()
    assert "db.toml" in out.out and "nested more than 32" in out.out and "Traceback" not in out.err
    assert run_cli(paths, "run", "--menu", "顧客一覧", "--integration", "配配メール 顧客登録", "--dry-run") != 0
    assert "Traceback" not in capsys.readouterr().err


def test_nesting_a_settings_file_may_need_still_loads(paths):
    text = "x = " + "[" * 32 + "]" * 32 + "\n"
    assert store.parse(text)["x"] is not None


@pytest.mark.parametrize("bad", ["../../x", "a\\u0000b", "", "x" * 65, "顧客", "a b"])
def test_database_ids_that_could_name_another_file_are_refused_with_file_and_line(paths, bad, capsys):
    text = paths.db.read_text(encoding="utf-8")
    paths.db.write_text(
        text.replace('id = "customers"', f'id = "{bad}"', 1).replace('database = "customers"', f'database = "{bad}"'),
        encoding="utf-8",
    )
    rows = paths.db.read_text(encoding="utf-8").splitlines()
    line = next(i for i, row in enumerate(rows, 1) if row.startswith("id ="))
    loaded = load_settings(paths, {})
    first = loaded.errors[0]
    assert (first.file, first.line) == ("db.toml", line)
    assert "may hold only letters A-Z a-z, digits, '_' and '-'" in first.message and "\x00" not in str(first)
    assert loaded.settings.databases == []  # nothing downstream ever sees the id
    assert run_cli(paths, "check") == 1
    assert run_cli(paths, "db", "import", bad, str(paths.db)) == 2
    assert run_cli(paths, "run", "--menu", "顧客一覧", "--integration", "配配メール 顧客登録", "--dry-run") != 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and not (paths.data_dir / "records").exists()
    assert not list(paths.config_dir.parent.rglob("*.sqlite3"))


def _point_header_at(paths, value: str, header: str = "X-HM-apitoken") -> None:
    text = paths.db.read_text(encoding="utf-8")
    paths.db.write_text(
        text.replace('"X-HM-apitoken" = "${secret:配配メール 顧客登録}"', f'"{header}" = "{value}"', 1),
        encoding="utf-8",
    )


@pytest.mark.parametrize("bad", ["\\u007f", "\\n", "\\r", "\\u0000", "\\t"])
def test_a_token_with_a_control_character_is_refused_and_the_header_named(paths, bad):
    paths.secrets.write_text(f'[tokens]\n"配配メール 顧客登録" = "{CANARY}{bad}"\n', encoding="utf-8")
    loaded = load_settings(paths, {})
    msgs = [str(p) for p in loaded.errors]
    assert any(m.startswith("secrets.toml:2: ") and "control character" in m for m in msgs), msgs
    assert any(m.startswith("db.toml:") and "header X-HM-apitoken" in m and "control character" in m for m in msgs)
    assert loaded.settings.secrets.tokens == {} and loaded.settings.load_errors
    assert all(CANARY not in m for m in msgs)


def test_an_environment_token_with_a_control_character_is_refused(paths):
    _point_header_at(paths, "${HAIHAI_API_TOKEN}")
    loaded = load_settings(paths, {"HAIHAI_API_TOKEN": CANARY + "\x7f"})
    [p] = [p for p in loaded.errors if "control character" in p.message]
    assert p.file == "db.toml" and "header X-HM-apitoken" in p.message and "HAIHAI_API_TOKEN" in p.message
    assert CANARY not in str(loaded.problems) and loaded.settings.load_errors
    assert not load_settings(paths, {"HAIHAI_API_TOKEN": CANARY}).errors


@pytest.mark.parametrize(
    ("header", "value", "words"),
    [
        ("X-Extra", "a\\u007fb", "header X-Extra: its value contains a control character"),
        ("X-Extra", "line\\r\\nX-Injected: 1", "header X-Extra: its value contains a control character"),
        ("X Bad", "v", "is not a valid HTTP header name"),
        ("X-Bad\\u0000", "v", "is not a valid HTTP header name"),
    ],
)
def test_any_header_with_a_control_character_or_a_bad_name_is_refused_at_load(paths, header, value, words):
    text = paths.db.read_text(encoding="utf-8")
    paths.db.write_text(
        text.replace(
            '"X-HM-apitoken" = "${secret:配配メール 顧客登録}"',
            f'"X-HM-apitoken" = "${{secret:配配メール 顧客登録}}"\n"{header}" = "{value}"',
            1,
        ),
        encoding="utf-8",
    )
    line = next(
        i for i, row in enumerate(paths.db.read_text(encoding="utf-8").splitlines(), 1) if row.startswith(f'"{header}"')
    )
    loaded = load_settings(paths, {})
    [p] = loaded.errors
    assert (p.file, p.line) == ("db.toml", line) and words in p.message
    assert "\x00" not in str(p) and "\x7f" not in str(p) and "X-Injected" not in str(p)
    assert list(loaded.settings.integrations[0].headers) == ["X-HM-apitoken"]  # the bad header is never sent


def test_the_integration_form_cannot_save_a_header_with_a_control_character(paths):
    from haihai_tui.core.settings import editing

    g = load_settings(paths, {}).settings.integrations[0]
    g.headers["X-Extra"] = "a\x7fb"
    with pytest.raises(editing.EditRefused, match="header X-Extra: its value contains a control character") as e:
        editing.save_integration(paths, "admin", g, g.name, environ={})
    assert "\x7f" not in str(e.value)
    assert "X-Extra" not in paths.db.read_text(encoding="utf-8")
