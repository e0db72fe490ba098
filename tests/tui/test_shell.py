"""The app shell: start screen, header, footer, help, palette, back/quit, keymaps, broken settings."""

from __future__ import annotations

import unicodedata

from conftest import SIZE, no_canary, notes, screen_text, type_text
from haihai_tui.tui.screens.help import HelpScreen
from haihai_tui.tui.screens.start import StartScreen


def chrome_symbols(text: str) -> set[str]:
    """Ambiguous-width characters other than box drawing (they misalign on CJK terminals)."""
    return {c for c in text if unicodedata.east_asian_width(c) == "A" and not 0x2500 <= ord(c) <= 0x257F}


async def test_start_screen_at_80x24_shows_the_product_menus(make_app, me):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, StartScreen)
        text = screen_text(app)
        for label in (
            "管理者設定",
            "全体権限一覧",
            "ユーザ",
            "DB設定",
            "システム連携設定",
            "メニュー設定",
            "顧客一覧",
            "システム連携状況確認",
            "Permissions",
            "Integrations",
            "Menus",
        ):
            assert label in text, label
        assert me in text and "may configure" in text  # the header: who, and what they may do
        assert "F1 Help" in text and "q Quit" in text and "Enter Open" in text  # the footer
        assert "Esc Back" not in text  # nowhere to go back to
        assert not chrome_symbols(text)
        assert app.animation_level == "none"
        no_canary(app)


async def test_read_only_user_is_told_in_the_header_and_on_the_start_screen(make_app):
    app = make_app(login="tanaka")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "田中 一郎 (tanaka) - read-only settings, may run" in text
        assert "lacks 「DB設定」 and 「システム連携」" in text


async def test_help_lists_every_key_with_ids_and_esc_goes_back(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        rows = app.screen.rows
        ids = {r[2] for r in rows}
        assert {"open", "reload", "quit_start", "help", "palette", "quit", "nav_down"} <= ids
        keys = {r[2]: r[0] for r in rows}
        assert keys["help"] == "F1 ?" and keys["quit"] == "^q" and keys["palette"] == "^p :"
        assert "quit_start" in screen_text(app) and not chrome_symbols(screen_text(app))
        await pilot.press("escape")
        assert isinstance(app.screen, StartScreen)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, StartScreen)


async def test_arrows_and_jk_move_enter_opens_esc_returns(make_app):
    from haihai_tui.tui.screens.permissions import PermissionsScreen
    from haihai_tui.tui.screens.users import UsersScreen

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("j", "enter")  # second entry: ユーザ
        assert isinstance(app.screen, UsersScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, StartScreen)
        await pilot.press("k", "enter")  # back up to 全体権限一覧
        assert isinstance(app.screen, PermissionsScreen)
        await pilot.press("escape", "G", "g", "down", "enter")
        assert isinstance(app.screen, UsersScreen)


async def test_palette_jumps_to_any_screen(make_app):
    from haihai_tui.tui.screens.integrations import IntegrationsScreen
    from haihai_tui.tui.screens.menus import MenusScreen

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+p")
        await type_text(pilot, "メニュー設定")
        await app.workers.wait_for_complete()  # the palette searches in a worker
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, MenusScreen)
        await pilot.press("colon")
        await type_text(pilot, "Integrations")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, IntegrationsScreen)
        assert len(app.screen_stack) == 2  # jumping goes via the start screen, not deeper


async def test_q_quits_only_from_the_start_screen(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("enter")  # 全体権限一覧
        await pilot.press("q")
        assert app.is_running and len(app.screen_stack) == 2
        await pilot.press("escape", "q")
        await pilot.pause()
        assert not app.is_running


async def test_ctrl_q_asks_while_a_run_is_busy(make_app, monkeypatch):
    from haihai_tui.tui.dialogs.common import ConfirmScreen
    from haihai_tui.tui.runs import RunService

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        monkeypatch.setattr(RunService, "busy", property(lambda self: True))
        await pilot.press("enter", "ctrl+q")
        assert isinstance(app.screen, ConfirmScreen)
        assert "run is in progress" in screen_text(app)
        await pilot.press("n")
        assert app.is_running
        await pilot.press("ctrl+q", "y")
        await pilot.pause()
        assert not app.is_running


async def test_ctrl_q_quits_at_once_when_idle(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert not app.runs.busy
        await pilot.press("enter", "ctrl+q")
        await pilot.pause()
        assert not app.is_running


async def test_keys_remapped_in_tui_toml(make_app, tui_paths):
    from haihai_tui.tui.screens.integration_form import IntegrationFormScreen
    from haihai_tui.tui.screens.integrations import IntegrationsScreen

    (tui_paths.tui).write_text(
        '[keys]\nhelp = "f9"\ninteg_add = "n"\nopen = "o,enter"\nnot_a_binding = "x"\n', encoding="utf-8"
    )
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "'not_a_binding' is not a binding id" in notes(app)
        await pilot.press("f1")
        assert isinstance(app.screen, StartScreen)  # F1 no longer opens help
        await pilot.press("f9")
        assert isinstance(app.screen, HelpScreen)
        assert "F9" in screen_text(app)
        await pilot.press("escape", "down", "down", "down", "o")
        assert isinstance(app.screen, IntegrationsScreen)
        assert "n 新規追加 Add" in screen_text(app)  # the footer shows the new key
        await pilot.press("a")
        assert isinstance(app.screen, IntegrationsScreen)
        await pilot.press("n")
        assert isinstance(app.screen, IntegrationFormScreen)


async def test_broken_settings_file_opens_with_file_line_problems(make_app, tui_paths):
    db = tui_paths.db
    lines = db.read_text(encoding="utf-8").splitlines()
    lines[4] = "name = 顧客管理"  # line 5: a string without quotes
    db.write_text("\n".join(lines) + "\n", encoding="utf-8")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, StartScreen)
        text = " ".join(screen_text(app).split())
        assert "db.toml:5: (column 8) invalid value" in text
        assert "What still works" in text and "not read: db.toml" in text
        assert "全体権限一覧" in text  # the rest of the app still opens
        await pilot.press("enter")
        assert "admin" in screen_text(app)


async def test_no_ambiguous_width_symbols_on_any_settings_screen(make_app):
    app = make_app()
    seen = []
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        for keys in (
            ["enter"],
            ["escape", "down", "enter"],
            ["escape", "down", "enter"],
            ["escape", "down", "enter"],
            ["enter"],
            ["escape", "escape", "down", "enter"],
            ["tab", "tab", "a"],
            ["escape", "f1"],
        ):
            await pilot.press(*keys)
            await pilot.pause()
            seen.append(type(app.screen).__name__)
            text = screen_text(app)
            assert not chrome_symbols(text), (seen[-1], chrome_symbols(text))
        await pilot.press("escape", "ctrl+p")
        await pilot.pause()
        assert not chrome_symbols(screen_text(app))
    assert seen == [
        "PermissionsScreen",
        "UsersScreen",
        "SystemSettingsScreen",
        "IntegrationsScreen",
        "IntegrationFormScreen",
        "MenusScreen",
        "PickScreen",
        "HelpScreen",
    ]


def test_default_keys_avoid_tmux_and_ambiguous_ctrl_keys():
    from textual.binding import Binding

    from haihai_tui.tui import bindings

    avoid = {f"ctrl+{c}" for c in "bashzjmi"}
    every = [b for bs in [bindings.APP, *bindings.SCOPES.values()] for b in bs if isinstance(b, Binding)]
    assert all(b.id for b in every)
    used = {k.strip() for b in every for k in b.key.split(",")}
    assert not used & avoid


async def test_record_list_menu_opens_from_the_start_screen(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("G", "up", "enter")  # the one record list sits just above the history entry
        await pilot.pause()
        assert type(app.screen).__name__ == "RecordListScreen"


def test_every_binding_is_defined_in_bindings_py_with_an_id():
    import importlib
    import pkgutil

    from textual.binding import Binding

    from haihai_tui.tui import bindings

    defined = [b for bs in [bindings.APP, *bindings.SCOPES.values()] for b in bs]
    assert all(isinstance(b, Binding) and b.id for b in defined)
    known = {id(b) for b in defined}
    owners = []
    for pkg_name in ("haihai_tui.tui", "haihai_tui.tui.screens", "haihai_tui.tui.dialogs", "haihai_tui.tui.widgets"):
        for info in pkgutil.iter_modules(importlib.import_module(pkg_name).__path__):
            mod = importlib.import_module(f"{pkg_name}.{info.name}")
            for obj in vars(mod).values():
                if isinstance(obj, type) and obj.__module__ == mod.__name__ and "BINDINGS" in vars(obj):
                    owners.append(obj.__name__)
                    for b in vars(obj)["BINDINGS"]:
                        assert id(b) in known, f"{obj.__name__} defines {b!r} outside tui/bindings.py"
    assert {"RecordTable", "Choice", "ProgressScreen", "ConfirmRunScreen", "MenuList"} <= set(owners)
    assert not bindings.unknown_ids({"table.up": "w", "run": "f5", "choice_next": "n"})


def test_key_hints_follow_the_keymap_the_app_was_given(make_app, tui_paths):
    from haihai_tui.tui.bindings import key_hint
    from haihai_tui.tui.host import Host

    assert key_hint("progress") == "F6" and key_hint("progress", {"progress": "f7,ctrl+r"}) == "F7/^r"
    tui_paths.tui.write_text('[keys]\nprogress = "f7"\n', encoding="utf-8")
    app = make_app()
    for name in [*Host.__annotations__, "open", "reload_settings", "key_for", "dirty_screens"]:
        assert hasattr(app, name), name
    assert app.keymap == {"progress": "f7"} and app.runs.progress_key() == "F7"
