"""CSV出力: export the current result of the record list (its search, conditions and sort; the menu's
columns) to a CSV file, from the list (key ``x``).

The path field completes on Tab; the encoding is Windows-31J or UTF-8, the header row on or off; F2 (or
Enter in the path) writes, asking first before it replaces a file. The rows are read and written in a thread
worker (core/checks/export.py: a temp file in the same folder, renamed into place when complete) with a
progress bar; Esc cancels and leaves no file. A character the encoding lacks stops the export with the
findings (row, column, U+ code) listed here, as pre-flight lists them; Enter on one jumps to its row in the
list. Names, paths and cell text are shown terminal-safe, never as markup.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from haihai_tui.core.checks.export import ExportCancelled, ExportError, ExportResult, export_csv
from haihai_tui.core.records.errors import RecordSourceError
from haihai_tui.core.records.query import Query
from haihai_tui.core.text import one_line, safe
from haihai_tui.tui.bindings import scope
from haihai_tui.tui.dialogs.common import ConfirmScreen
from haihai_tui.tui.dialogs.csv_common import CSV_DIALOG_CSS, CsvDialog, Progress
from haihai_tui.tui.widgets.kvgrid import Choice
from haihai_tui.tui.widgets.path_input import PathInput

MAX_LISTED = 200  # findings listed (the rest are counted)


def check_destination(text: str) -> tuple[Path | None, str]:
    """(the file to write, "") or (None, what is wrong with the path typed and how to fix it)."""
    text = text.strip()
    if not text:
        return None, "Type the path of the file to write (Tab completes folder names)."
    path = Path(text).expanduser()
    if path.is_dir() or text.endswith("/"):
        return None, f"{one_line(text)} is a folder: add a file name, e.g. {one_line(text.rstrip('/'))}/export.csv"
    if not path.parent.is_dir():
        return None, f"The folder {one_line(str(path.parent))} does not exist; create it or choose another one."
    return path, ""


class CsvExportScreen(CsvDialog):
    """Dismisses with ("jump", row) when a finding was chosen, ("written", path) after a write, else None."""

    DEFAULT_CSS = CSV_DIALOG_CSS.replace("{cls}", "CsvExportScreen")
    BINDINGS = scope("csv_export")

    def __init__(
        self,
        open_store: Callable[[], object],
        query: Query,
        columns: Sequence[tuple[str, str]],
        *,
        total: int | None,
        what: str,
        default_path: Path,
    ) -> None:
        super().__init__()
        self.open_store, self.records_query, self.columns = open_store, query, list(columns)
        self.total, self.what, self.default_path = total, what, default_path
        self.progress: Progress | None = None
        self.cancel_event = threading.Event()
        self.written: Path | None = None

    def compose(self) -> ComposeResult:
        rows = "?" if self.total is None else f"{self.total:,}"
        cols = ", ".join(label for _, label in self.columns)
        with Vertical():
            yield Static(Text(one_line(f"CSV出力 Export {rows} rows: {self.what}")), classes="dlg-title")
            yield Static(Text(one_line(f"Columns: {cols}")), classes="dlg-info")
            with Horizontal():
                yield Static("File:", classes="dlg-label", markup=False)
                yield PathInput(str(self.default_path), id="csv-path", compact=True)
            yield Static("", id="csv-cands", classes="dlg-cands", markup=False)
            with Horizontal():
                yield Static("Encoding:", classes="dlg-label", markup=False)
                yield Choice(
                    [("cp932", "Windows-31J (Shift_JIS, Excel)"), ("utf-8", "UTF-8")], "cp932", id="csv-encoding"
                )
            with Horizontal():
                yield Static("Header row:", classes="dlg-label", markup=False)
                yield Choice([("yes", "yes: the labels first"), ("no", "no: data rows only")], "yes", id="csv-header")
            yield Static("", id="csv-bar", classes="dlg-bar", markup=False)
            yield Static("", id="csv-status", classes="dlg-status", markup=False)
            yield OptionList(id="csv-findings", compact=True)
            yield Static("", id="csv-hint", classes="dlg-hint", markup=False)

    def on_mount(self) -> None:
        self.query_one("#csv-findings", OptionList).display = False
        box = self.query_one("#csv-path", PathInput)
        box.focus()
        box.cursor_position = len(box.value)
        self._hint()

    def _hint(self) -> None:
        keys = {ab.binding.action: k for k, ab in self.active_bindings.items()}
        start, cancel = keys.get("start", "f2").upper(), "Esc" if keys.get("cancel") == "escape" else keys.get("cancel")
        if self.busy:
            text = f"{cancel} = cancel (no file is written)"
        elif self.query_one("#csv-findings", OptionList).display:
            text = f"Enter = go to the row   S-Tab = back to the fields   {start} = export   {cancel} = close"
        else:
            text = f"Tab = complete / next   Left/Right = change   {start} = export   {cancel} = close"
        self.query_one("#csv-hint", Static).update(text)

    @on(Input.Submitted, "#csv-path")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_start()

    # -- start -------------------------------------------------------------------------------------

    def action_start(self) -> None:
        if self.busy:
            return
        dest, why = check_destination(self.query_one("#csv-path", PathInput).value)
        if dest is None:
            self.status(why, error=True)
            return
        enc = self.query_one("#csv-encoding", Choice).value
        header = self.query_one("#csv-header", Choice).value == "yes"
        if not dest.exists():
            self._go(dest, enc, header)
            return
        self.app.push_screen(
            ConfirmScreen(
                f"{one_line(str(dest))} exists. Replace it? (It is replaced only when the new file is complete.)",
                title="Replace the file? / 上書き",
                yes="replace",
                no="back",
            ),
            lambda yes: self._go(dest, enc, header) if yes else None,
        )

    def _go(self, dest: Path, enc: str, header: bool) -> None:
        self.busy = True
        self.cancel_event = threading.Event()
        self.progress = Progress(total=self.total)
        for wid in ("#csv-path", "#csv-encoding", "#csv-header"):
            self.query_one(wid).disabled = True
        findings = self.query_one("#csv-findings", OptionList)
        findings.clear_options()
        findings.display = False
        self.status("Writing... (Esc cancels: no file is written)")
        self._hint()
        self._timer = self.set_interval(0.1, self._tick)
        self._tick()
        self._export(dest, enc, header, self.progress, self.cancel_event)

    def _tick(self) -> None:
        if self.progress is not None:
            self.query_one("#csv-bar", Static).update(self.progress.line())

    @work(thread=True, exclusive=True, group="csv-export", exit_on_error=False)
    def _export(self, dest: Path, enc: str, header: bool, progress: Progress, cancel: threading.Event) -> None:
        result, error, cancelled = None, None, False
        store = None
        try:
            store = self.open_store()
            rows = store.iter_rows(self.records_query, [cid for cid, _ in self.columns])
            result = export_csv(
                rows,
                [label for _, label in self.columns],
                dest,
                encoding=enc,
                header=header,
                on_rows=progress.on_rows,
                cancel=cancel,
            )
        except ExportCancelled:
            cancelled = True
        except ExportError as e:
            error = str(e)
        except (sqlite3.Error, OSError, ValueError, RecordSourceError) as e:
            error = f"the records could not be read: {e}"
        finally:
            if store is not None:
                store.close()
        self.app.call_from_thread(self._finished, result, error, cancelled)

    def _finished(self, result: ExportResult | None, error: str | None, cancelled: bool) -> None:
        self.busy = False
        self._timer.stop()
        self._tick()
        for wid in ("#csv-path", "#csv-encoding", "#csv-header"):
            self.query_one(wid).disabled = False
        if cancelled:
            self.status("Cancelled: no file was written (an existing file is untouched).")
        elif error is not None:
            self.status(safe(error, multiline=True), error=True)
        elif result is not None and result.written:
            self.written = result.path
            warn = (
                f" {result.warning_count:,} warnings (characters {result.encoding_name} carries as another one):"
                if result.warning_count
                else ""
            )
            self.status(
                safe(
                    f"Written: {result.rows:,} rows, {result.bytes:,} bytes, {result.encoding_name}, to {result.path}."
                    + warn,
                    multiline=True,
                )
            )
            self._list(result)
        elif result is not None:
            self.status(
                safe(
                    f"Stopped: {result.error_count:,} {'character' if result.error_count == 1 else 'characters'} "
                    f"{result.encoding_name} does not have; nothing is replaced, so no file was written. Correct "
                    f"the rows (Enter goes to one) or choose UTF-8:",
                    multiline=True,
                ),
                error=True,
            )
            self._list(result)
        if not self.query_one("#csv-findings", OptionList).display:
            self.query_one("#csv-path", PathInput).focus()
        self._hint()

    def _list(self, result: ExportResult) -> None:
        box = self.query_one("#csv-findings", OptionList)
        shown = result.findings[:MAX_LISTED]
        for i, f in enumerate(shown):
            box.add_option(Option(Text(one_line(str(f))), id=str(i)))
        if len(result.findings) > MAX_LISTED:
            box.add_option(Option(Text(f"... {len(result.findings) - MAX_LISTED:,} more not listed"), disabled=True))
        self._shown = shown
        box.display = bool(shown)
        if shown:
            box.highlighted = 0
            box.focus()

    @on(OptionList.OptionSelected, "#csv-findings")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        f = self._shown[int(event.option.id or 0)]
        if f.row is not None:
            self.dismiss(("jump", f.row))

    def action_cancel(self) -> None:
        if self.busy:
            self.cancel_event.set()
            self.status("Cancelling...")
            return
        self.dismiss(("written", self.written) if self.written else None)
