"""[system.smtp] security (none / STARTTLS / TLS on connect) in admin.toml, older starttls files, and the edits of
the システム設定 screen: admin e-mails and SMTP to admin.toml, the SMTP password to secrets.toml only."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest

from corefixtures import make_settings
from haihai_tui.core.settings import editing
from haihai_tui.core.settings.editing import EditRefused
from haihai_tui.core.settings.load import load_settings
from haihai_tui.core.settings.model import Smtp
from haihai_tui.core.settings.validate import system_problems


def set_smtp(paths, body: str) -> None:
    text = paths.admin.read_text(encoding="utf-8")
    start = text.index("[system.smtp]")
    end = text.index("\n\n", start)
    paths.admin.write_text(text[:start] + "[system.smtp]\n" + body + text[end:], encoding="utf-8")


def loaded(paths):
    out = load_settings(paths, {})
    return out.settings.smtp, [str(p) for p in out.problems]


def test_sample_says_starttls(paths):
    smtp, problems = loaded(paths)
    assert smtp.mode == "starttls" and smtp.security == "starttls" and smtp.port == 587 and problems == []


@pytest.mark.parametrize(
    "body, mode, port",
    [
        ('host = "m.example.jp"\nstarttls = true\n', "starttls", 587),  # a file from before security existed
        ('host = "m.example.jp"\nstarttls = false\n', "none", 587),
        ('host = "m.example.jp"\nsecurity = "tls"\n', "tls", 465),  # the port follows the security when unset
        ('host = "m.example.jp"\nsecurity = "none"\n', "none", 25),
        ('host = "m.example.jp"\nsecurity = "tls"\nport = 2465\n', "tls", 2465),
        ('host = "m.example.jp"\nsecurity = "starttls"\nstarttls = true\n', "starttls", 587),
    ],
)
def test_security_and_older_files(paths, body, mode, port):
    set_smtp(paths, body)
    smtp, problems = loaded(paths)
    assert (smtp.mode, smtp.port, problems) == (mode, port, [])


def test_bad_security_and_contradiction_have_a_line(paths):
    set_smtp(paths, 'host = "m.example.jp"\nsecurity = "ssl"\n')
    smtp, problems = loaded(paths)
    assert smtp.mode == "starttls"  # never falls back to plain text
    assert any(re.search(r"admin\.toml:\d+: .*security must be one of 'none', 'starttls', 'tls'", p) for p in problems)
    set_smtp(paths, 'host = "m.example.jp"\nsecurity = "tls"\nstarttls = true\n')
    _, problems = loaded(paths)
    assert any("contradicts security = 'tls'; remove starttls" in p for p in problems)


def test_system_problems():
    ok = Smtp(host="smtp.example.jp", port=465, security="tls", from_addr="a@example.jp", username="u")
    assert [p for p in system_problems(["a@example.jp"], ok, True) if p[1] == "error"] == []
    found = system_problems(
        ["a@example", "b＠example.jp"], Smtp(host="smtp example", port=70000, from_addr="x", username="u"), False
    )
    fields = sorted({f for f, sev, _ in found if sev == "error"})
    assert fields == ["admin_emails", "from", "host", "password", "port"]
    assert any("full-width ＠" in m for _, _, m in found)
    warn = system_problems(["a@example.jp"], Smtp(host="h.example.jp", port=465, security="starttls"), False)
    assert [(f, s) for f, s, _ in warn] == [("port", "warning")]


def test_save_system_keeps_comments_and_replaces_starttls(paths):
    set_smtp(paths, 'host = "old.example.jp"\nport = 587\nstarttls = true   # keep me?\nfrom = "a@example.jp"\n')
    before, _ = loaded(paths)
    smtp = Smtp(host="smtp.example.jp", port=465, security="tls", from_addr="r@example.jp", username="u1")
    editing.save_system(
        paths,
        "admin",
        ["x@example.jp", "y@example.jp"],
        smtp,
        has_password=True,
        expected=(["admin@example.co.jp"], before),
    )
    text = paths.admin.read_text(encoding="utf-8")
    assert "starttls" not in text.split("[[users]]")[0].split("[system.smtp]")[1]
    assert "# Where レポートメール" in text and "# ユーザ (users)" in text  # comments survive
    s = load_settings(paths, {})
    assert s.problems == []
    assert s.settings.admin_emails == ["x@example.jp", "y@example.jp"]
    got = s.settings.smtp
    assert (got.host, got.port, got.mode, got.from_addr, got.username) == (
        "smtp.example.jp",
        465,
        "tls",
        "r@example.jp",
        "u1",
    )


def test_save_system_refusals(paths):
    smtp, _ = loaded(paths)
    with pytest.raises(EditRefused, match="lacks 「システム設定」"):
        editing.save_system(paths, "tanaka", ["a@example.jp"], smtp, has_password=False)
    with pytest.raises(EditRefused, match="no user entry"):
        editing.save_system(paths, "nobody", ["a@example.jp"], smtp, has_password=False)
    with pytest.raises(EditRefused, match="not an e-mail address"):
        editing.save_system(paths, "admin", ["a@@example.jp"], smtp, has_password=False)
    stale = Smtp(host="someone-else.example.jp")
    with pytest.raises(EditRefused, match="someone else changed"):
        editing.save_system(paths, "admin", ["a@example.jp"], smtp, has_password=False, expected=([], stale))
    assert loaded(paths)[0] == smtp


def test_smtp_password_goes_to_secrets_only(tmp_path: Path):
    paths = make_settings(tmp_path)
    admin_before = paths.admin.read_bytes()
    editing.set_smtp_password(paths, "admin", "new-smtp-pw-42")
    assert "new-smtp-pw-42" not in paths.admin.read_text(encoding="utf-8") and paths.admin.read_bytes() == admin_before
    assert stat.S_IMODE(paths.secrets.stat().st_mode) == 0o600
    s = load_settings(paths, {}).settings
    assert s.secrets.smtp_password.reveal() == "new-smtp-pw-42"
    assert "new-smtp-pw-42" not in repr(s.secrets)
    assert list(paths.config_dir.glob("secrets.toml.bak")) == []  # no copy of the old password lying around
    with pytest.raises(EditRefused, match="lacks"):
        editing.set_smtp_password(paths, "tanaka", "x")
    with pytest.raises(EditRefused, match="spaces around it"):
        editing.set_smtp_password(paths, "admin", " pw ")
    editing.set_smtp_password(paths, "admin", "")
    assert load_settings(paths, {}).settings.secrets.smtp_password is None


@pytest.mark.parametrize(
    "body",
    [
        'host = "m.example.jp"\nsecurity = "tls"\n',
        'host = "m.example.jp"\nsecurity = "ssl"\n',
        'host = "m.example.jp"\n',
    ],
)
def test_what_the_screen_loaded_is_what_is_on_disk(paths, body):
    """A port left to its default or an unknown security word is no 'someone else changed it' on save."""
    set_smtp(paths, body)
    s = load_settings(paths, {}).settings
    smtp = Smtp(host="m.example.jp", port=465, security="tls")
    editing.save_system(paths, "admin", ["a@example.jp"], smtp, has_password=False, expected=(s.admin_emails, s.smtp))
    assert loaded(paths)[0].mode == "tls"
