"""The record editor from the record list, keyboard only at 80x24: open, edit, save and see it in the list;
add; delete (asks); checks by type as you type; the Windows-31J note; a concurrent save refused; a read-only
database; and the whole flow from a pre-flight finding to a successful run."""

from __future__ import annotations

from haihai_tui.core.events import Outcome
from haihai_tui.core.records.editing import get_record, update_record
from haihai_tui.core.records.query import Query
from haihai_tui.core.records.store import RecordStore
from haihai_tui.core.settings import store as settings_store
from haihai_tui.tui.dialogs.common import ConfirmScreen, MessageScreen
from haihai_tui.tui.dialogs.run_confirm import ConfirmRunScreen
from haihai_tui.tui.dialogs.run_preflight import FindingsScreen
from haihai_tui.tui.screens.record_editor import RecordEditorScreen
from haihai_tui.tui.screens.record_list import RecordListScreen
from runfixtures import (  # noqa: F401  (tests/tui is on sys.path)
    CANARY,
    EMOJI_ROW,
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


def records(env) -> RecordStore:
    ctx = env.ctx()
    return RecordStore.open(env.paths.records_dir, ctx.settings.database(ctx.settings.menu("顧客一覧").database))


def record_at(env, index: int, q: Query = Query()):
    with records(env) as s:
        rowid = s.rows_at(q, ["email"], index, 1, with_rowid=True)[0][-1]
        return get_record(s, rowid)


async def open_editor(pilot) -> RecordEditorScreen:
    app = pilot.app
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(app.screen, RecordEditorScreen), what="the editor")
    ed = app.screen
    await until(pilot, lambda: ed.opened_at is not None, what="the record's values")
    return ed


async def shown(pilot, *parts: str, absent: tuple[str, ...] = ()) -> str:
    """The screen as text once each of ``parts`` is on it and none of ``absent`` (the app lays out after keys)."""
    app = pilot.app
    await until(
        pilot,
        lambda: all(p in screen_text(app) for p in parts) and not any(a in screen_text(app) for a in absent),
        what=f"{parts} shown, {absent} not",
    )
    return screen_text(app)


async def clear_and_type(pilot, text: str) -> None:
    await pilot.press("end", *(["backspace"] * 80))
    await pilot.press(*text)


async def test_open_edit_save_and_see_it_in_the_list(env) -> None:
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await open_menu(pilot)
        await pilot.press("down", "down")  # the third record
        want = record_at(env, 2)
        ed = await open_editor(pilot)
        text = await shown(pilot, want.values["phone"])
        for label in ("メールアドレス", "会社名", "お名前", "フリガナ", "都道府県", "電話番号"):  # every field
            assert label in text
        assert want.values["kana"] in text and want.values["phone"] in text  # not menu columns, still shown
        assert app.focused is ed._input(0)  # the highlighted column: メールアドレス
        await pilot.press("tab")  # 会社名
        await clear_and_type(pilot, "青葉フーズ株式会社")
        assert ed.is_dirty()
        await pilot.press("f2")
        await until(pilot, lambda: ed.saved_at is not None, what="the save")
        await shown(pilot, "Saved record")
        assert record_at(env, 2).values == {**want.values, "company": "青葉フーズ株式会社"}
        await pilot.press("escape")  # saved: no question
        assert isinstance(app.screen, RecordListScreen)
        table = app.screen.table
        await until(pilot, lambda: table.row(2) is not None and "青葉フーズ株式会社" in table.row(2), what="refresh")
        assert table.cursor_row == 2  # refreshed in place
        await shown(pilot, "青葉フーズ株式会社")
        nxt = record_at(env, 3)
        await pilot.press("down")
        again = await open_editor(pilot)  # the same editor, kept by the list, now on the next record
        assert again is ed and ed.rowid == nxt.rowid and ed.values() == nxt.values and not ed.is_dirty()
        await shown(pilot, nxt.values["phone"])
        assert_no_canary(app)


async def test_type_checks_as_you_type_and_add_a_record(env) -> None:
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await open_menu(pilot)
        before = app.screen.table.total
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, RecordEditorScreen), what="the new-record editor")
        ed = app.screen
        await until(pilot, lambda: ed.opened_at is not None, what="ready")
        await shown(pilot, "新規登録", "電話番号")
        await pilot.press(*"new@@example.jp")
        await shown(pilot, "error: not an e-mail address: it has more than one")
        assert ed._note(0)  # the type refuses it
        await pilot.press("tab", *"ケーキ🍰工房")
        text = await shown(pilot, "U+1F370")
        assert "Windows-31J" in text  # the live note with the U+ code
        await pilot.press("f2")  # refused: the e-mail is wrong
        await pilot.pause()
        await shown(pilot, "Not saved: fix メールアドレス")
        assert app.focused is ed._input(0)
        await clear_and_type(pilot, "new@example.jp")
        await shown(pilot, "new@example.jp", absent=("error:",))
        await pilot.press("f2")  # the emoji is a note, not a refusal: pre-flight decides
        await until(pilot, lambda: ed.saved_at is not None, what="the insert")
        await shown(pilot, "Added record")
        rec = record_at(env, before)  # appended at the end (import order)
        assert rec.values["email"] == "new@example.jp" and rec.values["company"] == "ケーキ🍰工房"
        await pilot.press("escape")
        table = app.screen.table
        await until(pilot, lambda: table.total == before + 1, what="the new count")


async def test_delete_asks_then_deletes_one_record(env) -> None:
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await open_menu(pilot)
        table = app.screen.table
        before, first, second = table.total, record_at(env, 0), record_at(env, 1)
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
        await shown(pilot, first.values["email"], "cannot be undone")
        await pilot.press("n")  # no: nothing deleted
        await until(pilot, lambda: isinstance(app.screen, RecordListScreen), what="the list")
        assert record_at(env, 0) == first
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
        await pilot.press("y")
        await until(pilot, lambda: table.total == before - 1, what="the new count")
        assert record_at(env, 0) == second
        await until(pilot, lambda: table.row(0) is not None, what="the refreshed rows")
        assert table.row(0)[0] == second.values["email"]


async def test_concurrent_edit_is_refused_with_what_changed(env) -> None:
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await open_menu(pilot)
        ed = await open_editor(pilot)
        rec = record_at(env, 0)
        with records(env) as other:  # someone else saves the same record meanwhile
            update_record(other, rec.rowid, rec.values, {**rec.values, "company": "他社が保存"})
        await pilot.press("tab")
        await clear_and_type(pilot, "私の変更")
        await pilot.press("f2")
        await until(pilot, lambda: "someone else" in screen_text(app), what="the refusal")
        await shown(pilot, "会社名: theirs '他社が保存', yours '私の変更'")
        assert record_at(env, 0).values["company"] == "他社が保存"  # not overwritten
        assert ed._input(1).value == "他社が保存"  # reloaded
        assert not ed.is_dirty()
        await clear_and_type(pilot, "私の変更")  # again, now over what was seen
        await pilot.press("f2")
        await until(pilot, lambda: ed.saved_at is not None, what="the save")
        assert record_at(env, 0).values["company"] == "私の変更"


async def test_read_only_database_shows_why_and_refuses(env) -> None:
    def mark(doc) -> None:
        doc["databases"][0]["read_only"] = True

    settings_store.update(env.paths.db, mark)
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await open_menu(pilot)
        first = record_at(env, 0)
        ed = await open_editor(pilot)
        await shown(pilot, "read_only = true")
        assert all(ed._input(i).disabled for i in range(len(ed.database.fields)))
        await pilot.press("f2", "f8")
        assert "read_only" in "\n".join(n.message for n in app._notifications)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, RecordListScreen), what="the list")
        await pilot.press("d")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        assert record_at(env, 0) == first


async def test_preflight_emoji_row_fixed_in_the_editor_then_sent(env) -> None:
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await open_menu(pilot)
        await pilot.press("r", "enter")  # the first integration, on the whole list
        await until(pilot, lambda: isinstance(app.screen, FindingsScreen), what="the findings")
        findings = app.screen
        i = next(n for n, f in enumerate(findings.listed) if f.row == EMOJI_ROW and f.codepoint == "U+1F370")
        await pilot.press(*(["down"] * i))
        await pilot.press("enter")  # jump to the row, on the finding's column
        await until(pilot, lambda: isinstance(app.screen, RecordListScreen), what="the list")
        table = app.screen.table
        assert table.cursor_row == EMOJI_ROW - 1 and table.current_column.label == "会社名"
        await until(pilot, lambda: table.row_id(EMOJI_ROW - 1) is not None, what="the row")
        ed = await open_editor(pilot)  # Enter opens the editor on 会社名
        assert app.focused is ed._input(1)
        await shown(pilot, "U+1F370")
        await clear_and_type(pilot, "パティスリーミエル")
        await shown(pilot, "パティスリーミエル", absent=("U+1F370",))
        await pilot.press("f2")
        await until(pilot, lambda: ed.saved_at is not None, what="the save")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, RecordListScreen), what="the list")
        await search(pilot, "ミエル")
        assert app.screen.table.total == 1
        await pilot.press("r", "enter")  # the integration again: no finding now
        await until(pilot, lambda: isinstance(app.screen, ConfirmRunScreen), what="the confirm dialog")
        await pilot.press("f2")
        state = await app.runs.wait()
        assert state.outcome is Outcome.DONE
        [sent] = env.received()
        assert "パティスリーミエル" in sent["csv"]["text"]
        assert_no_canary(app)


async def test_the_findings_key_opens_the_editor_on_the_offending_field(env) -> None:
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await open_menu(pilot)
        await pilot.press("r", "enter")
        await until(pilot, lambda: isinstance(app.screen, FindingsScreen), what="the findings")
        i = next(n for n, f in enumerate(app.screen.listed) if f.row == EMOJI_ROW and f.codepoint == "U+1F370")
        await pilot.press(*(["down"] * i), "e")
        await until(pilot, lambda: isinstance(app.screen, RecordEditorScreen), what="the editor")
        ed = app.screen
        await until(pilot, lambda: ed.opened_at is not None, what="the values")
        assert app.focused is ed._input(1)  # 会社名
        assert "\U0001f370" in ed._input(1).value
        await shown(pilot, "U+1F370")
        assert not any(isinstance(s, MessageScreen) for s in app.screen_stack)


async def test_palette_opens_a_new_record_over_its_list(env) -> None:
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("colon", *"New record in", "enter")
        await until(pilot, lambda: isinstance(app.screen, RecordEditorScreen), what="the new-record editor")
        ed = app.screen
        await until(pilot, lambda: ed.opened_at is not None, what="ready")
        assert ed.rowid is None
        await shown(pilot, "新規登録", "電話番号")
        await pilot.press("escape")  # nothing typed: no question
        await until(pilot, lambda: isinstance(app.screen, RecordListScreen), what="the list under it")


async def test_hostile_values_are_shown_literally_and_terminal_safe(env) -> None:
    hostile = "[bold red]偽[/]\x1b[2J\x1b]52;c;SGVsbG8=\x07"
    with records(env) as s:
        s.insert_rows([("evil@example.jp", hostile)], ["email", "company"])
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await open_menu(pilot)
        await search(pilot, "evil@example")
        ed = await open_editor(pilot)
        assert ed._input(1).value == hostile  # the value is kept exactly
        text = await shown(pilot, "[bold red]偽[/]", "U+001B")  # literal, and the control character named
        assert "\x1b" not in text and "\x07" not in text
        svg = app.export_screenshot()
        assert "\x1b" not in svg and "\x07" not in svg
        assert_no_canary(app)


async def test_a_select_field_completes_its_choices_and_refuses_others(env) -> None:
    def select(doc) -> None:
        for f in doc["databases"][0]["fields"]:
            if str(f["id"]) == "pref":
                f["type"] = "select"
                f["options"] = ["東京都", "大阪府", "茨城県"]

    settings_store.update(env.paths.db, select)
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await open_menu(pilot)
        ed = await open_editor(pilot)
        await pilot.press("tab", "tab", "tab", "tab")  # 都道府県 (choice)
        assert app.focused is ed._input(4)
        await clear_and_type(pilot, "大阪")
        await shown(pilot, "error: not one of the choices:", "'大阪府'")
        assert ed._note(4)  # the type refuses it
        await pilot.press("right")  # accept the completion
        assert ed._input(4).value == "大阪府"
        await shown(pilot, "大阪府", absent=("error:",))
        await pilot.press("f2")
        await until(pilot, lambda: ed.saved_at is not None, what="the save")
        assert record_at(env, 0).values["pref"] == "大阪府"


async def test_f8_in_the_editor_deletes_after_asking(env) -> None:
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await open_menu(pilot)
        table = app.screen.table
        before, first = table.total, record_at(env, 0)
        await open_editor(pilot)
        await pilot.press("f8")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
        await shown(pilot, first.values["email"], "cannot be undone")
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, RecordListScreen), what="back to the list")
        await until(pilot, lambda: table.total == before - 1, what="the new count")
        with records(env) as s:
            assert get_record(s, first.rowid) is None
