"""全体権限一覧 and ユーザ: tick permissions, 確定 writes admin.toml (comments kept), refusals shown."""

from __future__ import annotations

from conftest import SIZE, no_canary, notes, screen_text, type_text
from haihai_tui.tui.screens.permissions import PermissionsScreen
from haihai_tui.tui.screens.users import UserFormScreen, UsersScreen

DB, INTEG = 9, 15  # columns of 「DB設定」 and 「システム連携」


async def open_permissions(pilot) -> None:
    await pilot.pause()
    await pilot.press("enter")
    assert isinstance(pilot.app.screen, PermissionsScreen)


async def goto_cell(pilot, row: int, col: int) -> None:
    """Move the grid's cursor to (row, permission column) with g/j/h/l only."""
    grid = pilot.app.screen.query_one("#grid")
    dc = col - grid.cursor_coordinate.column
    await pilot.press("g", *["j"] * row, *(["l"] * dc if dc > 0 else ["h"] * -dc))
    assert tuple(grid.cursor_coordinate) == (row, col)


async def test_grant_db_settings_and_integration_writes_only_that_line(make_app, tui_paths):
    before = tui_paths.admin.read_text(encoding="utf-8")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_permissions(pilot)
        text = screen_text(app)
        for label in ("login", "admin", "tanaka", "システム設定", "DB設定", "システム連携"):
            assert label in text
        await goto_cell(pilot, 1, DB)  # tanaka, 「DB設定」
        assert "column 9: DB設定 (DB settings)" in screen_text(app)
        await pilot.press("space")
        await goto_cell(pilot, 1, INTEG)
        await pilot.press("space")
        text = screen_text(app)
        assert "Not saved (F2 確定): tanaka: +DB設定 +システム連携" in text
        assert tui_paths.admin.read_text(encoding="utf-8") == before  # nothing written before 確定
        await pilot.press("f2")
        assert "確定: saved permissions of tanaka" in screen_text(app)
        assert not app.screen.is_dirty()
    after = tui_paths.admin.read_text(encoding="utf-8")
    b, a = before.splitlines(), after.splitlines()
    assert len(a) == len(b)
    changed = [(x, y) for x, y in zip(b, a) if x != y]
    assert len(changed) == 1
    old, new = changed[0]
    assert old.startswith('permissions = ["ログ閲覧"]')
    assert new.startswith('permissions = ["ログ閲覧", "DB設定", "システム連携"]')
    assert new.endswith("# may look and run, may not change settings")  # the comment stays
    assert "# ユーザ (users). login = the OS account name" in after


async def test_untick_then_tick_is_no_change(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_permissions(pilot)
        await goto_cell(pilot, 1, 5)  # tanaka holds ログ閲覧
        await pilot.press("space")
        assert "-ログ閲覧" in screen_text(app)
        await pilot.press("space")
        assert not app.screen.is_dirty()


async def test_user_without_grant_is_refused_with_the_sentence(make_app, tui_paths):
    before = tui_paths.admin.read_text(encoding="utf-8")
    app = make_app(login="tanaka")
    async with app.run_test(size=SIZE) as pilot:
        await open_permissions(pilot)
        assert "Read-only: changing permissions needs 「権限付与」" in screen_text(app)
        await goto_cell(pilot, 1, DB)
        await pilot.press("space")
        assert "changing permissions needs 「権限付与」, which you do not hold" in notes(app)
        await pilot.press("f2", "a")
        assert "needs 「ユーザ設定」" in notes(app)
        assert not isinstance(app.screen, UserFormScreen)
        no_canary(app)
    assert tui_paths.admin.read_text(encoding="utf-8") == before


async def test_nobody_grants_what_they_do_not_hold(make_app, tui_paths):
    text = tui_paths.admin.read_text(encoding="utf-8")
    tui_paths.admin.write_text(
        text.replace('permissions = ["ログ閲覧"]', 'permissions = ["ログ閲覧", "権限付与"]'), encoding="utf-8"
    )
    app = make_app(login="tanaka")
    async with app.run_test(size=SIZE) as pilot:
        await open_permissions(pilot)
        await goto_cell(pilot, 1, DB)
        await pilot.press("space")
        assert "you cannot grant 「DB設定」: you do not hold it yourself" in notes(app)
        assert not app.screen.is_dirty()


async def test_add_edit_and_remove_a_user(make_app, tui_paths):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_permissions(pilot)
        await pilot.press("a")
        assert isinstance(app.screen, UserFormScreen)
        await type_text(pilot, "suzuki")
        await pilot.press("enter")
        await type_text(pilot, "鈴木 花子")
        await pilot.press("enter")
        await type_text(pilot, "suzuki@example.co.jp")
        await pilot.press("enter")
        assert isinstance(app.screen, PermissionsScreen)
        assert "suzuki" in screen_text(app)
        assert 'login = "suzuki"' in tui_paths.admin.read_text(encoding="utf-8")
        # edit: the user row is the last one
        await pilot.press("G", "e")
        assert isinstance(app.screen, UserFormScreen)
        await pilot.press("enter", "end", *" (経理)", "enter", "enter")
        assert "鈴木 花子 (経理)" in tui_paths.admin.read_text(encoding="utf-8")
        # a duplicate login is refused inside the form, with the reason
        await pilot.press("a", *"tanaka", "enter", "enter", "enter")
        assert isinstance(app.screen, UserFormScreen)
        assert "a user 'tanaka' already exists" in screen_text(app)
        await pilot.press("escape")
        await pilot.press("G", "d")
        assert "Remove user 'suzuki'" in screen_text(app)
        await pilot.press("y")
        assert "suzuki" not in tui_paths.admin.read_text(encoding="utf-8")
        assert "suzuki" not in screen_text(app).split("Removed")[0]


async def test_users_screen_lists_users_and_refuses_without_user_settings(make_app):
    app = make_app(login="tanaka")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("down", "enter")
        assert isinstance(app.screen, UsersScreen)
        text = screen_text(app)
        assert "admin" in text and "田中 一郎" in text and "tanaka@example.co.jp" in text
        assert "Read-only: editing users needs 「ユーザ設定」" in text
        await pilot.press("d")
        assert "needs 「ユーザ設定」" in notes(app)


async def test_leaving_with_unticked_changes_asks_first(make_app):
    from haihai_tui.tui.dialogs.common import ConfirmScreen

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_permissions(pilot)
        await goto_cell(pilot, 1, DB)
        await pilot.press("space", "escape")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert isinstance(app.screen, PermissionsScreen) and app.screen.is_dirty()
        await pilot.press("escape", "y")
        assert not isinstance(app.screen, PermissionsScreen)
