"""CSV一括登録: import a CSV file into the database of the record list, from the list (key ``i``).

The file is chosen with a path field that completes on Tab; append or replace; F2 (or Enter in the path)
starts. The import runs in a thread worker with a record store of its own (its own SQLite connection), so
the event loop never waits for it and the list behind stays usable; a timer shows the progress bar, rows
and rows/s. Esc cancels part-way. It is one transaction (core/records/importer.py): a cancel or an error
leaves the database exactly as it was, and the error is shown here as ``line N: what is wrong``. At the end
the list refreshes. Users the ``records`` rule refuses (a read-only database) see the dialog read-only with
the reason. File names and messages are shown terminal-safe, never as markup.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Static

from haihai_tui.core.records.importer import ImportCancelled, ImportResult, RecordImportError
from haihai_tui.core.records.store import DatabaseIdError, RecordFileError, RecordStore
from haihai_tui.core.settings.model import Database
from haihai_tui.core.text import one_line, safe
from haihai_tui.tui.bindings import scope
from haihai_tui.tui.dialogs.common import ConfirmScreen
from haihai_tui.tui.dialogs.csv_common import CSV_DIALOG_CSS, CsvDialog, Progress
from haihai_tui.tui.widgets.kvgrid import Choice
from haihai_tui.tui.widgets.path_input import PathInput

#: rows per batch: csv.reader parses a batch without letting the event loop run (5,000 rows: ~10 ms)
IMPORT_BATCH = 5_000
SHOWN_LINES = 8  # `line N:` problems listed at most


def check_source(text: str) -> tuple[Path | None, str]:
    """(the file, "") or (None, what is wrong with the path typed and how to fix it)."""
    text = text.strip()
    if not text:
        return None, "Type the path of the CSV file (Tab completes folder and file names)."
    path = Path(text).expanduser()
    if path.is_dir():
        return None, f"{one_line(text)} is a folder: add the file name (Tab lists what is in it)."
    if not path.is_file():
        return None, f"There is no file {one_line(text)}; check the path (Tab completes names)."
    return path, ""


class CsvImportScreen(CsvDialog):
    """Dismisses with the ImportResult of a finished import, else None."""

    DEFAULT_CSS = CSV_DIALOG_CSS.replace("{cls}", "CsvImportScreen")
    BINDINGS = scope("csv_import")

    def __init__(
        self,
        database: Database,
        records_dir: Path,
        *,
        count: int | None,
        refusal: str | None = None,
        on_imported: Callable[[], None] | None = None,
        start_dir: Path | None = None,
    ) -> None:
        super().__init__()
        self.database, self.records_dir, self.count, self.refusal = database, records_dir, count, refusal
        self.on_imported = on_imported
        self.start_dir = start_dir or Path.cwd()
        self.progress: Progress | None = None
        self.cancel_event = threading.Event()
        self.result: ImportResult | None = None
        self.error: str | None = None

    def compose(self) -> ComposeResult:
        db = self.database
        held = "?" if self.count is None else f"{self.count:,}"
        labels = ", ".join(f.label for f in db.fields)
        with Vertical():
            yield Static(Text(f"CSV一括登録 Import CSV into {one_line(db.name)}"), classes="dlg-title")
            yield Static(
                Text(
                    one_line(f"The first line names the columns ({labels}); UTF-8 or Windows-31J, detected. ")
                    + "All or nothing: an error or Esc imports no row."
                ),
                classes="dlg-info",
            )
            with Horizontal():
                yield Static("File:", classes="dlg-label", markup=False)
                yield PathInput(
                    placeholder="path of the .csv file (Tab completes)", id="csv-path", compact=True, base=None
                )
            yield Static("", id="csv-cands", classes="dlg-cands", markup=False)
            with Horizontal():
                yield Static("Mode:", classes="dlg-label", markup=False)
                yield Choice(
                    [
                        ("append", f"append: add to the {held} records"),
                        ("replace", f"replace: delete the {held} records first"),
                    ],
                    "append",
                    id="csv-mode",
                )
            yield Static("", id="csv-bar", classes="dlg-bar", markup=False)
            yield Static("", id="csv-status", classes="dlg-status", markup=False)
            yield Static("", id="csv-hint", classes="dlg-hint", markup=False)

    def on_mount(self) -> None:
        self._hint()
        if self.refusal:
            self.status(safe(self.refusal, multiline=True), error=True)
            self.query_one("#csv-path", PathInput).disabled = True
            self.query_one("#csv-mode", Choice).disabled = True
        else:
            self.query_one("#csv-path", PathInput).focus()

    def _hint(self) -> None:
        keys = {ab.binding.action: k for k, ab in self.active_bindings.items()}
        start, cancel = keys.get("start", "f2").upper(), "Esc" if keys.get("cancel") == "escape" else keys.get("cancel")
        if self.busy:
            text = f"{cancel} = cancel the import (nothing is stored)"
        elif self.refusal or self.result is not None:
            text = f"{cancel} = close"
        else:
            text = f"Tab = complete / next   Left/Right = mode   {start} = import   {cancel} = close"
        self.query_one("#csv-hint", Static).update(text)

    @on(Input.Submitted, "#csv-path")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_start()

    # -- start -------------------------------------------------------------------------------------

    def action_start(self) -> None:
        if self.busy:
            return
        if self.refusal:
            self.status(safe(self.refusal, multiline=True), error=True)
            return
        path, why = check_source(self.query_one("#csv-path", PathInput).value)
        if path is None:
            self.status(why, error=True)
            return
        replace = self.query_one("#csv-mode", Choice).value == "replace"
        if not replace:
            self._go(path, False)
            return
        held = "all" if self.count is None else f"all {self.count:,}"
        self.app.push_screen(
            ConfirmScreen(
                f"Replace: {held} records of {one_line(self.database.name)} are deleted and the rows of "
                f"{one_line(str(path))} stored instead, in one transaction (an error or Esc keeps them).",
                title="Replace the records? / 置き換え",
                yes="replace",
                no="back",
            ),
            lambda yes: self._go(path, True) if yes else None,
        )

    def _go(self, path: Path, replace: bool) -> None:
        self.busy, self.result, self.error = True, None, None
        self.cancel_event = threading.Event()
        self.progress = Progress()
        self.query_one("#csv-path", PathInput).disabled = True
        self.query_one("#csv-mode", Choice).disabled = True
        self.status("Reading the file (checking the encoding)...")
        self._hint()
        self._timer = self.set_interval(0.1, self._tick)
        self._tick()
        self._import(path, replace, self.progress, self.cancel_event)

    def _tick(self) -> None:
        if self.progress is not None:
            self.query_one("#csv-bar", Static).update(self.progress.line())
            if self.busy and self.progress.rows and not self.cancel_event.is_set():
                self.status("Importing... (Esc cancels: nothing is stored)")

    @work(thread=True, exclusive=True, group="csv-import", exit_on_error=False)
    def _import(self, path: Path, replace: bool, progress: Progress, cancel: threading.Event) -> None:
        result, error, cancelled, count = None, None, False, None
        try:
            store = RecordStore.open(self.records_dir, self.database)
        except (DatabaseIdError, RecordFileError) as e:
            error = str(e)
        except OSError as e:
            error = f"cannot open the record database in {self.records_dir}: {e.strerror or e}"
        else:
            try:
                result = store.import_csv(
                    path, replace=replace, on_progress=progress.on_import, cancel=cancel, batch=IMPORT_BATCH
                )
            except RecordImportError as e:
                error = self._every_line(path, e)
            except ImportCancelled:
                cancelled = True
            except (sqlite3.Error, OSError) as e:
                error = f"the record database could not be written: {e}"
            try:
                count = store.count()
            except sqlite3.Error:
                count = None
            finally:
                store.close()
        self.app.call_from_thread(self._finished, path, result, error, cancelled, count)

    def _every_line(self, path: Path, e: RecordImportError) -> str:
        """The import's error, then the other lines of the file that would fail too (a scan of the file)."""
        from haihai_tui.core.records.import_check import line_problems

        found = line_problems(path, self.database, limit=SHOWN_LINES)
        shown = ([str(e)] + [line for line in found.lines if line != str(e)])[:SHOWN_LINES]
        more = found.total - sum(line in found.lines for line in shown)
        return "\n".join(shown) + (f"\n... and {more:,} more lines like these" if more > 0 else "")

    def _finished(
        self, path: Path, result: ImportResult | None, error: str | None, cancelled: bool, count: int | None
    ) -> None:
        self.busy = False
        self._timer.stop()
        self._tick()
        if self.progress is not None and not self.progress.rows and result is None:
            self.query_one("#csv-bar", Static).update("")  # stopped before the first batch: no bar
        held = "" if count is None else f"; {one_line(self.database.name)} holds {count:,} records"
        if result is not None:
            self.result, self.count = result, count
            rate = result.rows / result.seconds if result.seconds > 0 else 0
            missing = [self.database.field(f).label for f in result.missing if self.database.field(f)]
            empty = f" Left empty (not in the file): {', '.join(missing)}." if missing else ""
            self.status(
                safe(
                    f"Imported {result.rows:,} record{'' if result.rows == 1 else 's'} from {path.name} "
                    f"({result.encoding}) in "
                    f"{result.seconds:.1f} s ({rate:,.0f} rows/s){' replacing the old ones' if result.replaced else ''}"
                    f"{held}.{empty}",
                    multiline=True,
                )
            )
            if self.on_imported is not None:
                self.on_imported()
        elif cancelled:
            self.status(f"Cancelled: nothing was imported{held} as before.")
            self._reopen()
        else:
            self.error = error
            self.status(safe(f"{error}\nNothing was imported{held} as before.", multiline=True), error=True)
            self._reopen()
        self._hint()

    def _reopen(self) -> None:
        self.query_one("#csv-path", PathInput).disabled = False
        self.query_one("#csv-mode", Choice).disabled = False
        self.query_one("#csv-path", PathInput).focus()

    def action_cancel(self) -> None:
        if self.busy:
            self.cancel_event.set()
            self.status("Cancelling... (the transaction is rolled back)")
            return
        self.dismiss(self.result)
