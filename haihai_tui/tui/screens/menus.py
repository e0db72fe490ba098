"""DB設定 > 基本設定 > メニュー設定: each record-list menu's columns and its attached integrations.

Seed flow: pick the menu -> in its システム連携設定 pane choose a process -> 追加 (a) -> reorder (K/J)
-> 確定 (F2, editing.save_menu). Columns are added from the database's fields the same way.
"""

from __future__ import annotations

import dataclasses

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from haihai_tui.core.settings import db_editing, editing
from haihai_tui.core.settings.model import EMAIL_LABEL, Menu
from haihai_tui.core.text import one_line, safe
from haihai_tui.tui.bindings import scope
from haihai_tui.tui.screens.base import AppScreen, run_edit


def _entry(text: str, id: str | None = None) -> Option:
    """A list entry whose text holds names from the settings: shown literally, terminal-safe."""
    return Option(Text(one_line(text)), id=id)


class MenusScreen(AppScreen):
    TITLE_TEXT = "メニュー設定 Menus"
    HELP_TEXT = (
        "DB設定 > 基本設定 > メニュー設定. Tab moves between the menus, the columns (= the CSV's columns, "
        "in order; their labels are the CSV header) and the attached システム連携設定. a 追加 adds, "
        "d removes, K/J (shift+Up/Down) reorder, F2 確定 saves the menu to db.toml. n creates a menu, e renames, "
        "c copies and x (Del) deletes the highlighted menu (asked first)."
    )
    BINDINGS = scope("menus")
    AUTO_FOCUS = "#menus"

    def __init__(self, menu_name: str | None = None) -> None:
        super().__init__()
        self.start_menu = menu_name
        self.work: dict[str, Menu] = {}  # menu name -> edited copy (only menus touched)

    def body(self) -> ComposeResult:
        yield Static("", id="menu-banner", classes="banner", markup=False)
        with Horizontal(id="menu-panes"):
            yield OptionList(id="menus", compact=True)
            with Vertical(id="menu-right"):
                yield Static("", id="menu-info", markup=False)
                yield OptionList(id="columns", compact=True)
                yield OptionList(id="attached", compact=True)
        yield Static("", id="menu-status", classes="status", markup=False)

    def on_mount(self) -> None:
        self.query_one("#menus").border_title = "メニュー menus"
        self.query_one("#columns").border_title = "列 columns = CSV, in order"
        self.query_one("#attached").border_title = "システム連携設定 attached, in order"

    # --- data -----------------------------------------------------------------------------------------
    def menu(self) -> Menu | None:
        ol = self.query_one("#menus", OptionList)
        opt = ol.highlighted_option
        if opt is None or opt.id is None:
            return None
        if opt.id in self.work:
            return self.work[opt.id]
        m = self.happ.ctx.settings.menu(opt.id)
        return dataclasses.replace(m, columns=list(m.columns), integrations=list(m.integrations)) if m else None

    def saved(self, name: str) -> Menu | None:
        return self.happ.ctx.settings.menu(name)

    def changed(self) -> list[str]:
        out = []
        for name, m in self.work.items():
            orig = self.saved(name)
            if orig is None or (m.columns, m.integrations) != (orig.columns, orig.integrations):
                out.append(name)
        return out

    def is_dirty(self) -> bool:
        return bool(self.changed())

    def settings_changed(self) -> None:
        ol = self.query_one("#menus", OptionList)
        current = ol.highlighted_option.id if ol.highlighted_option else self.start_menu
        ol.clear_options()
        names = [m.name for m in self.happ.ctx.settings.menus]
        ol.add_options([_entry(n + (" *" if n in self.changed() else ""), id=n) for n in names])
        if names:
            ol.highlighted = names.index(current) if current in names else 0
        refusal = self.happ.ctx.configure_refusal
        banner = refusal or (
            "" if names else "No menus in db.toml: add a [[menus]] entry (haihai-tui init writes a commented sample)."
        )
        self.query_one("#menu-banner", Static).update(safe(banner, multiline=True))
        self.query_one("#menu-banner").display = bool(banner)
        self.show_menu()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_list.id == "menus":
            self.show_menu()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option_list.id == "menus":
            self.query_one("#columns").focus()

    def show_menu(self, col: int | None = None, att: int | None = None) -> None:
        m = self.menu()
        cols, attached = self.query_one("#columns", OptionList), self.query_one("#attached", OptionList)
        col = cols.highlighted if col is None else col
        att = attached.highlighted if att is None else att
        cols.clear_options()
        attached.clear_options()
        info = self.query_one("#menu-info", Static)
        if m is None:
            info.update("")
            return
        s = self.happ.ctx.settings
        db = s.database(m.database)
        info.update(one_line(f"{m.name}: database {m.database}" + (f" ({db.name})" if db else " (MISSING)")))
        for c in m.columns:
            f = db.field(c) if db else None
            cols.add_option(_entry(f"{c:<10} {f.label if f else '(no such field)'}", id=c))
        for n in m.integrations:
            attached.add_option(_entry(n + ("" if s.integration(n) else "  (no such integration)"), id=n))
        for ol, i in ((cols, col), (attached, att)):
            if ol.option_count:
                ol.highlighted = min(i or 0, ol.option_count - 1)
        self.update_status()

    def update_status(self, message: str = "") -> None:
        m = self.menu()
        lines = []
        changed = self.changed()
        if changed:
            lines.append(f"Not saved (F2 確定): {one_line(', '.join(changed))}")
        if m is not None:
            db = self.happ.ctx.settings.database(m.database)
            labels = [db.field(c).label for c in m.columns if db and db.field(c)]
            if m.integrations and EMAIL_LABEL not in labels:
                lines.append(f"warning: no {EMAIL_LABEL} column; HaiHai needs it as the key column")
        if message:
            lines.append(safe(message, multiline=True))
        if not lines:
            up, down = self.keys_for("move(-1)", "K", first=True), self.keys_for("move(1)", "J", first=True)
            lines.append(
                f"Tab: next pane.  {self.keys_for('add', 'a')} 追加 add, {self.keys_for('remove', 'd')} "
                f"remove, {up}/{down} reorder, {self.keys_for('save', 'F2')} 確定 save."
            )
        self.query_one("#menu-status", Static).update("\n".join(lines))

    def edit(self, fn) -> None:
        """Apply ``fn(menu)`` to the working copy of the highlighted menu (refused when read-only)."""
        refusal = self.happ.ctx.configure_refusal
        if refusal:
            self.refuse(refusal)
            return
        m = self.menu()
        if m is None:
            return
        self.work[m.name] = m
        fn(m)
        self.show_menu()
        ol = self.query_one("#menus", OptionList)
        for i, opt in enumerate(ol.options):
            if opt.id == m.name:
                star = " *" if m.name in self.changed() else ""
                ol.replace_option_prompt_at_index(i, Text(one_line(m.name + star)))

    def pane(self) -> OptionList | None:
        f = self.focused
        return f if isinstance(f, OptionList) and f.id in ("columns", "attached") else None

    # --- actions ----------------------------------------------------------------------------------------
    def action_add(self) -> None:
        pane, m = self.pane(), self.menu()
        if m is None:
            return
        if pane is None:
            self.update_status("Tab to the columns or the システム連携設定 pane first, then a 追加.")
            return
        if self.happ.ctx.configure_refusal:
            self.refuse(self.happ.ctx.configure_refusal)
            return
        from haihai_tui.tui.dialogs.common import PickScreen

        s = self.happ.ctx.settings
        if pane.id == "columns":
            db = s.database(m.database)
            options = [(f.id, f"{f.id:<10} {f.label}") for f in (db.fields if db else []) if f.id not in m.columns]
            title = f"Add a column from database {one_line(m.database)}"
            target = "columns"
        else:
            options = [(g.name, g.name) for g in s.integrations if g.name not in m.integrations]
            title = "Choose the process (システム連携設定) to attach"
            target = "integrations"

        def picked(value: str | None) -> None:
            if value:
                self.edit(lambda menu: getattr(menu, target).append(value))
                ol = self.query_one("#columns" if target == "columns" else "#attached", OptionList)
                ol.highlighted = ol.option_count - 1
                ol.focus()

        self.app.push_screen(PickScreen(title, options), picked)

    def action_remove(self) -> None:
        pane = self.pane()
        if pane is None or pane.highlighted is None:
            self.update_status("Tab to the columns or the システム連携設定 pane and highlight an entry first.")
            return
        i, target = pane.highlighted, ("columns" if pane.id == "columns" else "integrations")
        self.edit(lambda menu: getattr(menu, target).pop(i))

    def action_move(self, delta: int) -> None:
        pane = self.pane()
        if pane is None or pane.highlighted is None:
            return
        i, target = pane.highlighted, ("columns" if pane.id == "columns" else "integrations")
        j = i + delta
        if not 0 <= j < pane.option_count:
            return

        def swap(menu: Menu) -> None:
            items = getattr(menu, target)
            items[i], items[j] = items[j], items[i]

        self.edit(swap)
        pane.highlighted = j

    def action_save(self) -> None:
        refusal = self.happ.ctx.configure_refusal
        if refusal:
            self.refuse(refusal)
            return
        changed = self.changed()
        if not changed:
            self.update_status("Nothing to save.")
            return
        ctx = self.happ.ctx
        for name in changed:
            ok, _ = self.attempt(editing.save_menu, ctx.paths, ctx.login, self.work[name], name)
            if not ok:
                break
            del self.work[name]
        self.happ.reload_settings()
        if not self.changed():
            msg = f"確定: saved {one_line(', '.join(changed))} to db.toml."
            self.notify(msg, markup=False)
            self.update_status(msg)

    # --- create, rename, copy, delete (db_editing) ----------------------------------------------------
    def _lifecycle_allowed(self) -> bool:
        refusal = self.happ.ctx.configure_refusal
        if refusal:
            self.refuse(refusal)
            return False
        if self.changed():
            self.refuse("Save (F2 確定) or discard (Esc) the unsaved column changes first.")
            return False
        return True

    def _after(self, message: str, select: str | None) -> None:
        self.work.clear()  # nothing unsaved here (checked before): drop copies that may name the old menu
        self.happ.reload_settings()
        self.start_menu = select
        ol = self.query_one("#menus", OptionList)
        names = [m.name for m in self.happ.ctx.settings.menus]
        if select in names:
            ol.highlighted = names.index(select)
        self.show_menu()
        self.notify(message, markup=False)
        self.update_status(message)

    def _name_form(self, title: str, value: str, action, message: str, extra: list | None = None) -> None:
        from haihai_tui.tui.dialogs.form import FormField, FormScreen

        ctx, chosen = self.happ.ctx, []

        def submit(v: dict[str, str]) -> str | None:
            ok, why = run_edit(action, ctx.paths, ctx.login, v)
            if ok:
                chosen.append(v["name"].strip())
            return None if ok else why

        def done(saved: bool | None) -> None:
            if saved and chosen:
                self._after(message.format(name=one_line(chosen[0])), chosen[0])

        fields = [FormField("name", "menu name / メニュー名", value), *(extra or [])]
        self.app.push_screen(FormScreen(title, fields, submit), done)

    def action_new_menu(self) -> None:
        if not self._lifecycle_allowed():
            return
        from haihai_tui.tui.dialogs.form import FormField

        dbs = self.happ.ctx.settings.databases
        if not dbs:
            self.refuse("There is no database yet: create one in DB設定 > データベース first.")
            return
        choices = [(d.id, f"{d.id} ({d.name})") for d in dbs]
        self._name_form(
            "New record-list menu / メニュー作成",
            "",
            lambda p, login, v: db_editing.create_menu(p, login, v["name"].strip(), v["database"]),
            "Menu {name} created with every field as a column; Tab to the columns to change them.",
            [FormField("database", "database (Left/Right/Space to choose)", dbs[0].id, choices=choices)],
        )

    def action_rename_menu(self) -> None:
        m = self.menu()
        if m is None or not self._lifecycle_allowed():
            return
        self._name_form(
            f"Rename menu {m.name} / メニュー名の変更",
            m.name,
            lambda p, login, v: db_editing.rename_menu(p, login, m.name, v["name"].strip()),
            "Menu renamed to {name}.",
        )

    def action_copy_menu(self) -> None:
        m = self.menu()
        if m is None or not self._lifecycle_allowed():
            return
        self._name_form(
            f"Copy menu {m.name} / メニューのコピー",
            f"{m.name} (copy)",
            lambda p, login, v: db_editing.copy_menu(p, login, m.name, v["name"].strip()),
            "Menu {name} created: a copy with the same database, columns and integrations.",
        )

    def action_delete_menu(self) -> None:
        m = self.menu()
        if m is None or not self._lifecycle_allowed():
            return
        from haihai_tui.tui.dialogs.common import ConfirmScreen

        ctx = self.happ.ctx
        only = db_editing.only_carrier_of(ctx.settings, m.name)
        question = f"Delete the menu {m.name}? Its database and records stay."
        if only:
            question += (
                f"\nIt is the only menu that carries {', '.join(only)}: after deleting it, "
                f"{'that integration' if len(only) == 1 else 'those integrations'} can no longer be run from any "
                f"list (attach {'it' if len(only) == 1 else 'them'} to another menu first to keep "
                f"{'it' if len(only) == 1 else 'them'} runnable)."
            )

        def answer(yes: bool | None) -> None:
            if yes:
                ok, _ = self.attempt(db_editing.delete_menu, ctx.paths, ctx.login, m.name, self.saved(m.name))
                if ok:
                    self._after(f"Menu {one_line(m.name)} deleted.", None)

        self.app.push_screen(
            ConfirmScreen(question, title="Delete menu / メニュー削除", yes="delete", no="keep"), answer
        )
