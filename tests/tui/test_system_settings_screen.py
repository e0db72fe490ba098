"""管理者設定 > システム設定 / メール設定 at 80x24, by keys only: a newcomer sets the admin e-mails and SMTP, saves,
sends a test mail to a real local SMTP server (plain, TLS on connect) and sees it accepted; a wrong password shows
the failed step; the SMTP password and the canary token appear on no screen and in no file but secrets.toml;
users without 「システム設定」 see the screen read-only with why."""

from __future__ import annotations

import asyncio
import tomllib
from pathlib import Path

from conftest import SIZE, no_canary, notes, screen_text, type_text
from corefixtures import CANARY
from haihai_tui.tui.screens.system_settings import SystemSettingsScreen
from smtpfixtures import SMTP_PASSWORD, SMTP_USER, smtp_servers  # noqa: F401


async def until(pilot, predicate, timeout: float = 20.0, what: str = "") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.02)


async def open_screen(pilot) -> SystemSettingsScreen:
    """From the start screen: down to システム設定 under 管理者設定 and Enter."""
    await pilot.pause()
    await pilot.press("down", "down", "enter")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, SystemSettingsScreen)
    return screen


async def replace(pilot, text: str) -> None:
    """Empty the focused field and type ``text``."""
    await pilot.press("end", "ctrl+u")
    await type_text(pilot, text)


async def send_test_mail(pilot, screen: SystemSettingsScreen) -> str:
    await pilot.press("f3")
    await until(pilot, lambda: not screen.sending, what="the test mail")
    await pilot.pause()
    return screen_text(pilot.app)


def no_secret_anywhere(app, paths) -> None:
    """Neither the SMTP password nor the canary token on the screen, nor in any file but secrets.toml."""
    for text in (screen_text(app), app.export_screenshot(), notes(app)):
        assert SMTP_PASSWORD not in text and CANARY not in text
    no_canary(app)
    for folder in (paths.config_dir, paths.data_dir):
        for f in Path(folder).rglob("*"):
            if f.is_file() and f.name != "secrets.toml":
                data = f.read_bytes()
                assert SMTP_PASSWORD.encode() not in data and CANARY.encode() not in data, f


async def test_newcomer_sets_smtp_saves_and_the_test_mail_is_accepted(make_app, tui_paths, smtp_servers):
    ctl, handler = smtp_servers.start("plain")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_screen(pilot)
        assert "admin@example.co.jp" in screen_text(app)
        # the admin e-mails are checked as you type
        await replace(pilot, "ops@example.jp, bad@@example.jp")
        text = screen_text(app)
        assert "error: [admin_emails] admin e-mail 'bad@@example.jp' is not an e-mail address" in text
        assert "more than one @" in text and "errors block saving" in text
        await pilot.press(*["backspace"] * len("bad@@example.jp"))
        await type_text(pilot, "it@example.jp")
        await pilot.press("tab")
        await type_text(pilot, "127.0.0.1")
        await pilot.press("tab")
        await replace(pilot, str(ctl.port))
        await pilot.press("tab", "left")  # security: STARTTLS -> none (this local server speaks plain SMTP)
        await pilot.press("tab")
        await type_text(pilot, SMTP_USER)
        await pilot.press("tab")
        await type_text(pilot, SMTP_PASSWORD)
        text = screen_text(app)
        assert "0 error(s), 1 warning(s)" in text and "unencrypted" in text  # plain SMTP with a login
        assert "*" * len(SMTP_PASSWORD) in text
        assert screen.is_dirty()
        await pilot.press("f2")
        await pilot.pause()
        assert "確定: saved to admin.toml and secrets.toml" in notes(app)
        assert not screen.is_dirty()
        admin = tomllib.loads(tui_paths.admin.read_text(encoding="utf-8"))["system"]
        assert admin["admin_emails"] == ["ops@example.jp", "it@example.jp"]
        assert {k: admin["smtp"][k] for k in ("host", "port", "security", "username")} == {
            "host": "127.0.0.1",
            "port": ctl.port,
            "security": "none",
            "username": SMTP_USER,
        }
        assert "starttls" not in admin["smtp"]
        assert tomllib.loads(tui_paths.secrets.read_text(encoding="utf-8"))["smtp"]["password"] == SMTP_PASSWORD
        assert "stored in secrets.toml" in screen_text(app)

        text = await send_test_mail(pilot, screen)
        assert "ACCEPTED" in text, text
        for word in ("ok connected", "ok auth: logged in as 'report-sender'", "ok accepted"):
            assert word in text.replace("    ", " "), text
        assert "Test mail: the server took the message: 250" in notes(app)
        assert len(handler.received) == 1
        got = handler.received[0]
        assert got["login"] == SMTP_USER.encode() and got["rcpt_tos"] == ["ops@example.jp", "it@example.jp"]
        no_secret_anywhere(app, tui_paths)

        # a wrong password: the failed step is shown where the user looks, with the fix
        assert app.focused.id == "f-password"  # saving and testing left the cursor where it was
        await type_text(pilot, "not-the-password")
        text = await send_test_mail(pilot, screen)
        assert "FAILED at auth" in text and "refused" in text, text
        assert "check the login and type the password again" in notes(app).replace("\n", " ")
        assert len(handler.received) == 1
        no_secret_anywhere(app, tui_paths)
        # Esc asks about the unsaved password; "n" stays
        await pilot.press("escape")
        await pilot.pause()
        assert "unsaved changes" in screen_text(app)
        await pilot.press("n")
        await pilot.pause()
        assert app.screen is screen


async def test_tls_on_connect_from_the_screen(make_app, tui_paths, smtp_servers, monkeypatch, tmp_path):
    ctl, handler = smtp_servers.start("tls")
    ca = tmp_path / "ca.pem"
    smtp_servers.ca.cert_pem.write_to_path(str(ca))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))  # the machine trusts the throwaway CA, as an admin would set it up
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_screen(pilot)
        await pilot.press("tab")
        await type_text(pilot, "127.0.0.1")
        await pilot.press("tab")
        await replace(pilot, "465")
        await pilot.press("tab", "right")  # STARTTLS -> TLS on connect
        assert "TLS on connect (465)" in screen_text(app), screen_text(app)
        await pilot.press("shift+tab")
        assert app.focused.id == "f-port"
        await replace(pilot, str(ctl.port))
        await pilot.press("tab", "tab")
        await type_text(pilot, SMTP_USER)
        await pilot.press("tab")
        await type_text(pilot, SMTP_PASSWORD)
        text = await send_test_mail(pilot, screen)  # the form's values, before saving
        assert "ACCEPTED" in text and "on connect, certificate for 127.0.0.1 verified" in text, text
        assert handler.received[0]["tls"] is True and handler.received[0]["login"] == SMTP_USER.encode()
        await pilot.press("f2")
        await pilot.pause()
        admin = tomllib.loads(tui_paths.admin.read_text(encoding="utf-8"))["system"]["smtp"]
        assert admin["security"] == "tls" and admin["port"] == ctl.port
        no_secret_anywhere(app, tui_paths)


async def test_no_host_writes_the_test_mail_to_the_outbox(make_app, tui_paths):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_screen(pilot)
        text = await send_test_mail(pilot, screen)
        assert "written to the outbox" in text
        assert len(list((tui_paths.data_dir / "outbox").glob("*.eml"))) == 1


async def test_read_only_without_system_settings(make_app, tui_paths):
    before = tui_paths.admin.read_bytes()
    app = make_app(login="tanaka")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_screen(pilot)
        text = screen_text(app)
        assert "Read-only: 'tanaka' lacks 「システム設定」" in text
        assert all(w.disabled for w in screen.query("#form Input"))
        await pilot.press("f2")
        await pilot.press("f3")
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert notes(app).count("Read-only: 'tanaka' lacks") == 3
        assert not screen.sending
        no_canary(app)
    assert tui_paths.admin.read_bytes() == before


async def test_palette_and_help_reach_the_screen(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("colon")
        await pilot.pause()
        await type_text(pilot, "System & mail")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, SystemSettingsScreen), what="the palette jump")
        await pilot.press("f1")
        await pilot.pause()
        text = screen_text(app)
        for ident in ("system_save", "system_test_mail", "reveal"):
            assert ident in text
