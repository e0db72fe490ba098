"""Loading and validating settings: every rule, with file:line, and the canary never shown."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from corefixtures import CANARY
from haihai_tui.core.paths import Paths
from haihai_tui.core.settings.load import load_settings

ENV: dict[str, str] = {}


def problems(paths: Paths, env=ENV):
    return load_settings(paths, env).problems


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def line_of(path: Path, needle: str, nth: int = 1) -> int:
    hits = [i for i, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if needle in text]
    return hits[nth - 1]


def only(paths, pattern, severity="error"):
    found = [p for p in problems(paths) if re.search(pattern, p.message) and p.severity == severity]
    assert found, [str(p) for p in problems(paths)]
    return found[0]


def test_samples_load_clean(paths):
    loaded = load_settings(paths, ENV)
    assert [str(p) for p in loaded.problems] == []
    s = loaded.settings
    assert [u.login for u in s.users] == ["admin", "tanaka"]
    assert s.integrations[0].params["import_type"] == "0"
    assert s.menus[0].columns == ["email", "company", "name"]
    assert s.secrets.tokens["配配メール 顧客登録"].reveal() == CANARY
    assert CANARY not in repr(s)


@pytest.mark.parametrize(
    "old,new,pattern,needle",
    [
        ('login_id = "ops01"                         # HaiHai', "#", r"login_id is required", "[integrations.params]"),
        ('import_type = "0"', 'import_type = "4"', r"there is no 4", 'import_type = "4"'),
        ('import_type = "0"', 'import_type = "x"', r"import_type", 'import_type = "x"'),
        ('import_type = "0"', 'import_type = "2"', r"is_overwrite", 'is_overwrite = "1"'),
        ('is_overwrite = "1"', 'is_overwrite = "0"', r"overwrite_type", 'overwrite_type = "1"'),
        (
            'gid = "12"                                 #',
            'spid = "7"\ngid = "12" #',
            r"(both|not both|together)",
            "gid = ",
        ),
        ('report_option = "2"', 'report_option = "9"', r"report_option", 'report_option = "9"'),
        ("report_mail = 2", "report_mail = 7", r"report_mail must be", "report_mail = 7"),
        ('report_to = "executor"', 'report_to = "boss"', r"report_to must be", 'report_to = "boss"'),
        ('csv_encoding = "sjis"', 'csv_encoding = "shift_jis"', r"csv_encoding must be", 'csv_encoding = "shift_jis"'),
        ('url = "https://a01', 'url = "http://a01', r"must use https", 'url = "http://a01'),
    ],
)
def test_rules(paths, old, new, pattern, needle):
    edit(paths.db, old, new)
    p = only(paths, pattern)
    assert p.file == "db.toml"
    assert p.line == line_of(paths.db, needle.split("\n")[0]) or (
        needle == "[integrations.params]" and p.line is not None
    )


def test_type_2_needs_gid_or_spid(paths):
    edit(paths.db, 'gid = "12"\nreport_option = "1"', 'report_option = "1"')
    p = only(paths, r"(gid|spid)")
    assert p.file == "db.toml" and p.line


def test_http_loopback_allowed_and_path_warning(paths):
    edit(paths.db, 'url = "https://a01.hm-f.jp/api_sample/api/v1/custcsv/import"', 'url = "http://127.0.0.1:8787/x/y"')
    ps = problems(paths)
    assert not any("https" in p.message and p.is_error for p in ps)
    w = only(paths, r"does not end in /api/v1/custcsv/import", "warning")
    assert w.line == line_of(paths.db, 'url = "http://127.0.0.1')


def test_unknown_key_did_you_mean(paths):
    edit(paths.db, "csv_header = true", "csv_headr = true")
    p = only(paths, r"unknown key 'csv_headr'.*did you mean 'csv_header'")
    assert p.line == line_of(paths.db, "csv_headr")


def test_unknown_param_key_warns(paths):
    edit(paths.db, 'gid = "12"                                 #', 'gidd = "12" #')
    p = [x for x in problems(paths) if "gidd" in x.message]
    assert p and "gid" in p[0].message


def test_names_unique_and_references(paths):
    edit(paths.db, 'name = "配配メール 配信停止"', 'name = "配配メール 顧客登録"')
    only(paths, r"appears twice")
    edit(paths.db, 'database = "customers"', 'database = "custmers"')
    p = only(paths, r"no database 'custmers'.*did you mean 'customers'")
    assert p.line == line_of(paths.db, 'database = "custmers"')


def test_menu_columns_and_integrations_exist(paths):
    edit(paths.db, 'columns = ["email", "company", "name"]', 'columns = ["email", "compny"]')
    only(paths, r"no column 'compny'.*did you mean 'company'")
    edit(paths.db, 'integrations = ["配配メール 顧客登録", "配配メール 配信停止"]', 'integrations = ["nope"]')
    only(paths, r"no integration 'nope'")


def test_menu_without_email_column(paths):
    edit(paths.db, 'columns = ["email", "company", "name"]', 'columns = ["company", "name"]')
    only(paths, r"no メールアドレス column")


def test_token_header_required(paths):
    edit(paths.db, '"X-HM-apitoken" = "${secret:配配メール 顧客登録}"', '"X-Other" = "1"')
    only(paths, r"needs the X-HM-apitoken header")


def test_literal_token_is_error_and_never_shown(paths, capsys):
    edit(paths.db, '"X-HM-apitoken" = "${secret:配配メール 顧客登録}"', f'"X-HM-apitoken" = "{CANARY}"')
    p = only(paths, r"literal API token.*secrets\.toml")
    assert p.line == line_of(paths.db, '"X-HM-apitoken"')
    assert all(CANARY not in str(x) for x in problems(paths))
    from haihai_tui.cli.main import main

    assert main(["check", "--config-dir", str(paths.config_dir), "--data-dir", str(paths.data_dir)]) == 1
    out = capsys.readouterr()
    assert CANARY not in out.out + out.err
    assert "db.toml:" in out.out


def test_env_reference_missing_is_warning(paths):
    edit(paths.db, '"X-HM-apitoken" = "${secret:配配メール 顧客登録}"', '"X-HM-apitoken" = "${HAIHAI_API_TOKEN}"')
    w = only(paths, r"HAIHAI_API_TOKEN is not set", "warning")
    assert w.line
    assert not [p for p in problems(paths, {"HAIHAI_API_TOKEN": "x"}) if "HAIHAI_API_TOKEN" in p.message]


def test_missing_secret_reference(paths):
    paths.secrets.write_text("[tokens]\n", encoding="utf-8")
    only(paths, r'no \[tokens\] "配配メール 顧客登録"')


def test_secrets_readable_by_others_refused(paths):
    paths.secrets.chmod(0o644)
    p = only(paths, r"chmod 600")
    assert str(paths.secrets) in p.message
    assert load_settings(paths, ENV).settings.secrets.tokens == {}


def test_syntax_error_has_line_and_column(paths):
    text = paths.admin.read_text(encoding="utf-8").splitlines()
    text[5] = "broken = = 1"
    paths.admin.write_text("\n".join(text) + "\n", encoding="utf-8")
    loaded = load_settings(paths, ENV)
    p = [x for x in loaded.problems if x.file == "admin.toml"][0]
    assert p.line == 6
    # what still works: db.toml was read
    assert loaded.settings.integrations


def test_bom_and_shift_jis_files(paths):
    raw = paths.admin.read_bytes()
    paths.admin.write_bytes(b"\xef\xbb\xbf" + raw)
    assert any("BOM" in p.message for p in problems(paths))
    paths.admin.write_bytes(raw.decode("utf-8").replace("\u2014", "-").encode("cp932"))
    assert any("Shift_JIS" in p.message or "cp932" in p.message.lower() for p in problems(paths))


def test_wrong_types_and_permissions(paths):
    edit(paths.admin, "port = 587", 'port = "587"')
    only(paths, r"port must be a whole number")
    edit(paths.admin, '"ログ閲覧"', '"ログ閲覧する"')
    only(paths, r"unknown permission 'ログ閲覧する'.*did you mean 'ログ閲覧'")


def test_smtp_password_in_admin_is_error(paths):
    edit(paths.admin, 'username = ""', f'username = "u"\npassword = "{CANARY}"')
    p = only(paths, r"SMTP password does not belong")
    assert CANARY not in str(p)


def test_every_problem_at_once(paths):
    edit(paths.db, 'import_type = "0"', 'import_type = "4"')
    edit(paths.db, 'report_to = "executor"', 'report_to = "boss"')
    edit(paths.admin, "port = 587", 'port = "x"')
    msgs = " | ".join(str(p) for p in problems(paths))
    assert "no 4" in msgs and "report_to" in msgs and "port" in msgs


def test_check_command(paths, capsys):
    from haihai_tui.cli.main import main

    args = ["check", "--config-dir", str(paths.config_dir), "--data-dir", str(paths.data_dir)]
    assert main(args) == 0
    assert "0 error(s)" in capsys.readouterr().out
    edit(paths.db, "report_mail = 2", "report_mail = 7")
    assert main(args) == 1
    out = capsys.readouterr()
    assert re.search(r"^db\.toml:\d+: \[配配メール 顧客登録\] report_mail must be", out.out, re.M)
    assert CANARY not in out.out + out.err


def test_core_does_not_import_textual():
    code = (
        "import sys, pkgutil, importlib, haihai_tui.core, haihai_tui.mock, haihai_tui.cli\n"
        "for pkg in (haihai_tui.core, haihai_tui.mock, haihai_tui.cli):\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        importlib.import_module(m.name)\n"
        "assert 'textual' not in sys.modules, 'textual imported'\nprint('clean')"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.stdout.strip() == "clean", r.stderr
