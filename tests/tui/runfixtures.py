"""Fixtures for the record-list / run / history screen tests (imported by those test files).

A settings folder made from the package's samples (the current login as administrator), the canary
token in a 0600 secrets.toml, sample customers from ``core.samplegen``, a dangerous integration
(import_type 1 without gid: delete from the whole HaiHai database) attached to the menu, and the
mock HaiHai server with every integration URL pointed at it.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import tomlkit

from corefixtures import CANARY  # the one canary token of the suite
from haihai_tui.cli.demo import lay_demo
from haihai_tui.core.paths import Paths
from haihai_tui.core.settings import store
from haihai_tui.core.settings.context import AppContext
from haihai_tui.core.settings.permissions import current_login
from haihai_tui.mock.config import MockConfig
from haihai_tui.mock.server import MockServerThread

MENU = "顧客一覧"
REGISTER = "配配メール 顧客登録"
STOP = "配配メール 配信停止"
DANGER = "配配メール 全削除"
ROWS = 200
CLEAN_SEARCH = "@ex"  # personal addresses only: no emoji, malformed or duplicate row
CLEAN_ROWS = 87  # rows of the sample data that CLEAN_SEARCH finds
EMOJI_ROW = 134  # 1-based positions of samplegen's special rows for ROWS = 200
MALFORMED_ROW = 156
SIZE = (80, 24)
FAST = {"poll_interval": 0.05, "poll_timeout": 10.0}


@dataclass
class RunEnv:
    paths: Paths
    mock: MockServerThread

    def ctx(self) -> AppContext:
        return AppContext(self.paths, login=current_login())

    def control(self, name: str, body: dict | None = None) -> dict:
        """POST /_mock/<name> (fail-next, delay, reset-mid-body, maintenance, reset ...)."""
        req = urllib.request.Request(
            f"{self.mock.url}/_mock/{name}",
            data=json.dumps(body or {}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=5) as resp:
            return json.loads(resp.read() or b"{}")

    def received(self) -> list[dict]:
        """The import calls the mock received (token shown as ***)."""
        with urllib.request.urlopen(f"{self.mock.url}/_mock/requests", timeout=5) as resp:
            data = json.loads(resp.read())
        return [r for r in data["requests"] if r.get("method") == "POST" and str(r.get("path", "")).endswith("/import")]


def add_dangerous(paths: Paths) -> None:
    """An integration that deletes from the whole HaiHai database, attached to the menu."""

    def edit(doc) -> None:
        first = doc["integrations"][0]
        g = tomlkit.table()
        g["name"] = DANGER
        g["url"] = str(first["url"])
        g["csv_encoding"] = "sjis"
        g["report_mail"] = 0
        headers = tomlkit.table()
        headers["X-HM-apitoken"] = f"${{secret:{REGISTER}}}"
        g["headers"] = headers
        params = tomlkit.table()
        params["login_id"] = "ops01"
        params["import_type"] = "1"
        params["report_option"] = "0"
        g["params"] = params
        doc["integrations"].append(g)
        for m in doc["menus"]:
            if str(m["name"]) == MENU:
                m["integrations"].append(DANGER)

    store.update(paths.db, edit)


def make_env(base: Path, mock: MockServerThread, rows: int = ROWS) -> RunEnv:
    paths = lay_demo(base, login=current_login(), token=CANARY, mock_url=mock.url, rows=rows)
    add_dangerous(paths)
    assert (paths.secrets.stat().st_mode & 0o777) == 0o600
    return RunEnv(paths, mock)


@pytest.fixture
def mock_server():
    with MockServerThread(MockConfig.demo(CANARY, processing_delay=0.01)) as m:
        yield m


@pytest.fixture
def env(tmp_path: Path, mock_server: MockServerThread) -> RunEnv:
    return make_env(tmp_path, mock_server)


def make_app(env: RunEnv):
    from haihai_tui.tui.app import HaiHaiApp

    app = HaiHaiApp(env.ctx())
    app.run_execute_options = dict(FAST)
    return app


async def until(pilot, predicate: Callable[[], bool], timeout: float = 15.0, what: str = "") -> None:
    """Let the app work until ``predicate()`` holds (a state wait, not a fixed sleep)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await pilot.pause(0.02)


def screen_text(app) -> str:
    """What the terminal shows, as plain text (rendered like export_screenshot, exported as text)."""
    import io

    from rich.console import Console

    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        record=True,
        legacy_windows=False,
        safe_box=False,
    )
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


def assert_no_canary(app) -> None:
    """The token is on no screen: neither in the SVG export nor in the plain text."""
    assert CANARY not in app.export_screenshot()
    assert CANARY not in screen_text(app)


async def open_menu(pilot, menu: str = MENU) -> None:
    """From the start screen, move to the record-list menu by keys and open it."""
    from textual.widgets import OptionList

    app = pilot.app
    ol = app.screen.query_one("#menu", OptionList)
    await pilot.press("G", "up")  # the record lists sit just above the history entry
    for _ in range(len(ol.options) + 1):
        opt = ol.highlighted_option
        if opt is not None and opt.id == f"menu:{menu}":
            break
        await pilot.press("up")
    assert ol.highlighted_option is not None and ol.highlighted_option.id == f"menu:{menu}"
    await pilot.press("enter")
    from haihai_tui.tui.screens.record_list import RecordListScreen

    await until(pilot, lambda: isinstance(app.screen, RecordListScreen), what="the record list")
    table = app.screen.table
    await until(pilot, lambda: table.total is not None and table.row(0) is not None, what="the first rows")


async def search(pilot, text: str) -> None:
    from haihai_tui.tui.screens.record_list import RecordListScreen

    screen = pilot.app.screen
    assert isinstance(screen, RecordListScreen)
    await pilot.press("slash")
    await pilot.press(*text)
    await pilot.press("enter")
    table = screen.table
    await until(
        pilot,
        lambda: table.total is not None and (table.total == 0 or table.row(0) is not None),
        what="the search result",
    )
