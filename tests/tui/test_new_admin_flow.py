"""What a new administrator does, by keys only at 80x24: from an empty user list to a finished run.

admin.toml has no users and the menu carries no integration. The person at the terminal makes
themselves the first administrator (ユーザ), attaches the integration to the menu (メニュー設定),
opens the record list, searches, runs, watches it finish and finds it in the history.
"""

from __future__ import annotations

import tomllib

from haihai_tui.core.events import Outcome
from haihai_tui.core.settings import store
from haihai_tui.tui.dialogs.common import ConfirmScreen, PickScreen
from haihai_tui.tui.dialogs.run_confirm import ConfirmRunScreen
from haihai_tui.tui.screens.history import HistoryScreen
from haihai_tui.tui.screens.menus import MenusScreen
from haihai_tui.tui.screens.progress import ProgressScreen
from haihai_tui.tui.screens.users import UsersScreen
from runfixtures import (  # noqa: F401
    CLEAN_SEARCH,
    MENU,
    REGISTER,
    SIZE,
    assert_no_canary,
    env,
    make_app,
    mock_server,
    open_menu,
    screen_text,
    search,
    until,
)


def start_from_nothing(env) -> None:
    def no_users(doc):
        del doc["users"]

    store.update(env.paths.admin, no_users)

    def nothing_attached(doc):
        for m in doc["menus"]:
            m["integrations"] = []

    store.update(env.paths.db, nothing_attached)


async def test_from_an_empty_user_list_to_a_finished_run(env) -> None:
    start_from_nothing(env)
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "read-only settings, may run" in screen_text(app)
        # 管理者設定 > ユーザ: nobody can grant anything yet, so the app offers to make me the first user
        await pilot.press("down", "enter")
        await until(pilot, lambda: isinstance(app.screen, UsersScreen), what="the users screen")
        assert "No users yet" in screen_text(app)
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the first-administrator question")
        assert "first user with all 15 permissions" in screen_text(app)
        await pilot.press("y")
        await until(pilot, lambda: app.ctx.may_configure, what="the new administrator")
        users = tomllib.loads(env.paths.admin.read_text(encoding="utf-8"))["users"]
        assert [u["login"] for u in users] == [app.ctx.login] and len(users[0]["permissions"]) == 15
        assert "may configure" in screen_text(app)
        # DB設定 > 基本設定 > メニュー設定: choose the process -> 追加 -> 確定
        await pilot.press("escape")
        await pilot.press("down", "down", "down", "enter")  # from ユーザ past システム設定, システム連携設定
        await until(pilot, lambda: isinstance(app.screen, MenusScreen), what="メニュー設定")
        await pilot.press("tab", "tab", "a")
        await until(pilot, lambda: isinstance(app.screen, PickScreen), what="the process list")
        await pilot.press("enter", "f2")
        await until(
            pilot,
            lambda: REGISTER in tomllib.loads(env.paths.db.read_text(encoding="utf-8"))["menus"][0]["integrations"],
            what="the attachment saved to db.toml",
        )
        # レコード一覧: open, search, run, confirm
        await pilot.press("escape")
        await open_menu(pilot, MENU)
        await search(pilot, CLEAN_SEARCH)
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, PickScreen), what="the attached integrations")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmRunScreen), what="the confirm dialog")
        assert "register" in screen_text(app)
        await pilot.press(*"初回", "enter")
        await until(pilot, lambda: isinstance(app.screen, ProgressScreen), what="the progress panel")
        state = await app.runs.wait()
        await pilot.pause()
        assert state.outcome is Outcome.DONE
        assert "完了" in screen_text(app)
        assert_no_canary(app)
        # システム連携状況確認: the run is there, with its memo
        await pilot.press("h")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen), what="the history")
        await pilot.pause()
        text = screen_text(app)
        assert "完了" in text and "初回" in text
        assert_no_canary(app)
