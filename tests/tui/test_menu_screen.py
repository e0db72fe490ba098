"""メニュー設定: attach an integration to a menu (choose -> 追加 -> reorder -> 確定), edit its columns."""

from __future__ import annotations

import tomllib

from conftest import SIZE, notes, screen_text
from haihai_tui.core.settings import editing
from haihai_tui.core.settings.model import Integration
from haihai_tui.tui.dialogs.common import ConfirmScreen, PickScreen
from haihai_tui.tui.screens.menus import MenusScreen

REGISTER = "配配メール 顧客登録"
STOP = "配配メール 配信停止"
NEW = "配配メール 再登録"


def menu(tui_paths) -> dict:
    return tomllib.loads(tui_paths.db.read_text(encoding="utf-8"))["menus"][0]


def add_integration(tui_paths, me: str) -> None:
    """A third integration in db.toml, written the way the form writes it."""
    editing.save_integration(
        tui_paths,
        me,
        Integration(
            name=NEW,
            url="https://a01.hm-f.jp/api_sample/api/v1/custcsv/import",
            headers={"X-HM-apitoken": "${secret:配配メール 顧客登録}"},
            params={"login_id": "ops01", "import_type": "5", "gid": "12"},
        ),
        environ={},
    )


async def open_menus(pilot) -> None:
    from test_database_screens import start_item

    await start_item(pilot, "menus")
    assert isinstance(pilot.app.screen, MenusScreen)


async def test_menus_at_80x24_show_columns_and_attached_integrations(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_menus(pilot)
        text = screen_text(app)
        for label in (
            "顧客一覧",
            "メールアドレス",
            "会社名",
            "お名前",
            REGISTER,
            STOP,
            "列 columns",
            "システム連携設定 attached",
            "F2 確定 Save",
            "a 追加 Add",
        ):
            assert label in text, label


async def test_attach_an_integration_reorder_and_confirm(make_app, tui_paths, me):
    add_integration(tui_paths, me)
    before = tui_paths.db.read_text(encoding="utf-8")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_menus(pilot)
        await pilot.press("tab", "tab")  # menus -> columns -> attached
        await pilot.press("a")  # choose the process ...
        assert isinstance(app.screen, PickScreen)
        assert NEW in screen_text(app)
        assert app.screen.options == [(NEW, NEW)]  # only what is not attached yet
        await pilot.press("enter")  # ... 追加
        assert isinstance(app.screen, MenusScreen)
        assert "Not saved (F2 確定): 顧客一覧" in screen_text(app)
        await pilot.press("K", "K")  # reorder: to the top
        assert tui_paths.db.read_text(encoding="utf-8") == before
        await pilot.press("f2")  # 確定
        assert "確定: saved 顧客一覧 to db.toml." in notes(app)
        assert not app.screen.is_dirty()
    assert menu(tui_paths)["integrations"] == [NEW, REGISTER, STOP]
    after = tui_paths.db.read_text(encoding="utf-8")
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines()) if a != b]
    assert len(changed) == 1 and changed[0][1].startswith(f'integrations = ["{NEW}", "{REGISTER}", "{STOP}"]')
    assert changed[0][1].endswith("# attached integrations, in order")  # the comment stays


async def test_columns_add_remove_reorder(make_app, tui_paths):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_menus(pilot)
        await pilot.press("tab", "a")  # a column from the database's fields
        assert isinstance(app.screen, PickScreen)
        assert "フリガナ" in screen_text(app) and "kana" in screen_text(app)
        await pilot.press("j", "enter")  # the second offered: pref 都道府県
        await pilot.press("g", "d")  # remove email ...
        assert "no メールアドレス column" in screen_text(app)
        await pilot.press("escape")  # leaving asks first
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n", "G", "J")  # nothing below the last: no move
        await pilot.press("K", "f2")  # company, name, pref -> company, pref, name
    assert menu(tui_paths)["columns"] == ["company", "pref", "name"]


async def test_removing_an_attached_integration(make_app, tui_paths):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_menus(pilot)
        await pilot.press("tab", "tab", "G", "d", "f2")
    assert menu(tui_paths)["integrations"] == [REGISTER]


async def test_menu_settings_refused_without_permissions(make_app, tui_paths):
    before = tui_paths.db.read_text(encoding="utf-8")
    app = make_app(login="tanaka")
    async with app.run_test(size=SIZE) as pilot:
        await open_menus(pilot)
        refusal = "Read-only: 'tanaka' lacks 「DB設定」 and 「システム連携」"
        assert refusal in " ".join(screen_text(app).split())
        await pilot.press("tab", "tab", "a")
        assert isinstance(app.screen, MenusScreen)
        await pilot.press("d", "J", "f2")
        assert notes(app).count(refusal) == 4
        assert not app.screen.is_dirty()
    assert tui_paths.db.read_text(encoding="utf-8") == before


async def test_seed_walkthrough_grant_then_configure_and_attach(make_app, tui_paths):
    """The seed's three screens in order: 全体権限一覧 (grant tanaka) -> システム連携設定 -> メニュー設定."""
    from test_database_screens import start_item
    from test_permissions_screen import DB, INTEG, goto_cell, open_permissions

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_permissions(pilot)
        await goto_cell(pilot, 1, DB)
        await pilot.press("space")
        await goto_cell(pilot, 1, INTEG)
        await pilot.press("space", "f2")
    app = make_app(login="tanaka")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "田中 一郎 (tanaka) - may configure" in screen_text(app)
        await start_item(pilot, "integrations")
        await pilot.press("c", "f2")  # copy 顧客登録 as a new integration
        await pilot.press("escape")
        await start_item(pilot, "menus")  # メニュー設定
        assert isinstance(app.screen, MenusScreen)
        await pilot.press("tab", "tab", "a", "enter", "f2")  # choose it -> 追加 -> 確定
    assert menu(tui_paths)["integrations"] == [REGISTER, STOP, f"{REGISTER} copy"]


def menu_names(tui_paths) -> list[str]:
    return [m["name"] for m in tomllib.loads(tui_paths.db.read_text(encoding="utf-8")).get("menus", [])]


async def test_create_then_delete_a_menu(make_app, tui_paths):
    from haihai_tui.tui.dialogs.form import FormScreen

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_menus(pilot)
        assert "n New menu" in screen_text(app)
        await pilot.press("n")
        assert isinstance(app.screen, FormScreen)
        assert "customers (顧客管理)" in screen_text(app)  # the database to choose
        await pilot.press(*"顧客一覧", "f2")  # a name in use: refused in the form
        assert "a menu named '顧客一覧' already exists" in " ".join(screen_text(app).split())
        await pilot.press(*["backspace"] * 4, *"[b]営業用[/b]", "f2")
        assert isinstance(app.screen, MenusScreen)
        assert "[b]営業用[/b]" in screen_text(app)  # shown literally, never as markup
        assert "[b]営業用[/b]: database customers" in screen_text(app)
        assert "kana" in screen_text(app)  # every field is a column of a new menu
        assert menu_names(tui_paths) == ["顧客一覧", "[b]営業用[/b]"]
        # it is a record list at once (start screen and palette)
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmScreen)
        assert "Delete the menu [b]営業用[/b]?" in screen_text(app)
        assert "only menu that carries" not in screen_text(app)  # it carries no integration
        await pilot.press("n")
        assert menu_names(tui_paths) == ["顧客一覧", "[b]営業用[/b]"]
        await pilot.press("x", "y")
        assert isinstance(app.screen, MenusScreen)
        assert "Menu [b]営業用[/b] deleted." in notes(app)
        assert "営業用" not in screen_text(app)
    assert menu_names(tui_paths) == ["顧客一覧"]


async def test_deleting_the_only_carrier_of_integrations_says_so(make_app, tui_paths):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_menus(pilot)
        await pilot.press("delete")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert f"It is the only menu that carries {REGISTER}, {STOP}:" in " ".join(app.screen.question.split())
        text = screen_text(app)
        assert "It is the only menu that carries 配配メール 顧客登録" in text
        assert "can no longer be run" in text
        await pilot.press("y")
        assert "No menus in db.toml" in " ".join(screen_text(app).split())
    assert menu_names(tui_paths) == []
    cfg = tomllib.loads(tui_paths.db.read_text(encoding="utf-8"))
    assert [g["name"] for g in cfg["integrations"]] == [REGISTER, STOP]  # the integrations stay


async def test_copy_and_rename_a_menu(make_app, tui_paths):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_menus(pilot)
        await pilot.press("c", "enter")  # the proposed name: 顧客一覧 (copy)
        assert isinstance(app.screen, MenusScreen)
        assert "顧客一覧 (copy)" in screen_text(app)
        await pilot.press("e", "end", *["backspace"] * 6, *"営業", "enter")
        assert "顧客一覧 営業" in screen_text(app)
        # the original now shares its integrations: deleting it is no longer the last carrier
        await pilot.press("g", "x")
        assert "only menu that carries" not in screen_text(app)
        await pilot.press("n")
        await pilot.press("tab", "d")  # unsaved column change: rename and the rest wait for F2 or Esc
        await pilot.press("shift+tab", "e")
        assert isinstance(app.screen, MenusScreen)
        assert "Save (F2 確定) or discard (Esc) the unsaved column changes first." in notes(app)
    copy = tomllib.loads(tui_paths.db.read_text(encoding="utf-8"))["menus"][1]
    assert copy["name"] == "顧客一覧 営業"
    assert copy["integrations"] == [REGISTER, STOP] and copy["columns"] == ["email", "company", "name"]


async def test_menu_lifecycle_refused_without_permissions(make_app, tui_paths):
    before = tui_paths.db.read_text(encoding="utf-8")
    app = make_app(login="tanaka")
    async with app.run_test(size=SIZE) as pilot:
        await open_menus(pilot)
        await pilot.press("n", "e", "c", "x")
        assert isinstance(app.screen, MenusScreen)
        assert notes(app).count("Read-only: 'tanaka' lacks 「DB設定」 and 「システム連携」") == 4
    assert tui_paths.db.read_text(encoding="utf-8") == before
