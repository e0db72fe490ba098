"""Fixtures for the TUI shell tests: a settings folder copied from haihai_tui/samples/ with the current login as an
administrator, a data folder, the canary token in a 0600 secrets.toml, and helpers to read the screen."""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console

from corefixtures import CANARY  # the one canary token of the suite
from haihai_tui.core.paths import Paths
from haihai_tui.core.settings.context import AppContext
from haihai_tui.core.settings.permissions import current_login

REPO = Path(__file__).resolve().parents[2]

SIZE = (80, 24)
ADMIN_PERMS = '["システム設定", "ユーザ設定", "権限付与", "DB設定", "システム連携"]'


def write_settings(cfg: Path, login: str) -> None:
    cfg.mkdir(mode=0o700, parents=True, exist_ok=True)
    for name in ("admin.toml", "db.toml", "tui.toml"):
        shutil.copyfile(REPO / "haihai_tui" / "samples" / name, cfg / name)
    if login not in ("admin", "tanaka"):
        with open(cfg / "admin.toml", "a", encoding="utf-8") as f:
            f.write(f'\n[[users]]\nlogin = "{login}"\nname = "Test Operator"\npermissions = {ADMIN_PERMS}\n')
    sec = cfg / "secrets.toml"
    sec.write_text(f'# test secrets\n[tokens]\n"配配メール 顧客登録" = "{CANARY}"\n', encoding="utf-8")
    sec.chmod(0o600)


@pytest.fixture
def me() -> str:
    return current_login()


@pytest.fixture
def tui_paths(tmp_path: Path, me: str) -> Paths:
    cfg, data = tmp_path / "config", tmp_path / "data"
    write_settings(cfg, me)
    data.mkdir(mode=0o700)
    return Paths(cfg, data)


@pytest.fixture
def make_app(tui_paths: Paths, me: str) -> Callable:
    """make_app(login=None, environ=None) -> a HaiHaiApp on the tmp settings folder."""
    from haihai_tui.tui.app import HaiHaiApp

    def make(login: str | None = None, environ: dict[str, str] | None = None, mock_note: str = ""):
        ctx = AppContext(tui_paths, login=login or me, environ=environ if environ is not None else {})
        return HaiHaiApp(ctx, mock_note=mock_note)

    return make


def screen_text(app) -> str:
    """The current screen as plain text, the way the terminal shows it (toasts included)."""
    w, h = app.size
    console = Console(
        width=w, height=h, file=io.StringIO(), force_terminal=True, color_system=None, record=True, legacy_windows=False
    )
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


def notes(app) -> str:
    """Every notification message shown so far."""
    return "\n".join(n.message for n in app._notifications)


async def type_text(pilot, text: str) -> None:
    await pilot.press(*text)


async def burst(pilot, *keys: str) -> None:
    """Keys arriving together (fast typing, a terminal's type-ahead), not one at a time like press()."""
    from textual import events
    from textual.keys import _character_to_key

    for key in keys:
        char = key if len(key) == 1 else None
        name = _character_to_key(key) if len(key) == 1 and not key.isalnum() else key
        pilot.app._driver.send_message(events.Key(name, char if name != "tab" else "\t"))
    for _ in range(3):
        await pilot.pause()


async def paste(pilot, text: str) -> None:
    """What the terminal sends when the user pastes (bracketed paste) into the focused field."""
    from textual import events

    pilot.app.post_message(events.Paste(text))
    await pilot.pause()


def no_canary(app) -> None:
    assert CANARY not in screen_text(app)
    assert CANARY not in app.export_screenshot()
