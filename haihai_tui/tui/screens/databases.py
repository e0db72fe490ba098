"""DB設定 > データベース: the record databases; create one, rename one, Enter opens its フィールド設定.

The id names the record file (``<data>/records/<id>.sqlite3``) and never changes; the name is what
screens show. Only holders of 「DB設定」 change anything; others see the list read-only with the reason.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from haihai_tui.core.settings import db_editing
from haihai_tui.core.settings.model import Database
from haihai_tui.core.text import fit_cells, one_line, safe
from haihai_tui.tui.bindings import scope
from haihai_tui.tui.dialogs.form import FormField, FormScreen
from haihai_tui.tui.screens.base import AppScreen, run_edit
from haihai_tui.tui.screens.fields import FieldsScreen, db_refusal


def db_line(db: Database) -> Text:
    engine = getattr(db, "engine", "sqlite")
    extra = [f"{len(db.fields)} field(s)"]
    if engine != "sqlite":
        extra.append(engine)
    if db.read_only:
        extra.append("read-only records")
    return Text(f"{fit_cells(one_line(db.id), 16)} {fit_cells(one_line(db.name), 24)} {', '.join(extra)}")


class DatabasesScreen(AppScreen):
    TITLE_TEXT = "データベース Databases"
    HELP_TEXT = (
        "DB設定 > データベース. Enter opens the database's フィールド設定 (fields). n creates a database "
        "(an id of letters, digits, _ and -: it names the record file and never changes; and a name), "
        "e renames the highlighted one (the name only), r marks its records read-only (listed and sent, never "
        "edited) or editable again. Needs 「DB設定」."
    )
    BINDINGS = scope("databases")
    AUTO_FOCUS = "#databases"
    DEFAULT_CSS = """
    DatabasesScreen #databases { height: 1fr; border: round $panel-lighten-2; }
    DatabasesScreen #databases:focus { border: round $accent; }
    """

    def body(self) -> ComposeResult:
        yield Static("", id="db-banner", classes="banner", markup=False)
        yield OptionList(id="databases")
        yield Static("", id="db-status", classes="status", markup=False)

    def on_mount(self) -> None:
        self.query_one("#databases").border_title = "id / name / fields"

    def selected(self) -> Database | None:
        opt = self.query_one("#databases", OptionList).highlighted_option
        return self.happ.ctx.settings.database(opt.id) if opt is not None and opt.id else None

    def settings_changed(self, select: str | None = None) -> None:
        ol = self.query_one("#databases", OptionList)
        current = select or (ol.highlighted_option.id if ol.highlighted_option else None)
        dbs = self.happ.ctx.settings.databases
        ol.clear_options()
        ol.add_options([Option(db_line(d), id=d.id) for d in dbs])
        ids = [d.id for d in dbs]
        if ids:
            ol.highlighted = ids.index(current) if current in ids else 0
        refusal = db_refusal(self)
        banner = refusal or ("" if dbs else "No databases yet: n creates one.")
        self.query_one("#db-banner", Static).update(safe(banner, multiline=True))
        self.query_one("#db-banner").display = bool(banner)
        self.update_status()

    def update_status(self, message: str = "") -> None:
        text = message or (
            f"{self.keys_for('fields', 'Enter')} fields, {self.keys_for('new_database', 'n')} new database, "
            f"{self.keys_for('rename_database', 'e')} rename, {self.keys_for('toggle_read_only', 'r')} "
            "read-only records on/off."
        )
        self.query_one("#db-status", Static).update(safe(text, multiline=True))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_fields()

    # --- actions ------------------------------------------------------------------------------------
    def action_fields(self) -> None:
        db = self.selected()
        if db is not None:
            self.app.push_screen(FieldsScreen(db.id))

    def action_new_database(self) -> None:
        refusal = db_refusal(self)
        if refusal:
            self.refuse(refusal)
            return
        ctx = self.happ.ctx
        made: list[str] = []

        def submit(v: dict[str, str]) -> str | None:
            db_id, name = v["id"].strip(), v["name"].strip() or v["id"].strip()
            ok, why = run_edit(db_editing.create_database, ctx.paths, ctx.login, db_id, name)
            if ok:
                made.append(db_id)
            return None if ok else why

        def done(saved: bool | None) -> None:
            if saved and made:
                self.happ.reload_settings()
                self.settings_changed(select=made[0])
                msg = f"Database {made[0]} created; Enter opens it to add fields."
                self.notify(msg, markup=False)
                self.update_status(msg)

        self.app.push_screen(
            FormScreen(
                "New database / データベース作成",
                [
                    FormField("id", "id (letters, digits, _ and -; names the record file, never changes)"),
                    FormField("name", "name / データベース名 (shown on screens)"),
                ],
                submit,
            ),
            done,
        )

    def action_rename_database(self) -> None:
        refusal = db_refusal(self)
        if refusal:
            self.refuse(refusal)
            return
        db = self.selected()
        if db is None:
            return
        ctx = self.happ.ctx

        def submit(v: dict[str, str]) -> str | None:
            ok, why = run_edit(db_editing.rename_database, ctx.paths, ctx.login, db.id, v["name"].strip(), db.name)
            return None if ok else why

        def done(saved: bool | None) -> None:
            if saved:
                self.happ.reload_settings()
                self.update_status(f"Database {db.id} renamed.")

        self.app.push_screen(
            FormScreen(
                "Rename database / データベース名の変更",
                [
                    FormField("id", "id (names the record file; stays)", db.id, disabled=True),
                    FormField("name", "name / データベース名", db.name),
                ],
                submit,
            ),
            done,
        )

    def action_toggle_read_only(self) -> None:
        refusal = db_refusal(self)
        if refusal:
            self.refuse(refusal)
            return
        db = self.selected()
        if db is None:
            return
        ctx = self.happ.ctx
        ok, _ = self.attempt(db_editing.set_read_only, ctx.paths, ctx.login, db.id, not db.read_only)
        if ok:
            self.happ.reload_settings()
            self.settings_changed(select=db.id)
            state = "read-only: listed and sent, never edited" if not db.read_only else "editable again"
            msg = f"Records of {db.id} are {state}."
            self.notify(msg, markup=False)
            self.update_status(msg)
