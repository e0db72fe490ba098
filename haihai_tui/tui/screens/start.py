"""The start screen: the product's menus, the record-list menus, and any settings problems."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from haihai_tui.core.text import cell_width, one_line, safe
from haihai_tui.tui.bindings import scope
from haihai_tui.tui.screens.base import AppScreen


class MenuList(OptionList, inherit_bindings=False):
    """An OptionList that leaves Enter to the screen's "open" binding (remappable, shown in the footer)."""

    BINDINGS = scope("menu_list")


def _heading(text: str) -> Option:
    return Option(Text(text), disabled=True)


def _item(target: str, label: str, path: str = "") -> Option:
    """One entry; ``label`` and ``path`` may be names from the settings: shown literally, terminal-safe."""
    label, path = one_line(label), one_line(path)
    text = f"  {label}{' ' * max(1, 34 - cell_width(label))}{path}" if path else f"  {label}"
    return Option(Text(text), id=target)


class StartScreen(AppScreen):
    TITLE_TEXT = "Start / スタート"
    HELP_TEXT = (
        "The product's menus. 管理者設定 and DB設定 change the settings files (needs permissions); "
        "a record-list menu opens its records, where attached integrations are run."
    )
    BINDINGS = scope("start")
    AUTO_FOCUS = "#menu"

    def body(self) -> ComposeResult:
        yield MenuList(id="menu", compact=True)
        with VerticalScroll(id="start-info"):
            yield Static("", id="start-notes", markup=False)

    def settings_changed(self) -> None:
        ol = self.query_one("#menu", OptionList)
        highlighted = ol.highlighted_option.id if ol.highlighted_option else None
        ol.clear_options()
        ol.add_options(self.menu_options())
        ids = [o.id for o in ol.options]
        ol.highlighted = (
            ids.index(highlighted)
            if highlighted and highlighted in ids
            else next(i for i, o in enumerate(ol.options) if not o.disabled)
        )
        self.query_one("#start-notes", Static).update(self.notes())

    def menu_options(self) -> list[Option]:
        s = self.happ.ctx.settings
        opts = [
            _heading("管理者設定  Administrator settings"),
            _item("permissions", "全体権限一覧 Permissions", "権限設定 > 全体権限一覧"),
            _item("users", "ユーザ Users", "ユーザ"),
            _item("system", "システム設定 System & mail", "システム設定 / メール設定"),
            _heading("DB設定  Database settings"),
            _item("integrations", "システム連携設定 Integrations", "システム連携 > システム連携設定"),
            _item("menus", "メニュー設定 Menus", "基本設定 > メニュー設定"),
            _item("databases", "データベース Databases", "データベース > フィールド設定"),
            _heading("レコード一覧  Record lists (run integrations here)"),
        ]
        menus = [m for m in s.menus if m.type == "record_list"]
        for m in menus:
            db = s.database(m.database)
            what = f"{db.name if db else m.database}, {len(m.integrations)} integration(s)"
            opts.append(_item(f"menu:{m.name}", m.name, what))
        if not menus:
            opts.append(Option(Text("  (no record-list menus in db.toml)"), disabled=True))
        opts += [
            _heading("システム連携状況確認  Integration status"),
            _item("history", "システム連携状況確認 History", "every run and its result"),
        ]
        return opts

    def notes(self) -> Text:
        ctx = self.happ.ctx
        text = Text()
        problems = ctx.loaded.problems if ctx.loaded else []
        if problems:
            n_err = sum(p.is_error for p in problems)
            text.append(f"Settings problems: {n_err} error(s), {len(problems) - n_err} warning(s)\n", style="bold")
            for p in problems:
                text.append(f"  {safe(p, multiline=True)}\n", style="red" if p.is_error else "yellow")
            text.append(self.still_works() + "\n")
            text.append(f"Fix the files, then {self.keys_for('reload', 'F5')} reloads (or run: haihai-tui check).\n\n")
        for line in (self.happ.mock_note, ctx.configure_refusal):
            if line:
                text.append(safe(line, multiline=True) + "\n", style="yellow")
        text.append(
            f"Arrows or j/k move, {self.keys_for('open', 'Enter')} opens, "
            f"{self.keys_for('help', 'F1')} lists every key, {self.keys_for('command_palette', '^p')} "
            f"jumps anywhere, {self.keys_for('quit', '^q')} quits.\n",
            style="dim",
        )
        text.append(
            f"settings: {one_line(ctx.paths.config_dir)}\ndata:     {one_line(ctx.paths.data_dir)}", style="dim"
        )
        return text

    def still_works(self) -> str:
        ctx = self.happ.ctx
        s, files = ctx.settings, (ctx.loaded.files if ctx.loaded else {})
        broken = [name for name, tf in files.items() if tf is None]
        parts = [f"{len(s.users)} user(s)", f"{len(s.integrations)} integration(s)", f"{len(s.menus)} menu(s)"]
        text = "What still works: loaded " + ", ".join(parts)
        if broken:
            text += "; not read: " + ", ".join(f"{one_line(b)}.toml" for b in broken)
        return text + "."

    # --- actions ---------------------------------------------------------------------------------
    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.happ.open(event.option.id)

    def action_open(self) -> None:
        ol = self.query_one("#menu", OptionList)
        if ol.highlighted_option is not None and ol.highlighted_option.id:
            self.happ.open(ol.highlighted_option.id)

    def action_reload(self) -> None:
        self.happ.reload_settings()
        n = len(self.happ.ctx.loaded.problems) if self.happ.ctx.loaded else 0
        self.notify(f"Settings reloaded ({n} problem(s)).", markup=False)
