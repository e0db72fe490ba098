"""DB設定 > データベース / フィールド設定 at 80x24, by keys only: a newcomer adds a field and sees it as a menu
column choice and in the record list; databases created and renamed; removing a field a menu shows is
refused naming the menu; a removed field's data is kept until dropped; read-only without 「DB設定」."""

from __future__ import annotations

import sqlite3
import tomllib

from conftest import SIZE, no_canary, notes, screen_text
from haihai_tui.core.records.store import RecordStore
from haihai_tui.core.settings import db_editing
from haihai_tui.core.settings.load import load_settings
from haihai_tui.core.settings.model import FieldDef
from haihai_tui.tui.dialogs.common import ConfirmScreen, PickScreen
from haihai_tui.tui.dialogs.form import FormScreen
from haihai_tui.tui.screens.databases import DatabasesScreen
from haihai_tui.tui.screens.fields import FieldsScreen
from haihai_tui.tui.screens.menus import MenusScreen
from haihai_tui.tui.widgets.record_table import RecordTable
from runfixtures import until

IDS = ["email", "company", "name", "kana", "pref", "phone"]
ROWS = [
    ("a@example.jp", "A社", "安藤", "アンドウ", "東京都", "03-1"),
    ("b@example.jp", "B社", "坂井", "", "大阪府", "06-2"),
]


def fill(tui_paths) -> None:
    db = load_settings(tui_paths, validate_all=False).settings.database("customers")
    with RecordStore.open(tui_paths.records_dir, db) as st:
        st.insert_rows(ROWS, IDS)


def columns_of(tui_paths) -> list[str]:
    conn = sqlite3.connect(tui_paths.records_dir / "customers.sqlite3")
    try:
        return [r[1] for r in conn.execute("PRAGMA table_info(records)")]
    finally:
        conn.close()


def flat(app) -> str:
    return " ".join(screen_text(app).split())


async def start_item(pilot, target: str) -> None:
    """On the start screen, move down by keys to the entry ``target`` and open it (robust to new entries)."""
    from textual.widgets import OptionList

    await pilot.pause()
    ol = pilot.app.screen.query_one("#menu", OptionList)
    await pilot.press("g")
    for _ in range(len(ol.options)):
        if ol.highlighted_option is not None and ol.highlighted_option.id == target:
            break
        await pilot.press("down")
    assert ol.highlighted_option is not None and ol.highlighted_option.id == target
    await pilot.press("enter")


async def open_databases(pilot) -> None:
    await start_item(pilot, "databases")
    assert isinstance(pilot.app.screen, DatabasesScreen)


async def open_fields(pilot) -> None:
    await open_databases(pilot)
    await pilot.press("enter")
    assert isinstance(pilot.app.screen, FieldsScreen)
    await pilot.pause()


async def test_newcomer_adds_a_field_and_sees_it_as_a_menu_column_and_in_the_list(make_app, tui_paths):
    fill(tui_paths)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_fields(pilot)
        text = screen_text(app)
        for word in ("customers (顧客管理)", "メールアドレス", "電話番号", "a Add", "d Remove"):
            assert word in text, word
        await pilot.press("a")
        assert isinstance(app.screen, FormScreen)
        await pilot.press(*"rank", "tab", *"ランク", "tab")
        await pilot.press("right", "right", "right", "right")  # text -> email -> number -> date -> select
        assert "select 選択肢" in screen_text(app)
        await pilot.press("tab", *"A, B", "enter")
        assert isinstance(app.screen, FieldsScreen)
        assert "rank           ランク               select [A, B]" in screen_text(app)
        assert "Field ランク added" in notes(app)
        assert "f_rank" in columns_of(tui_paths)  # the record file got its column at once
        # メニュー設定: the new field is offered as a column
        await pilot.press("escape", "escape")
        await start_item(pilot, "menus")
        assert isinstance(app.screen, MenusScreen)
        await pilot.press("tab", "a")
        assert isinstance(app.screen, PickScreen)
        assert ("rank", "rank       ランク") in app.screen.options
        assert "ランク" in screen_text(app)
        await pilot.press("G", "enter", "f2")
        assert "確定: saved 顧客一覧 to db.toml." in notes(app)
        # the record list shows it, with the rows kept
        await pilot.press("escape")
        await start_item(pilot, "menu:顧客一覧")
        table = app.screen.query_one(RecordTable)
        await until(pilot, lambda: "2 / 2 rows" in screen_text(app), what="the record count")
        assert [c.id for c in table.columns][-1] == "rank"
        await pilot.press("l", "l", "l")
        assert "ランク" in screen_text(app)
        # and in the record editor, as a choice of its options
        from haihai_tui.tui.screens.record_editor import RecordEditorScreen

        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RecordEditorScreen), what="the record editor")
        await until(pilot, lambda: app.screen.opened_at is not None, what="the record's values")
        await until(pilot, lambda: "ランク" in screen_text(app), what="the new field in the editor")
        assert "one of: A / B" in screen_text(app)
        no_canary(app)
    cfg = tomllib.loads(tui_paths.db.read_text(encoding="utf-8"))
    assert cfg["databases"][0]["fields"][-1] == {
        "id": "rank",
        "label": "ランク",
        "type": "select",
        "options": ["A", "B"],
    }
    assert cfg["menus"][0]["columns"] == ["email", "company", "name", "rank"]


def shops_entry(paths) -> dict:
    """The [[databases]] table with id "shops" as db.toml holds it now (comments do not count)."""
    doc = tomllib.loads(paths.db.read_text(encoding="utf-8"))
    return next(d for d in doc.get("databases", []) if d.get("id") == "shops")


async def test_create_and_rename_a_database(make_app, tui_paths):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_databases(pilot)
        await pilot.press("n", *"../shops", "tab", *"店舗", "enter")
        assert isinstance(app.screen, FormScreen)  # refused in the form, nothing typed is lost
        assert "may hold only letters" in flat(app)
        await pilot.press("shift+tab", *["backspace"] * 8, *"shops", "f2")
        assert isinstance(app.screen, DatabasesScreen)
        assert "shops            店舗" in screen_text(app)
        assert "Database shops created" in notes(app)
        await pilot.press("e")
        assert isinstance(app.screen, FormScreen)
        await pilot.press("backspace", "backspace", *"店舗一覧", "enter")
        assert "shops            店舗一覧" in screen_text(app)
        await pilot.press("n", *"customers", "tab", *"x", "enter")
        assert "a database with id 'customers' already exists" in flat(app)
        await pilot.press("escape")
        await pilot.press("r")  # its records read-only, then editable again
        assert "shops            店舗一覧                 0 field(s), read-only records" in screen_text(app)
        assert shops_entry(tui_paths).get("read_only") is True
        await pilot.press("r")
        assert "read-only records" not in screen_text(app)
        assert "read_only" not in shops_entry(tui_paths)  # the key is removed, not left as false
        await pilot.press("r")
        await pilot.press("enter")  # the new database's fields: none yet
        assert isinstance(app.screen, FieldsScreen) and app.screen.db_id == "shops"
        assert "No fields yet" in screen_text(app)
    db = load_settings(tui_paths).settings.database("shops")
    assert (db.id, db.name, db.fields, db.read_only) == ("shops", "店舗一覧", [], True)


async def test_remove_is_refused_while_a_menu_shows_it_then_kept_until_dropped(make_app, tui_paths):
    fill(tui_paths)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_fields(pilot)
        await pilot.press("j", "d")  # company: shown by 顧客一覧
        assert isinstance(app.screen, FieldsScreen)
        assert "Field 会社名 is shown by the menu(s) 顧客一覧" in notes(app)
        await pilot.press("j", "j", "d")  # kana: not shown by any menu
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await until(pilot, lambda: "drop the kept data of field kana: 1 non-empty values" in screen_text(app))
        assert "f_kana" in columns_of(tui_paths)  # kept
        assert "kana           フリガナ" not in screen_text(app)
        await pilot.press("D")
        assert isinstance(app.screen, ConfirmScreen)
        assert "drop the kept data of field kana: 1 non-empty values" in screen_text(app)
        await pilot.press("n")  # keep them after all
        assert "f_kana" in columns_of(tui_paths)
        await pilot.press("D", "y")
        await until(pilot, lambda: "Dropped the kept data of field kana (1 values)." in notes(app))
        assert "drop the kept data" not in screen_text(app)
    assert "f_kana" not in columns_of(tui_paths)
    with RecordStore.open(tui_paths.records_dir, load_settings(tui_paths).settings.database("customers")) as st:
        assert st.count() == 2


async def test_reorder_and_rename_a_field_and_a_concurrent_change_is_refused(make_app, tui_paths, me):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_fields(pilot)
        await pilot.press("G", "K")  # phone above pref
        await pilot.press("e")
        assert isinstance(app.screen, FormScreen)
        await pilot.press(*["backspace"] * 4, *"電話", "f2")
        assert "phone          電話" in screen_text(app)
        # someone else changes the fields behind this screen's back
        db_editing.change_field(tui_paths, me, "customers", "kana", FieldDef("kana", "カナ"))
        before = tui_paths.db.read_text(encoding="utf-8")
        await pilot.press("K")
        assert "someone else changed the fields of database 'customers'" in notes(app)
        assert tui_paths.db.read_text(encoding="utf-8") == before
        await pilot.press("f5")
        assert "kana           カナ" in screen_text(app)
    fields = load_settings(tui_paths).settings.database("customers").fields
    assert [f.id for f in fields] == ["email", "company", "name", "kana", "phone", "pref"]
    assert fields[4].label == "電話"


async def test_without_db_settings_everything_is_read_only_with_the_reason(make_app, tui_paths):
    fill(tui_paths)
    before = tui_paths.db.read_text(encoding="utf-8")
    app = make_app(login="tanaka")
    async with app.run_test(size=SIZE) as pilot:
        await open_databases(pilot)
        reason = "Read-only: 'tanaka' lacks 「DB設定」"
        assert reason in flat(app)
        await pilot.press("n", "e", "r")
        assert isinstance(app.screen, DatabasesScreen)
        await pilot.press("enter")
        assert isinstance(app.screen, FieldsScreen)
        assert reason in flat(app)
        assert "メールアドレス" in screen_text(app)  # the fields are still shown
        await pilot.press("a", "e", "d", "K", "D")
        assert isinstance(app.screen, FieldsScreen)
        assert notes(app).count(reason) == 8
    assert tui_paths.db.read_text(encoding="utf-8") == before
    assert "f_kana" in columns_of(tui_paths)


async def test_palette_reaches_the_fields_of_a_database(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+p", *"Fields of", "enter")
        await until(pilot, lambda: isinstance(app.screen, FieldsScreen), what="the fields screen")
        assert app.screen.db_id == "customers"
        await pilot.press("f1")
        text = screen_text(app)
        for binding_id in ("field_add", "field_remove", "field_drop_kept", "field_up"):
            assert binding_id in text, binding_id


async def test_no_ambiguous_width_symbols_on_the_database_screens(make_app, tui_paths):
    from test_shell import chrome_symbols

    fill(tui_paths)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_databases(pilot)
        seen = []
        for keys in (["n"], ["escape", "enter"], ["a"], ["escape", "k", "k", "d"], ["y"]):
            await pilot.press(*keys)
            await pilot.pause()
            seen.append(type(app.screen).__name__)
            text = screen_text(app)
            assert not chrome_symbols(text), (seen[-1], chrome_symbols(text))
        await until(pilot, lambda: "drop the kept data" in screen_text(app), what="the kept data")
        assert not chrome_symbols(screen_text(app))
    assert seen == ["FormScreen", "FieldsScreen", "FormScreen", "ConfirmScreen", "FieldsScreen"]
