"""レコード編集: one record with every field of its database (not only the menu's columns).

Opened by Enter on a row of the record list (or by ``e`` on a pre-flight finding, on the offending
field), or to add a record (``a`` on the list, or the palette). Each field is a line: its label and
type, the value, and under it what is wrong as you type: the field type's check (e-mail, number, date,
select choices) as an error that stops the save, and pre-flight's sentences about the characters
(Windows-31J lacks it, with the U+ code; control characters; formula-like text) as notes that do not.

Every read and write runs in a thread worker (a write may wait for an import's lock) through
``core/records/editing.py``: one transaction each, and a save compares the values this screen loaded
with the row inside the transaction, so a record someone else saved meanwhile is never overwritten: the
save is refused with what they changed (shown under the title), and the record reloads.
A database marked ``read_only`` in db.toml shows its records read-only, with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.suggester import SuggestFromList
from textual.widgets import Input, Static

from haihai_tui.core.checks.cell_notes import cell_notes
from haihai_tui.core.records.editing import (
    EditConflict,
    Record,
    RecordGone,
    delete_record,
    get_record,
    insert_record,
    update_record,
    value_problem,
    write_refusal,
)
from haihai_tui.core.records.store import RecordStore
from haihai_tui.core.settings.model import Database, FieldDef
from haihai_tui.core.text import one_line, safe
from haihai_tui.tui.bindings import scope
from haihai_tui.tui.screens.base import AppScreen
from haihai_tui.tui.widgets.safe_input import SafeInput

TYPE_WORDS = {"text": "text", "email": "e-mail", "number": "number", "date": "date", "select": "choice"}
Saved = Callable[[int | None], None]  # called with the record id after a write (None: deleted)


def _hint(f: FieldDef) -> str:
    if f.type == "date":
        return "2024-01-31"
    if f.type == "number":
        return "digits, e.g. 1200"
    if f.type == "email":
        return "name@example.jp"
    if f.type == "select":
        return "one of: " + " / ".join(one_line(o) for o in f.options)
    return ""


class RecordEditorScreen(AppScreen):
    """Every field of one record (``rowid``), or a new record (``rowid`` None). F2 saves."""

    HELP_TEXT = (
        "Every field of the record. Tab / shift+Tab move between fields. Under a field: what is wrong "
        "with the value as you type (red: the field's type refuses it, the save waits until it is fixed; "
        "yellow: pre-flight will say so when it is sent, e.g. a character Windows-31J does not have, with "
        "its U+ code). A choice field completes as you type (right arrow accepts). F2 saves in one "
        "transaction; if someone else saved this record after you opened it, nothing is overwritten: "
        "what they changed is shown and the record reloads. F5 reloads, F8 deletes (asks), Esc goes back "
        "(asks when there are unsaved changes)."
    )
    BINDINGS = scope("record_editor")
    DEFAULT_CSS = """
    RecordEditorScreen #rec-status { height: auto; padding: 0 1; background: $boost; }
    RecordEditorScreen #rec-status.refused { color: $text-error; }
    RecordEditorScreen #rec-conflict { height: auto; max-height: 8; padding: 0 1; color: $text-error;
                                       display: none; overflow-y: auto; }
    RecordEditorScreen #rec-conflict.on { display: block; }
    RecordEditorScreen #rec-fields { height: 1fr; }
    RecordEditorScreen .rec-row { height: 1; }
    RecordEditorScreen .rec-label { width: 28; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    RecordEditorScreen .rec-row Input { width: 1fr; background: $boost; }
    RecordEditorScreen .rec-row Input:focus { background: $primary-muted; }
    RecordEditorScreen .rec-note { height: auto; padding: 0 1 0 29; display: none; }
    RecordEditorScreen .rec-note.on { display: block; }
    """

    def __init__(
        self,
        database: Database,
        rowid: int | None,
        *,
        menu_name: str = "",
        focus_field: str | None = None,
        on_saved: Saved | None = None,
        position: str = "",
    ) -> None:
        super().__init__()
        self.database, self.on_saved, self.menu_name = database, on_saved, menu_name
        self.refusal: str | None = None
        self.saving = False
        self._store: RecordStore | None = None
        self._mounted = False
        self._notes: dict[int, str] = {}  # field index -> the note text shown under it
        self._status_shown: tuple[str, bool] | None = None
        self.retarget(rowid, focus_field, position)

    def retarget(self, rowid: int | None, focus_field: str | None = None, position: str = "") -> None:
        """Show another record (or a new one) in this screen: the list keeps one editor and pushes it again,
        so opening a record costs a read, not building a form (see bench/tui_records.py)."""
        self.rowid, self.focus_field = rowid, focus_field
        where = one_line(self.menu_name or self.database.name)
        self.TITLE_TEXT = f"{where} 新規登録 New record" if rowid is None else f"{where} レコード {position or rowid}"
        self.loaded: dict[str, str] | None = None if rowid is not None else {f.id: "" for f in self.database.fields}
        self.gone = False
        self._focus_pending = True
        #: perf_counter() of the last open (values on screen) and save (answer shown): benchmarks read them
        self.opened_at: float | None = None
        self.saved_at: float | None = None
        if self._mounted:
            self.query_one("AppHeader #hdr-title", Static).update(Text(self.TITLE_TEXT))
            self._conflict(None)
            self._start()

    # -- layout ----------------------------------------------------------------------------------

    def body(self) -> ComposeResult:
        ctx = self.happ.ctx
        self.refusal = write_refusal(self.database, ctx.user)
        yield Static("loading...", id="rec-status", markup=False)
        yield Static("", id="rec-conflict", markup=False)
        with VerticalScroll(id="rec-fields", can_focus=False):
            for i, f in enumerate(self.database.fields):
                with Horizontal(classes="rec-row"):
                    yield Static(
                        Text(f"{one_line(f.label)} ({TYPE_WORDS.get(f.type, one_line(f.type))})"),
                        classes="rec-label",
                    )
                    yield SafeInput(
                        placeholder=_hint(f),
                        id=f"rec-f{i}",
                        compact=True,
                        select_on_focus=False,
                        disabled=bool(self.refusal) or self.loaded is None,
                        suggester=SuggestFromList(f.options, case_sensitive=True) if f.options else None,
                    )
                yield Static("", id=f"rec-n{i}", classes="rec-note", markup=False)

    def on_mount(self) -> None:
        self._mounted = True
        self._start()

    def _start(self) -> None:
        if self.rowid is None:
            self._fill(self.loaded or {})
        elif self._store is not None:  # open already: one read by primary key, well under a millisecond
            try:  # (WAL: a reader never waits for a writer, not even for an import going on)
                rec = get_record(self._store, self.rowid)
            except Exception:
                rec = None  # say it from the worker below
            else:
                if rec is None:
                    self._gone(RecordGone(f"Record {self.rowid} no longer exists."))
                else:
                    self._show(rec, None)
                return
        if self.rowid is not None:
            self._status("loading...")
        self._load()

    def on_unmount(self) -> None:
        self.close_store()

    def close_store(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            store.close()

    def _input(self, i: int) -> Input:
        return self.query_one(f"#rec-f{i}", Input)

    # -- reading -----------------------------------------------------------------------------------

    def _open_store(self) -> RecordStore:
        if self._store is None:
            self._store = RecordStore.open(self.happ.ctx.paths.records_dir, self.database)
        return self._store

    @work(thread=True, exclusive=True, group="record-io", exit_on_error=False)
    def _load(self) -> None:
        """Open the store (and read the record) in a thread; the event loop never waits for SQLite."""
        try:
            store = self._open_store()
            rec = get_record(store, self.rowid) if self.rowid is not None else None
        except Exception as e:
            self.app.call_from_thread(self._status, f"Cannot read the record: {e}", True)
            return
        if self.rowid is None:
            self.app.call_from_thread(self._ready)
        elif rec is None:
            self.app.call_from_thread(self._gone, RecordGone(f"Record {self.rowid} no longer exists."))
        else:
            self.app.call_from_thread(self._show, rec, None)

    def _fill(self, values: dict[str, str]) -> None:
        disabled = bool(self.refusal) or self.gone
        for i, f in enumerate(self.database.fields):
            box = self._input(i)
            with box.prevent(Input.Changed):
                box.value = values.get(f.id, "")
                box.cursor_position = len(box.value)
            if box.disabled != disabled:
                box.disabled = disabled
            self._note(i)

    def _show(self, rec: Record, conflict: str | None) -> None:
        self.loaded = dict(rec.values)
        self._fill(self.loaded)
        self._conflict(conflict)
        self._ready()

    def _ready(self) -> None:
        self._status()
        self.call_after_refresh(self._shown)
        if self.refusal or self.gone or not self._focus_pending:  # a reload leaves the cursor where it is
            return
        self._focus_pending = False
        self.query_one("#rec-fields", VerticalScroll).scroll_home(animate=False)
        fields = [f.id for f in self.database.fields]
        i = fields.index(self.focus_field) if self.focus_field in fields else 0
        self.focus_field = None
        if fields:
            self._input(i).focus()

    def _shown(self) -> None:
        if self.opened_at is None:  # the values are on screen
            self.opened_at = perf_counter()

    # -- status and notes --------------------------------------------------------------------------

    def _status(self, text: str | None = None, error: bool = False) -> None:
        box = self.query_one("#rec-status", Static)
        if text is None:
            if self.refusal:
                text, error = self.refusal, True
            elif self.rowid is None:
                text = f"New record in {one_line(self.database.name)}: fill the fields, F2 saves, Esc cancels."
            else:
                n = len(self.database.fields)
                text = f"Record {self.rowid} of {one_line(self.database.name)}, {n} fields.  F2 saves, Esc back."
        if (text, error) != self._status_shown:
            self._status_shown = (text, error)
            box.update(safe(text, multiline=True))
            box.set_class(error, "refused")

    def _conflict(self, text: str | None) -> None:
        box = self.query_one("#rec-conflict", Static)
        if text or box.has_class("on"):
            box.update(safe(text or "", multiline=True))
            box.set_class(bool(text), "on")

    def _note(self, i: int) -> bool:
        """Show what is wrong with field ``i``'s value; True when its type refuses it."""
        f = self.database.fields[i]
        value = self._input(i).value
        line = Text()
        why = value_problem(f, value)
        if why:
            line.append("error: ", style="bold red")
            line.append(one_line(why) + "\n")
        for n in cell_notes(value):
            line.append("note: " if n.severity == "warning" else "stops a Windows-31J run: ", style="yellow")
            line.append(one_line(n.message) + "\n")
        line.rstrip()
        if self._notes.get(i) != line.plain:  # unchanged notes are not redrawn (a reload fills every field)
            self._notes[i] = line.plain
            box = self.query_one(f"#rec-n{i}", Static)
            box.update(line)
            box.set_class(bool(line.plain), "on")
        return why is not None

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        if event.input.id and event.input.id.startswith("rec-f"):
            self._note(int(event.input.id[5:]))

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.focus_next()  # Enter in a field moves on, as Tab does; F2 saves

    # -- values ------------------------------------------------------------------------------------

    def values(self) -> dict[str, str]:
        return {f.id: self._input(i).value for i, f in enumerate(self.database.fields)}

    def is_dirty(self) -> bool:
        if self.loaded is None or self.gone:
            return False
        return self.values() != self.loaded

    # -- actions ---------------------------------------------------------------------------------

    def action_save(self) -> None:
        if self.refusal:
            self.refuse(self.refusal)
            return
        if self.gone or self.loaded is None or self.saving:
            return
        bad = [i for i in range(len(self.database.fields)) if self._note(i)]
        if bad:
            labels = ", ".join(one_line(self.database.fields[i].label) for i in bad)
            self._status(f"Not saved: fix {labels} (the red lines), then F2.", True)
            self._input(bad[0]).focus()
            return
        if self.rowid is not None and not self.is_dirty():
            self._status("Nothing changed; nothing to save.")
            return
        self.saving = True
        self._status("saving...")
        self._save(self.rowid, dict(self.loaded), self.values())

    @work(thread=True, exclusive=True, group="record-io", exit_on_error=False)
    def _save(self, rowid: int | None, loaded: dict[str, str], new: dict[str, str]) -> None:
        try:
            store = self._open_store()
            rec = insert_record(store, new) if rowid is None else update_record(store, rowid, loaded, new)
        except Exception as e:  # EditConflict, RecordGone, RecordValueError, read-only, a locked file
            self.app.call_from_thread(self._save_failed, e)
            return
        self.app.call_from_thread(self._saved, rec, rowid is None)

    def _saved(self, rec: Record, added: bool) -> None:
        self.saving = False
        self.rowid = rec.rowid
        self.loaded = dict(rec.values)
        self._conflict(None)
        self.saved_at = perf_counter()
        what = "Added" if added else "Saved"
        self._status(f"{what} record {rec.rowid} of {one_line(self.database.name)}.  Esc goes back to the list.")
        self.notify(f"{what} record {rec.rowid}.", markup=False)
        if added:
            self.TITLE_TEXT = f"{one_line(self.menu_name or self.database.name)} レコード {rec.rowid}"
            self.query_one("AppHeader #hdr-title", Static).update(Text(self.TITLE_TEXT))
        if self.on_saved:
            self.on_saved(rec.rowid)

    def _save_failed(self, e: Exception) -> None:
        self.saving = False
        if isinstance(e, EditConflict):
            self._show(e.current, str(e))
            self._status("Not saved: someone else saved this record first (below). Reloaded.", True)
            self.notify("Not saved: the record was changed by someone else; reloaded.", severity="error", markup=False)
            if self.on_saved:
                self.on_saved(e.current.rowid)
        elif isinstance(e, RecordGone):
            self._gone(e)
        else:
            self._status(f"Not saved: {e}", True)
            self.notify(f"Not saved: {one_line(str(e))}", severity="error", markup=False, timeout=10)

    def _gone(self, e: Exception) -> None:
        self.gone = True
        self._fill(self.loaded or {})
        self._status(f"{e}  Esc goes back to the list.", True)
        if self.on_saved:
            self.on_saved(None)

    def action_reload(self) -> None:
        if self.rowid is None:
            return
        if self.is_dirty():
            from haihai_tui.tui.dialogs.common import ConfirmScreen

            self.app.push_screen(
                ConfirmScreen("Reload the record and discard your changes?", yes="reload", no="keep editing"),
                lambda yes: self._reload() if yes else None,
            )
        else:
            self._reload()

    def _reload(self) -> None:
        self._conflict(None)
        self._status("loading...")
        self._load()

    def action_delete(self) -> None:
        if self.refusal:
            self.refuse(self.refusal)
            return
        if self.rowid is None or self.loaded is None or self.gone:
            return
        from haihai_tui.tui.dialogs.common import ConfirmScreen

        self.app.push_screen(
            ConfirmScreen(record_summary(self.database, self.rowid, self.loaded), title="Delete / 削除", yes="delete"),
            lambda yes: self._delete(self.rowid, dict(self.loaded or {})) if yes else None,
        )

    @work(thread=True, exclusive=True, group="record-io", exit_on_error=False)
    def _delete(self, rowid: int, loaded: dict[str, str]) -> None:
        try:
            delete_record(self._open_store(), rowid, loaded)
        except Exception as e:
            self.app.call_from_thread(self._save_failed, e)
            return
        self.app.call_from_thread(self._deleted, rowid)

    def _deleted(self, rowid: int) -> None:
        self.notify(f"Deleted record {rowid}.", markup=False)
        if self.on_saved:
            self.on_saved(None)
        self.gone = True
        self.app.pop_screen()


def record_summary(database: Database, rowid: int, values: dict[str, str], limit: int = 6) -> str:
    """The question before a delete: the record's first fields, so the user sees what goes."""
    lines = [f"Delete record {rowid} of {one_line(database.name)}? This cannot be undone."]
    for f in database.fields[:limit]:
        lines.append(f"  {one_line(f.label)}: {one_line(values.get(f.id, ''))[:50]}")
    return "\n".join(lines)
