"""The first run dialogs: the pre-flight check (with progress, Esc cancels) and its findings."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from haihai_tui.core.checks.csvbuild import BuildCancelled
from haihai_tui.core.checks.findings import Finding
from haihai_tui.core.events import LogLine, RowsProgress, StageChanged
from haihai_tui.core.run.prepare import SPLIT_CODES, Prepared, RunRefused, Target
from haihai_tui.core.run.sync import SYNC_WORDS, resolve_mode
from haihai_tui.core.text import one_line
from haihai_tui.tui.bindings import scope
from haihai_tui.tui.dialogs.frame import DIALOG_CSS
from haihai_tui.tui.host import host
from haihai_tui.tui.runs import prepare_for_run
from haihai_tui.tui.widgets.progress import bar

MAX_LISTED = 500  # findings listed in the dialog (the rest are counted)


# -- pre-flight ----------------------------------------------------------------------------------


@dataclass
class PreflightResult:
    prepared: Prepared | None = None
    error: str | None = None  # a refusal, in plain words
    cancelled: bool = False
    caution: str = ""  # e.g. the last run of this integration is 結果不明


class PreflightScreen(ModalScreen[PreflightResult]):
    """Runs ``core.run.prepare`` in a thread worker; shows rows checked; Esc cancels."""

    DEFAULT_CSS = DIALOG_CSS.format(cls="PreflightScreen")
    BINDINGS = scope("preflight")

    def __init__(self, target: Target, split: bool = False, *, sync: str | None = None, retry_run: int | None = None):
        super().__init__()
        self.target, self.split = target, split
        self.sync, self.retry_run = sync, retry_run  # the sync mode chosen for the run (None: the integration's)
        self._cancel = threading.Event()
        self._abandoned = False
        self._rows: tuple[int, int | None] = (0, None)  # written by the worker thread
        self._stage = "starting"

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(
                f"Pre-flight check / 事前チェック: {one_line(self.target.integration)}",
                classes="dlg-title",
                markup=False,
            )
            yield Static(self.mode_text(), id="pf-mode", markup=False)
            yield Static("", id="pf-status", markup=False)
            yield Static("Esc = cancel", classes="dlg-hint", markup=False)

    def mode_text(self) -> str:
        """The sync mode of this run, in plain words (core/run/sync.py)."""
        if self.retry_run is not None:
            return f"Sync: retry of run #{self.retry_run} - exactly the rows HaiHai reported 失敗 there"
        g = host(self).ctx.settings.integration(self.target.integration)
        mode = resolve_mode(g, self.sync) if g is not None else (self.sync or "full")
        return f"Sync: {mode} - {SYNC_WORDS.get(mode, mode)}"

    def on_mount(self) -> None:
        self._refresh_status()
        self.set_interval(0.1, self._refresh_status)
        self._work()

    def _refresh_status(self) -> None:
        done, total = self._rows
        pct = None if not total else 100 * done / total
        rows = f"{done:,} of {total:,} rows" if total is not None else f"{done:,} rows"
        split = "  (split into several requests)" if self.split else ""
        self.query_one("#pf-status", Static).update(f"{one_line(self._stage)}{split}\n{bar(pct)} {rows}")

    def _sink(self, ev) -> None:  # called in the worker thread: plain assignments only
        if isinstance(ev, RowsProgress):
            self._rows = (ev.done, ev.total)
        elif isinstance(ev, StageChanged):
            self._stage = ev.message or ev.stage.value
        elif isinstance(ev, LogLine) and ev.level != "info":
            self._stage = ev.text

    @work(thread=True, exit_on_error=False, group="preflight")
    def _work(self) -> None:
        ctx = host(self).ctx
        try:
            p = prepare_for_run(
                ctx,
                self.target,
                split=self.split,
                on_event=self._sink,
                cancel=self._cancel,
                sync=self.sync,
                retry_run=self.retry_run,
            )
            result = PreflightResult(prepared=p, caution=p.last_run_caution)
        except BuildCancelled:
            result = PreflightResult(cancelled=True)
        except RunRefused as e:
            result = PreflightResult(error=str(e))
        except Exception as e:  # a broken record file etc.: say it, no traceback
            result = PreflightResult(error=f"pre-flight failed: {e}")
        self.app.call_from_thread(self._finish, result)

    def _finish(self, result: PreflightResult) -> None:
        if self._abandoned:  # the user cancelled first: never leave built files behind
            if result.prepared is not None:
                result.prepared.discard()
            return
        self.dismiss(result)

    def action_cancel(self) -> None:
        self._cancel.set()
        self._abandoned = True
        self.dismiss(PreflightResult(cancelled=True))


# -- findings ------------------------------------------------------------------------------------


class FindingsScreen(ModalScreen[tuple[str, int | None]]):
    """Findings, errors first. Enter on one with a row -> ("jump", row); e -> ("edit", row) (the record editor
    on that row, on the finding's column: ``chosen``); c -> ("continue", None)."""

    DEFAULT_CSS = (
        DIALOG_CSS.format(cls="FindingsScreen")
        + """
    FindingsScreen OptionList { height: auto; max-height: 14; }
    """
    )
    BINDINGS = scope("findings")

    def __init__(self, prepared: Prepared) -> None:
        super().__init__()
        self.p = prepared
        self.blocked = bool(prepared.hard_errors)
        self.listed = [f for f in prepared.built.findings if f.code not in SPLIT_CODES][:MAX_LISTED]
        self.chosen: Finding | None = None  # the finding "edit" was pressed on

    def compose(self) -> ComposeResult:
        b = self.p.built
        with Vertical():
            yield Static(
                f"Pre-flight found {b.error_count:,} error(s) and {b.warning_count:,} warning(s) "
                f"in {b.total_rows:,} rows",
                classes="dlg-title",
                markup=False,
            )
            yield OptionList(
                *[Option(self._line(f), id=str(i)) for i, f in enumerate(self.listed)], id="findings", compact=True
            )
            if self.blocked:
                yield Static(
                    "Errors block the run: correct the rows (e edits one here) or narrow the search, then run again.",
                    classes="dlg-err",
                    markup=False,
                )
                yield Static(
                    "Enter = go to the row    e = edit the record    Esc = close", classes="dlg-hint", markup=False
                )
            else:
                yield Static("Only warnings: HaiHai will still accept the file.", classes="dlg-warn", markup=False)
                yield Static(
                    "c = run anyway (next: confirm)   Enter = go to the row   e = edit it   Esc = close",
                    classes="dlg-hint",
                    markup=False,
                )

    @staticmethod
    def _line(f: Finding) -> Text:
        t = Text(no_wrap=False)
        t.append("ERROR " if f.is_error else "warn  ", style="bold red" if f.is_error else "yellow")
        if f.row is not None:
            t.append(f"row {f.row:,}", style="bold")
            t.append(" ")
        if f.column:
            t.append(f"[{one_line(f.column)}] ")
        if f.codepoint and f.codepoint not in f.message:
            t.append(f"{one_line(f.codepoint)} ")
        t.append(one_line(f.message))
        return t

    def on_mount(self) -> None:
        self.query_one("#findings", OptionList).focus()

    @on(OptionList.OptionSelected, "#findings")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        f = self.listed[int(event.option.id or 0)]
        if f.row is None:
            self.notify("This finding is about the whole file, not one row.", markup=False)
            return
        self.chosen = f
        self.dismiss(("jump", f.row))

    def action_edit(self) -> None:
        ol = self.query_one("#findings", OptionList)
        if ol.highlighted is None or not self.listed:
            return
        f = self.listed[ol.highlighted]
        if f.row is None:
            self.notify("This finding is about the whole file, not one record.", markup=False)
            return
        self.chosen = f
        self.dismiss(("edit", f.row))

    def action_go_on(self) -> None:
        if self.blocked:
            self.notify("Errors block this run; correct them first.", severity="error", markup=False)
            return
        self.dismiss(("continue", None))

    def action_close(self) -> None:
        self.dismiss(("close", None))
