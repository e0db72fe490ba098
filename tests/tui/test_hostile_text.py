"""Outside text is hostile: names from the settings, record values and a server's words are shown
literally and terminal-safe on every screen (keyboard only, 80x24).

Names carry Textual markup (``[/]`` crashed the start screen, ``[@click=app.quit]`` became a working
quit link) and ESC sequences (a screen wipe, OSC 52 clipboard writes, OSC 8 links); none may reach
the terminal raw or be parsed as markup.
"""

from __future__ import annotations

import tomlkit

from haihai_tui.core.events import Outcome
from haihai_tui.core.records.samples import SAMPLE_DATABASE
from haihai_tui.core.records.store import RecordStore
from haihai_tui.core.settings import store
from haihai_tui.core.text import one_line
from haihai_tui.tui.dialogs.common import PickScreen
from haihai_tui.tui.dialogs.run_confirm import ConfirmRunScreen
from haihai_tui.tui.screens.history import HistoryScreen, RunDetailScreen
from haihai_tui.tui.screens.integration_form import IntegrationFormScreen
from haihai_tui.tui.screens.integrations import IntegrationsScreen
from haihai_tui.tui.screens.menus import MenusScreen
from haihai_tui.tui.screens.permissions import PermissionsScreen
from haihai_tui.tui.screens.progress import ProgressScreen
from haihai_tui.tui.screens.record_list import RecordListScreen
from haihai_tui.tui.screens.start import StartScreen
from haihai_tui.tui.screens.users import UsersScreen

try:  # tests/tui is on sys.path (pytest's default "prepend" import mode, no __init__.py)
    from runfixtures import (  # noqa: F401
        CANARY,
        CLEAN_ROWS,
        CLEAN_SEARCH,
        REGISTER,
        SIZE,
        RunEnv,
        assert_no_canary,
        make_app,
        make_env,
        mock_server,
        screen_text,
        search,
        until,
    )
except ImportError:  # pragma: no cover
    from .runfixtures import (  # noqa: F401
        CANARY,
        CLEAN_ROWS,
        CLEAN_SEARCH,
        REGISTER,
        SIZE,
        RunEnv,
        assert_no_canary,
        make_app,
        make_env,
        mock_server,
        screen_text,
        search,
        until,
    )

import pytest

from conftest import notes

MENU = "顧客[/]一覧"  # MarkupError on start before the fix
CLICK = "[@click=app.quit]終了[/]"  # a working quit link on the start screen before the fix
WIPE = "\x1b[2J\x1b[H"  # clears the terminal
BOLD = f"連携[b]{WIPE}"  # an integration name that opens a bold tag and wipes the screen
OSC52 = "\x1b]52;c;SGVsbG8=\x07"  # writes the clipboard
OSC8 = "\x1b]8;;https://evil.example/\x1b\\link\x1b]8;;\x1b\\"
LABEL = "氏名[/]\x1b[1m"  # a field label: the record list's header, the condition dialog
USER_LOGIN = "evil[b]"
USER_NAME = f"太郎{WIPE}[i]"
HOSTILE_EMAIL = "evil@hostile.test"  # not found by CLEAN_SEARCH
RAW = ("\x1b", "\x07", "\x00", "\x9b")  # ESC, BEL, NUL, CSI: must never reach the terminal


def add_hostile_settings(env: RunEnv, label: bool = True) -> None:
    """Two menus and two integrations with hostile names (copies of the sample ones), a hostile user,
    and (``label``) a hostile field label, which pre-flight refuses to send as a CSV header."""

    def edit_db(doc) -> None:
        for f in doc["databases"][0]["fields"]:
            if label and str(f["id"]) == "name":
                f["label"] = LABEL
        base = doc["integrations"][0]
        for name in (CLICK, BOLD):
            g = tomlkit.table()
            for key in ("url", "csv_encoding", "report_mail"):
                g[key] = base[key]
            g["name"] = name
            headers = tomlkit.table()
            headers["X-HM-apitoken"] = f"${{secret:{REGISTER}}}"
            g["headers"] = headers
            params = tomlkit.table()
            for key, value in base["params"].items():
                params[key] = str(value)
            g["params"] = params
            doc["integrations"].append(g)
        sample = doc["menus"][0]
        for name in (MENU, CLICK):
            m = tomlkit.table()
            m["name"] = name
            for key, value in sample.items():
                if key not in ("name", "integrations"):
                    m[key] = value
            m["integrations"] = [CLICK, BOLD]
            doc["menus"].append(m)

    def edit_admin(doc) -> None:
        u = tomlkit.table()
        u["login"] = USER_LOGIN
        u["name"] = USER_NAME
        u["email"] = "evil@example.jp"
        u["permissions"] = ["ログ閲覧"]
        doc["users"].append(u)

    store.update(env.paths.db, edit_db)
    store.update(env.paths.admin, edit_admin)


def add_hostile_record(env: RunEnv) -> None:
    rs = RecordStore.open(env.paths.records_dir, SAMPLE_DATABASE)
    try:
        rs.insert_rows(
            [(HOSTILE_EMAIL, f"悪{OSC52}社", f"名{WIPE}\x00{OSC8}", "アク", "東京都", "03")],
            [f.id for f in SAMPLE_DATABASE.fields],
        )
    finally:
        rs.close()


@pytest.fixture
def hostile(tmp_path, mock_server) -> RunEnv:
    env = make_env(tmp_path, mock_server)
    add_hostile_settings(env)
    add_hostile_record(env)
    return env


@pytest.fixture
def hostile_names(tmp_path, mock_server) -> RunEnv:
    """Hostile names of menus, integrations and a user, but sendable labels and records."""
    env = make_env(tmp_path, mock_server)
    add_hostile_settings(env, label=False)
    return env


def shown(app) -> str:
    """The screen as the terminal shows it, after checking that no control character reaches it."""
    text = screen_text(app)
    for ch in RAW:
        assert ch not in text, f"{ch!r} reached the terminal on {type(app.screen).__name__}"
    assert "\x1b" not in app.export_screenshot()
    return text


async def goto(pilot, target: str) -> None:
    """On the start screen: move to the entry ``target`` with j (keys only) and open it with Enter."""
    from textual.widgets import OptionList

    app = pilot.app
    assert isinstance(app.screen, StartScreen)
    ol = app.screen.query_one("#menu", OptionList)
    await pilot.press("g")
    for _ in range(len(ol.options)):
        if ol.highlighted_option is not None and ol.highlighted_option.id == target:
            break
        await pilot.press("j")
    assert ol.highlighted_option is not None and ol.highlighted_option.id == target
    await pilot.press("enter")
    await pilot.pause()


async def test_hostile_names_show_literally_and_enter_never_quits(hostile) -> None:
    app = make_app(hostile)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, StartScreen)  # no MarkupError on start
        text = shown(app)
        assert MENU in text and CLICK in text

        await goto(pilot, f"menu:{CLICK}")  # Enter on the "quit link" opens it
        assert app.is_running and isinstance(app.screen, RecordListScreen)
        await until(pilot, lambda: app.screen.table.total is not None, what="the count")
        assert f"{CLICK} レコード一覧" in shown(app)
        await pilot.press("r")  # the attached integrations, by name
        assert isinstance(app.screen, PickScreen)
        text = shown(app)
        assert CLICK in text and one_line(BOLD) in text
        await pilot.press("escape", "escape")

        await goto(pilot, f"menu:{MENU}")
        assert isinstance(app.screen, RecordListScreen)
        assert MENU in shown(app)
        await pilot.press("escape")

        await goto(pilot, "permissions")
        assert isinstance(app.screen, PermissionsScreen)
        await pilot.press("G")  # the hostile user is the last row
        text = shown(app)
        assert USER_LOGIN in text and "太郎\\x1b[2J\\x1b[H[i]" in text
        await pilot.press("escape")

        await goto(pilot, "users")
        assert isinstance(app.screen, UsersScreen)
        text = shown(app)
        assert USER_LOGIN in text and "太郎\\x1b[2J" in text
        await pilot.press("escape")

        await goto(pilot, "integrations")
        assert isinstance(app.screen, IntegrationsScreen)
        text = shown(app)
        assert CLICK in text and "連携[b]\\x1b[2J" in text
        await pilot.press("G", "enter")  # the form of the BOLD integration
        assert isinstance(app.screen, IntegrationFormScreen)
        shown(app)  # the name's ESC is not drawn raw
        assert app.screen.query_one("#f-name").value == BOLD  # ... but kept exactly in the field
        await pilot.press("escape", "escape")

        await goto(pilot, "menus")
        assert isinstance(app.screen, MenusScreen)
        await pilot.press("G")
        text = shown(app)
        assert MENU in text and CLICK in text and "連携[b]\\x1b[2J" in text
        await pilot.press("escape")

        await pilot.press("ctrl+p")  # the palette lists the names literally
        await pilot.press(*"終了")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert CLICK in shown(app)
        await pilot.press("enter")  # opens the menu, does not quit
        await pilot.pause()
        assert app.is_running and isinstance(app.screen, (RecordListScreen, IntegrationFormScreen, MenusScreen))
        assert app.is_running


async def test_hostile_record_value_is_escaped_in_the_record_list(hostile) -> None:
    app = make_app(hostile)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await goto(pilot, f"menu:{MENU}")
        await until(pilot, lambda: app.screen.table.row(0) is not None, what="the first rows")
        await search(pilot, "hostile")
        table = app.screen.table
        assert table.total == 1
        email, company, name = table.row(0)
        assert email == HOSTILE_EMAIL
        assert company == "悪\\x1b]52;c;SGVsbG8=\\x07社"
        assert name.startswith("名\\x1b[2J\\x1b[H\\x00\\x1b]8;;https://evil.example/")
        text = shown(app)
        assert "悪\\x1b]52" in text and "名\\x1b[2J" in text
        assert one_line(LABEL) in text  # the column header
        await pilot.press("l", "l", "c")  # conditions on the 氏名 column
        text = shown(app)
        assert one_line(LABEL) in text
        await pilot.press(*"x[/]", "enter")
        await until(pilot, lambda: app.screen.table.total == 0, what="the empty result")
        assert f"conditions: {one_line(LABEL)}~x[/]" in shown(app)


async def test_server_error_text_is_escaped_in_progress_and_history(hostile_names) -> None:
    hostile = hostile_names
    hostile.control("fail-next", {"status": 422, "code": f"BAD{OSC52}{WIPE}"})
    app = make_app(hostile)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await goto(pilot, f"menu:{CLICK}")
        await until(pilot, lambda: app.screen.table.row(0) is not None, what="the first rows")
        await search(pilot, CLEAN_SEARCH)
        await pilot.press("r", "enter")  # the first attached: CLICK
        await until(pilot, lambda: isinstance(app.screen, ConfirmRunScreen), what="the confirm dialog")
        await pilot.press(*"memo[/]", "enter")
        await until(pilot, lambda: isinstance(app.screen, ProgressScreen), what="the progress screen")
        state = await app.runs.wait()
        await pilot.pause()
        assert app.is_running and state.integration == CLICK and state.rows == CLEAN_ROWS
        assert state.outcome is Outcome.ERROR
        log = "\n".join(str(line) for line in app.screen.query_one("#run-log").lines)
        assert "\x1b" not in log and "BAD\\x1b]52;c;SGVsbG8=\\x07" in log
        assert "\\x1b]52" in shown(app)
        told = notes(app)  # the app's notification of the end
        assert f"{CLICK}: エラー" in told and "\x1b" not in told

        await pilot.press("h")
        assert isinstance(app.screen, HistoryScreen)
        await until(pilot, lambda: "エラー" in screen_text(app), what="the run in the history")
        text = shown(app)
        assert "[@click=app.q" in text and "memo[/]" in text
        await pilot.press("enter")
        assert isinstance(app.screen, RunDetailScreen)
        await until(pilot, lambda: "Response" in screen_text(app), what="the details")
        plain = str(app.screen.query_one("#detail-text").render())
        assert "\x1b" not in plain and "BAD\\x1b]52;c;SGVsbG8=\\x07" in plain
        assert f"Integration: {CLICK}" in plain and "Memo: memo[/]" in plain
        shown(app)
        assert_no_canary(app)


async def test_hostile_record_in_the_findings_is_escaped(hostile) -> None:
    from haihai_tui.tui.dialogs.run_preflight import FindingsScreen

    app = make_app(hostile)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await goto(pilot, f"menu:{MENU}")
        await until(pilot, lambda: app.screen.table.row(0) is not None, what="the first rows")
        await search(pilot, "hostile")
        await pilot.press("r", "enter")
        await until(pilot, lambda: isinstance(app.screen, FindingsScreen), what="the findings")
        text = " ".join(shown(app).split())
        assert "悪\\x1b]52;c;SGVsbG8=\\x07社" in text and one_line(LABEL) in text
        await pilot.press("end", "enter")  # jump to the row: back on the list
        await pilot.pause()
        assert isinstance(app.screen, RecordListScreen) and app.is_running
        shown(app)
