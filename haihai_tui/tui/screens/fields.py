"""DB設定 > データベース > フィールド設定: one database's fields (項目): add, change the label or type, reorder,
remove; and the data of removed fields kept in the record file until the user drops it.

Each change is written at once through ``core/settings/db_editing.py`` (checked against what this screen
showed, so a change made meanwhile by someone else is refused) and the record file follows through
``core/records/schema.py``: a new field is a new column; a removed field's column stays, hidden, and is
listed under "kept data" with its count of non-empty values until D drops it (asked first; one transaction).
"""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from haihai_tui.core.records.schema import Kept, SchemaRefused, add_columns, drop_kept, kept_columns
from haihai_tui.core.records.store import DatabaseIdError, RecordFileError
from haihai_tui.core.settings import db_editing
from haihai_tui.core.settings.model import FIELD_TYPES, Database, FieldDef
from haihai_tui.core.text import fit_cells, one_line, safe
from haihai_tui.tui.bindings import scope
from haihai_tui.tui.dialogs.form import FormField, FormScreen
from haihai_tui.tui.screens.base import AppScreen, run_edit

TYPE_WORDS = {
    "text": "text テキスト",
    "email": "email メールアドレス",
    "number": "number 数値",
    "date": "date 日付",
    "select": "select 選択肢",
}


def db_refusal(screen: AppScreen) -> str | None:
    ctx = screen.happ.ctx
    return db_editing.db_settings_refusal(ctx.user, ctx.login)


RECORD_ERRORS = (SchemaRefused, RecordFileError, DatabaseIdError, OSError)


def field_line(f: FieldDef) -> Text:
    opts = f" [{', '.join(f.options)}]" if f.options else ""
    return Text(f"{fit_cells(one_line(f.id), 14)} {fit_cells(one_line(f.label), 20)} {one_line(f.type + opts)}")


def parse_options(text: str) -> list[str]:
    return [o.strip() for o in text.replace("、", ",").split(",") if o.strip()]


class FieldsScreen(AppScreen):
    TITLE_TEXT = "フィールド設定 Fields"
    HELP_TEXT = (
        "DB設定 > データベース > フィールド設定. a adds a field (id, label, type: text, email, number, date or "
        "select with its options), e or Enter changes its label, type or options, K/J (shift+Up/Down) move it, "
        "d removes it (refused while a menu shows it; its data stays in the record file, hidden). Tab moves "
        "to the kept data of removed fields; D drops the highlighted one for good (asked first)."
    )
    BINDINGS = scope("fields")
    AUTO_FOCUS = "#fields"
    DEFAULT_CSS = """
    FieldsScreen #fields-info { padding: 0 1; height: 1; }
    FieldsScreen #fields { height: 1fr; border: round $panel-lighten-2; }
    FieldsScreen #kept { height: auto; max-height: 6; border: round $panel-lighten-2; }
    FieldsScreen #fields:focus, FieldsScreen #kept:focus { border: round $accent; }
    """

    def __init__(self, db_id: str) -> None:
        super().__init__()
        self.db_id = db_id
        self.shown: list[FieldDef] = []
        self.kept: list[Kept] = []

    def body(self) -> ComposeResult:
        yield Static("", id="fields-banner", classes="banner", markup=False)
        yield Static("", id="fields-info", markup=False)
        yield OptionList(id="fields")
        yield OptionList(id="kept")
        yield Static("", id="fields-status", classes="status", markup=False)

    def on_mount(self) -> None:
        self.query_one("#fields").border_title = "id / label 項目名 / type, in order"
        self.query_one("#kept").border_title = "kept data of removed fields (D drops)"

    @property
    def database(self) -> Database | None:
        return self.happ.ctx.settings.database(self.db_id)

    def settings_changed(self, select: str | None = None) -> None:
        ol = self.query_one("#fields", OptionList)
        current = select or (ol.highlighted_option.id if ol.highlighted_option else None)
        db = self.database
        self.shown = [FieldDef(f.id, f.label, f.type, list(f.options)) for f in db.fields] if db else []
        ol.clear_options()
        ol.add_options([Option(field_line(f), id=f.id) for f in self.shown])
        ids = [f.id for f in self.shown]
        if ids:
            ol.highlighted = ids.index(current) if current in ids else 0
        info = f"database {self.db_id}" + (f" ({db.name})" if db else " (no longer in db.toml)")
        self.query_one("#fields-info", Static).update(one_line(info))
        refusal = db_refusal(self)
        banner = refusal or ("" if self.shown else "No fields yet: a adds one (メールアドレス first, for HaiHai).")
        self.query_one("#fields-banner", Static).update(safe(banner, multiline=True))
        self.query_one("#fields-banner").display = bool(banner)
        self.load_kept()
        self.update_status()

    @work(thread=True, exclusive=True, group="kept")
    def load_kept(self) -> None:
        """Count the kept values off the UI thread (a scan of the whole record file)."""
        db = self.database
        try:
            kept = kept_columns(self.happ.ctx.paths.records_dir, db) if db and self._sqlite(db) else []
        except RECORD_ERRORS as e:
            self.app.call_from_thread(self.update_status, f"kept data not read: {e}")
            return
        self.app.call_from_thread(self.show_kept, kept)

    def show_kept(self, kept: list[Kept]) -> None:
        self.kept = kept
        ol = self.query_one("#kept", OptionList)
        ol.clear_options()
        ol.add_options([Option(Text(one_line(k.describe())), id=k.field_id) for k in kept])
        ol.display = bool(kept)
        if kept:
            ol.highlighted = 0

    @staticmethod
    def _sqlite(db: Database) -> bool:
        return getattr(db, "engine", "sqlite") == "sqlite"

    def update_status(self, message: str = "") -> None:
        text = message or (
            f"{self.keys_for('add_field', 'a')} add, {self.keys_for('edit_field', 'e')} edit, "
            f"{self.keys_for('move_field(-1)', 'K', first=True)}/{self.keys_for('move_field(1)', 'J', first=True)} "
            f"move, {self.keys_for('remove_field', 'd')} remove, {self.keys_for('drop_kept', 'D')} drop kept data."
        )
        self.query_one("#fields-status", Static).update(safe(text, multiline=True))

    def selected(self) -> FieldDef | None:
        opt = self.query_one("#fields", OptionList).highlighted_option
        return next((f for f in self.shown if opt is not None and f.id == opt.id), None)

    def allowed(self) -> bool:
        refusal = db_refusal(self)
        if refusal:
            self.refuse(refusal)
            return False
        if self.database is None:
            self.refuse(f"database {self.db_id} is no longer in db.toml")
            return False
        return True

    def done_edit(self, message: str, select: str | None = None) -> None:
        self.happ.reload_settings()
        self.settings_changed(select=select)
        self.notify(message, markup=False)
        self.update_status(message)

    # --- actions ------------------------------------------------------------------------------------
    def action_reload(self) -> None:
        self.happ.reload_settings()
        self.update_status("Reloaded from db.toml.")

    def _form(self, title: str, f: FieldDef | None, submit) -> FormScreen:
        types = [(t, TYPE_WORDS.get(t, t)) for t in FIELD_TYPES]
        return FormScreen(
            title,
            [
                FormField(
                    "id",
                    "id (letters, digits, _ and -; names the column, never changes)",
                    f.id if f else "",
                    disabled=f is not None,
                ),
                FormField(
                    "label", "label / 項目名 (the CSV header: must equal HaiHai's field name)", f.label if f else ""
                ),
                FormField("type", "type / 種類 (Left/Right/Space to choose)", f.type if f else "text", choices=types),
                FormField(
                    "options",
                    "options of a select, comma separated (e.g. 東京, 大阪)",
                    ", ".join(f.options) if f else "",
                ),
            ],
            submit,
        )

    @staticmethod
    def _field(v: dict[str, str]) -> FieldDef:
        return FieldDef(v["id"].strip(), v["label"].strip(), v["type"], parse_options(v["options"]))

    def action_add_field(self) -> None:
        if not self.allowed():
            return
        ctx, shown = self.happ.ctx, list(self.shown)
        result: list[str] = []

        def submit(v: dict[str, str]) -> str | None:
            f = self._field(v)
            ok, why = run_edit(db_editing.add_field, ctx.paths, ctx.login, self.db_id, f, shown)
            if not ok:
                return why
            self.happ.reload_settings()
            back = next((k for k in self.kept if k.field_id == f.id), None)
            db = self.database
            msg = f"Field {f.label} added."
            if db is not None and self._sqlite(db):
                try:
                    add_columns(ctx.paths.records_dir, db)
                except RECORD_ERRORS as e:
                    msg += f" The record file is not changed yet ({e}); it gets the column when next opened."
            if back is not None:
                msg += f" Its {back.non_empty:,} kept values are back."
            msg += " Add it to a menu's columns in メニュー設定 to show it in the list."
            result.append(msg)
            result.append(f.id)
            return None

        def done(saved: bool | None) -> None:
            if saved and result:
                self.done_edit(result[0], select=result[1])

        self.app.push_screen(self._form("Add field / フィールド追加", None, submit), done)

    def action_edit_field(self) -> None:
        f = self.selected()
        if f is None or not self.allowed():
            return
        ctx, shown = self.happ.ctx, list(self.shown)

        def submit(v: dict[str, str]) -> str | None:
            new = self._field({**v, "id": f.id})
            ok, why = run_edit(db_editing.change_field, ctx.paths, ctx.login, self.db_id, f.id, new, shown)
            return None if ok else why

        def done(saved: bool | None) -> None:
            if saved:
                self.done_edit(f"Field {f.id} changed.", select=f.id)

        self.app.push_screen(self._form(f"Change field {f.id} / フィールド変更", f, submit), done)

    def action_move_field(self, delta: int) -> None:
        f = self.selected()
        if f is None or not self.allowed():
            return
        ctx = self.happ.ctx
        ok, _ = self.attempt(db_editing.move_field, ctx.paths, ctx.login, self.db_id, f.id, delta, list(self.shown))
        if ok:
            self.happ.reload_settings()
            self.settings_changed(select=f.id)
            self.update_status(f"Field {f.id} moved; the order is saved.")

    def action_remove_field(self) -> None:
        f = self.selected()
        if f is None or not self.allowed():
            return
        from haihai_tui.tui.dialogs.common import ConfirmScreen

        ctx = self.happ.ctx
        users = db_editing.menus_showing(ctx.settings, self.db_id, f.id)
        if users:
            self.refuse(
                f"Field {f.label} is shown by the menu(s) {', '.join(users)}: take it out of their columns in "
                "メニュー設定 first."
            )
            self.update_status(f"Not removed: shown by {', '.join(users)}.")
            return
        shown = list(self.shown)

        def answer(yes: bool | None) -> None:
            if not yes:
                return
            ok, _ = self.attempt(db_editing.remove_field, ctx.paths, ctx.login, self.db_id, f.id, shown)
            if ok:
                self.done_edit(f"Field {f.label} removed. {kept}")

        db = self.database
        kept = (
            "Its values stay in the record file, hidden, until you drop them in a separate step (D)."
            if db is None or self._sqlite(db)
            else "Its column in the PostgreSQL table is not touched."
        )
        self.app.push_screen(
            ConfirmScreen(
                f"Remove field {f.id} ({f.label})?\n{kept}",
                yes="remove",
                no="keep",
            ),
            answer,
        )

    def action_drop_kept(self) -> None:
        if not self.allowed():
            return
        if not self.kept:
            self.update_status("No kept data: removed fields' values are listed here until dropped.")
            return
        ol = self.query_one("#kept", OptionList)
        opt = ol.highlighted_option
        k = next((k for k in self.kept if opt is not None and k.field_id == opt.id), self.kept[0])
        from haihai_tui.tui.dialogs.common import ConfirmScreen

        def answer(yes: bool | None) -> None:
            if yes:
                self.update_status(f"Dropping the kept data of field {k.field_id} ...")
                self.drop(k.field_id)

        self.app.push_screen(
            ConfirmScreen(
                f"{k.describe()}.\nThis deletes them from the record file for good (one transaction).",
                title="Drop kept data / 削除",
                yes="drop them",
                no="keep them",
            ),
            answer,
        )

    @work(thread=True, exclusive=True, group="drop")
    def drop(self, field_id: str) -> None:
        db = self.database
        try:
            if db is None:
                raise SchemaRefused(f"database {self.db_id} is no longer in db.toml")
            n = drop_kept(self.happ.ctx.paths.records_dir, db, field_id)
        except (*RECORD_ERRORS, Exception) as e:  # sqlite3 errors too: shown, never a traceback
            self.app.call_from_thread(self.refuse, f"Not dropped: {e}")
            self.app.call_from_thread(self.update_status, f"Not dropped: {e}")
            return
        self.app.call_from_thread(self.done_edit, f"Dropped the kept data of field {field_id} ({n:,} values).")
