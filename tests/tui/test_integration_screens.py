"""システム連携設定: the list (add, edit, copy, delete) and the form (every field, the KEY/VALUE grid, live
dependency rules, the masked token), driven by keys only."""

from __future__ import annotations

import stat
import tomllib

from conftest import CANARY, SIZE, burst, no_canary, notes, paste, screen_text, type_text
from haihai_tui.tui.dialogs.common import ConfirmScreen
from haihai_tui.tui.screens.integration_form import IntegrationFormScreen
from haihai_tui.tui.screens.integrations import IntegrationsScreen
from haihai_tui.tui.widgets.masked_input import MaskedInput

REGISTER = "配配メール 顧客登録"
STOP = "配配メール 配信停止"
NEW = "テスト連携"
NEW_TOKEN = "NEWTOKEN-55aa"


def flat(app) -> str:
    return " ".join(screen_text(app).split())


async def open_list(pilot) -> None:
    await pilot.pause()
    await pilot.press("down", "down", "down", "enter")  # 全体権限一覧, ユーザ, システム設定, システム連携設定
    assert isinstance(pilot.app.screen, IntegrationsScreen)


def db(tui_paths) -> dict:
    return tomllib.loads(tui_paths.db.read_text(encoding="utf-8"))


def integ(tui_paths, name: str) -> dict | None:
    return next((g for g in db(tui_paths)["integrations"] if g["name"] == name), None)


async def fill_new_integration(pilot, import_type: str = "0") -> None:
    """From the list: a (新規追加), then every field of the seed by keyboard."""
    await pilot.press("a")
    assert isinstance(pilot.app.screen, IntegrationFormScreen)
    await type_text(pilot, NEW)  # システム連携名
    await pilot.press("tab")
    await paste(pilot, "https://127.0.0.1:9443/acct/api/v1/custcsv/import")  # URL
    await pilot.press("tab", "tab")  # X-HM-apitoken from -> token
    await paste(pilot, NEW_TOKEN)
    await pilot.press("tab", "tab", "tab")  # name: -> login_id key -> value
    await type_text(pilot, "ops02")
    await pilot.press("tab", "tab", import_type)  # import_type (a Choice)
    for key, value in (("is", "1"), ("ov", "2"), ("gid", "12"), ("rep", "2")):
        await pilot.press("f7")  # add a row
        await type_text(pilot, key)
        await pilot.press("right", "tab")  # accept the suggested key
        await type_text(pilot, value)
    await pilot.press("tab", "tab", "space")  # CSV header: off
    await pilot.press("tab", "u", "tab", "1", "tab", "a")  # UTF-8, report mail 1, to admin


async def test_list_at_80x24_shows_integrations_and_their_source_not_the_token(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_list(pilot)
        text = screen_text(app)
        for label in (
            REGISTER,
            STOP,
            "0 新規登録",
            "2 配信停止",
            "gid 12",
            "新規追加 Add",
            "Esc Back",
            'token: secrets.toml [tokens] "配配メール 顧客登録"',
        ):
            assert label in text, label
        no_canary(app)


async def test_create_an_integration_with_a_full_grid(make_app, tui_paths):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_list(pilot)
        await fill_new_integration(pilot)
        text = flat(app)
        assert "No problems. F2 確定 saves to db.toml." in text
        assert "1 = 上書きする overwrite existing" in text or "overwrite_type" in text
        assert NEW_TOKEN not in screen_text(app)  # typed, but masked
        assert app.screen.query_one("#f-token", MaskedInput).password
        await pilot.press("f2")
        assert isinstance(app.screen, IntegrationsScreen)
        assert NEW in screen_text(app)
        assert f"saved {NEW!r} to db.toml" in notes(app)
    g = integ(tui_paths, NEW)
    assert g["url"] == "https://127.0.0.1:9443/acct/api/v1/custcsv/import"
    assert g["params"] == {
        "login_id": "ops02",
        "import_type": "0",
        "is_overwrite": "1",
        "overwrite_type": "2",
        "gid": "12",
        "report_option": "2",
    }
    assert list(g["params"]) == ["login_id", "import_type", "is_overwrite", "overwrite_type", "gid", "report_option"]
    assert g["headers"] == {"X-HM-apitoken": "${secret:テスト連携}"}
    assert (g["csv_header"], g["csv_encoding"], g["report_mail"], g["report_to"]) == (False, "utf-8", 1, "admin")
    assert (g["json_name"], g["csv_name"], g["body_format"]) == ("import_settings", "customer_list", "json")
    secrets = tui_paths.secrets
    assert tomllib.loads(secrets.read_text(encoding="utf-8"))["tokens"][NEW] == NEW_TOKEN
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    text = tui_paths.db.read_text(encoding="utf-8")
    assert "# HTTPボディ形式: JSON" in text and "# 0 新規登録 register, 1 削除 delete" in text  # comments kept
    assert NEW_TOKEN not in text


async def test_dependency_rule_error_shows_while_typing_and_blocks_saving(make_app, tui_paths):
    before = tui_paths.db.read_text(encoding="utf-8")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_list(pilot)
        await pilot.press("a")
        await type_text(pilot, NEW)
        await pilot.press("tab")
        await paste(pilot, "https://a01.hm-f.jp/acct/api/v1/custcsv/import")
        await pilot.press("tab")  # 'from': an environment variable
        await type_text(pilot, "${HH_TOKEN}")
        assert "environment variable HH_TOKEN is not set" in flat(app)
        await pilot.press("tab", "tab", "tab", "tab")  # -> login_id value
        await type_text(pilot, "ops02")
        assert "0 error(s)" in flat(app) and "error:" not in flat(app)
        await pilot.press("tab", "tab", "2")  # import_type 2 配信停止, no gid / spid
        text = flat(app)
        assert "2 = 配信停止 stop delivery" in text
        assert "error: [params.import_type] import_type 2 (stop delivery) needs gid" in text
        await pilot.press("f2")
        assert isinstance(app.screen, IntegrationFormScreen)
        assert "Not saved: import_type 2 (stop delivery) needs gid" in notes(app)
        await pilot.press("f7")  # add gid: the error goes away
        await type_text(pilot, "gid")
        await pilot.press("tab")
        await type_text(pilot, "１２")  # full-width digits: refused
        assert "full-width digits are not accepted" in flat(app)
        await pilot.press("backspace", "backspace", "1", "2")
        assert "needs gid" not in flat(app)
        await pilot.press("f8")  # delete the row again
        assert "needs gid" in flat(app)
    assert tui_paths.db.read_text(encoding="utf-8") == before


async def test_url_must_be_https_and_name_unique(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_list(pilot)
        await pilot.press("a")
        await type_text(pilot, REGISTER)
        await pilot.press("tab")
        await paste(pilot, "http://a01.hm-f.jp/api_sample/api/v1/custcsv/import")
        text = flat(app)
        assert f"an integration named {REGISTER!r} already exists" in text
        assert "URL must use https://" in text


async def test_the_token_is_masked_and_only_revealed_in_its_input(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_list(pilot)
        no_canary(app)
        await pilot.press("enter")  # edit 配配メール 顧客登録
        assert isinstance(app.screen, IntegrationFormScreen)
        text = flat(app)
        assert 'token from secrets.toml [tokens] "配配メール 顧客登録": set' in text
        no_canary(app)
        await pilot.press("f1")
        no_canary(app)
        await pilot.press("escape")
        assert not app.screen.is_dirty()
        await pilot.press("ctrl+t")  # reveal: only in the token input
        box = app.screen.query_one("#f-token", MaskedInput)
        assert box.value == CANARY and not box.password
        assert CANARY in screen_text(app)
        assert CANARY not in notes(app)
        assert not app.screen.is_dirty()  # revealing is not a change
        await pilot.press("escape")
        assert isinstance(app.screen, IntegrationsScreen)
        no_canary(app)
        await pilot.press("enter")  # a new form: masked again
        no_canary(app)


async def test_edit_rename_keeps_menu_attachment_and_comments(make_app, tui_paths):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_list(pilot)
        await pilot.press("enter", "end")
        await type_text(pilot, " v2")
        assert app.screen.is_dirty()
        await pilot.press("escape")  # unsaved: asks first
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n", "f2")
        assert isinstance(app.screen, IntegrationsScreen)
    data = db(tui_paths)
    assert integ(tui_paths, REGISTER + " v2") is not None
    assert data["menus"][0]["integrations"] == [REGISTER + " v2", STOP]
    text = tui_paths.db.read_text(encoding="utf-8")
    assert "# システム連携名: shown in the record list's run menu" in text


async def test_copy_then_delete_with_confirmation(make_app, tui_paths):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_list(pilot)
        await pilot.press("c")
        assert isinstance(app.screen, IntegrationFormScreen)
        assert f"{REGISTER} copy" in screen_text(app)
        await pilot.press("f2")
        assert integ(tui_paths, f"{REGISTER} copy")["params"] == integ(tui_paths, REGISTER)["params"]
        await pilot.press("g", "d")  # delete the first: 顧客登録
        assert isinstance(app.screen, ConfirmScreen)
        assert "It is attached to: 顧客一覧" in flat(app)
        await pilot.press("n")
        assert integ(tui_paths, REGISTER) is not None
        await pilot.press("d", "y")
        assert "Detached from: 顧客一覧" in notes(app)
    assert integ(tui_paths, REGISTER) is None
    assert db(tui_paths)["menus"][0]["integrations"] == [STOP]


async def test_read_only_without_db_settings_and_integration(make_app, tui_paths):
    before = tui_paths.db.read_text(encoding="utf-8")
    app = make_app(login="tanaka")
    async with app.run_test(size=SIZE) as pilot:
        await open_list(pilot)
        refusal = "Read-only: 'tanaka' lacks 「DB設定」 and 「システム連携」"
        assert refusal in flat(app)
        for key in ("a", "c", "d"):
            await pilot.press(key)
            assert isinstance(app.screen, IntegrationsScreen)
        assert notes(app).count(refusal) == 3
        await pilot.press("enter")  # may look, not change
        assert isinstance(app.screen, IntegrationFormScreen)
        assert refusal in flat(app)
        assert all(i.disabled for i in app.screen.query("#form Input"))
        await pilot.press("f2", "ctrl+t", "f7")
        assert notes(app).count(refusal) == 6
        no_canary(app)
        await pilot.press("escape")
        assert isinstance(app.screen, IntegrationsScreen)
    assert tui_paths.db.read_text(encoding="utf-8") == before


async def test_type_ahead_lands_in_the_right_fields(make_app):
    """Keys that arrive together (tmux, a fast typist) follow Tab and F7 into the next field."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_list(pilot)
        await pilot.press("a")
        await burst(
            pilot, "T", "1", "tab", "u", "tab", "tab", "tab", "tab", "tab", "o", "p", "f7", "g", "i", "d", "tab", "7"
        )
        form = app.screen
        assert form.query_one("#f-name").value == "T1"
        assert form.query_one("#f-url").value == "u"
        assert form.current().params == {"login_id": "op", "import_type": "0", "gid": "7"}
