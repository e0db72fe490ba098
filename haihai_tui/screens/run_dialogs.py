"""The dialogs of a run started from the record list: pre-flight (with progress), the findings,
the confirm dialog (memo, summary, split, quota, dry run, typed name for dangerous runs) and the
dry-run preview. Keyboard only; each dialog writes its keys in plain words.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from ..core.csvbuild import BuildCancelled, Finding
from ..core.events import LogLine, RowsProgress, StageChanged
from ..core.run import Prepared, RunRefused, Target
from ..runservice import prepare_for_run
from ..widgets.progress import bar

SPLIT_CODES = {"over_rows", "over_bytes"}
MAX_LISTED = 500   # findings listed in the dialog (the rest are counted)

_CSS = """
{cls} {{ align: center middle; }}
{cls} > Vertical {{ width: 76; max-width: 100%; height: auto; max-height: 100%; border: round $accent;
                   background: $surface; padding: 0 1; }}
{cls} .dlg-title {{ text-style: bold; }}
{cls} .dlg-hint {{ color: $text-muted; }}
{cls} .dlg-warn {{ color: $warning; text-style: bold; }}
{cls} .dlg-err {{ color: $error; text-style: bold; }}
"""


def hard_errors(p: Prepared) -> list[Finding]:
    """Errors that block the run (the per-request limits alone can be solved by splitting)."""
    return [f for f in p.built.errors if f.code not in SPLIT_CODES]


def needs_split(p: Prepared) -> bool:
    return any(f.code in SPLIT_CODES for f in p.built.errors) and not p.split


def split_estimate(p: Prepared) -> int:
    lim = p.integration.limits
    size = sum(p.built.bytes_per_file)
    return max(math.ceil(p.rows / max(lim.max_rows, 1)), math.ceil(size / max(lim.max_bytes, 1)), 2)


# -- pre-flight ----------------------------------------------------------------------------------

@dataclass
class PreflightResult:
    prepared: Prepared | None = None
    error: str | None = None      # a refusal, in plain words
    cancelled: bool = False
    caution: str = ""             # e.g. the last run of this integration is 結果不明


def last_run_caution(ctx, integration: str) -> str:
    """A warning when this integration's latest run ended 結果不明 (blocking: call from a thread)."""
    from ..core.events import Outcome
    from ..core.history import History
    try:
        recent = [r for r in History(ctx.paths.history_db).list(limit=50) if r.integration == integration]
    except Exception:
        return ""
    if recent and recent[0].outcome is Outcome.UNKNOWN:
        r = recent[0]
        return (f"The last run of this integration (#{r.run_id}, {r.started_at[:16].replace('T', ' ')}) is "
                f"結果不明: make sure in HaiHai that it was not imported before sending again.")
    return ""


class PreflightScreen(ModalScreen[PreflightResult]):
    """Runs ``core.run.prepare`` in a thread worker; shows rows checked; Esc cancels."""

    DEFAULT_CSS = _CSS.format(cls="PreflightScreen")
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="preflight_cancel")]

    def __init__(self, target: Target, split: bool = False) -> None:
        super().__init__()
        self.target, self.split = target, split
        self._cancel = threading.Event()
        self._abandoned = False
        self._rows: tuple[int, int | None] = (0, None)   # written by the worker thread
        self._stage = "starting"

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"Pre-flight check / 事前チェック: {self.target.integration}", classes="dlg-title",
                         markup=False)
            yield Static("", id="pf-status", markup=False)
            yield Static("Esc = cancel", classes="dlg-hint", markup=False)

    def on_mount(self) -> None:
        self._refresh_status()
        self.set_interval(0.1, self._refresh_status)
        self._work()

    def _refresh_status(self) -> None:
        done, total = self._rows
        pct = None if not total else 100 * done / total
        rows = f"{done:,} of {total:,} rows" if total is not None else f"{done:,} rows"
        split = "  (split into several requests)" if self.split else ""
        self.query_one("#pf-status", Static).update(f"{self._stage}{split}\n{bar(pct)} {rows}")

    def _sink(self, ev) -> None:  # called in the worker thread: plain assignments only
        if isinstance(ev, RowsProgress):
            self._rows = (ev.done, ev.total)
        elif isinstance(ev, StageChanged):
            self._stage = ev.message or ev.stage.value
        elif isinstance(ev, LogLine) and ev.level != "info":
            self._stage = ev.text

    @work(thread=True, exit_on_error=False, group="preflight")
    def _work(self) -> None:
        ctx = self.app.ctx  # type: ignore[attr-defined]
        try:
            p = prepare_for_run(ctx, self.target, split=self.split, on_event=self._sink, cancel=self._cancel)
            result = PreflightResult(prepared=p, caution=last_run_caution(ctx, self.target.integration))
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
    """Findings, errors first. Enter on one with a row -> ("jump", row); c -> ("continue", None)."""

    DEFAULT_CSS = _CSS.format(cls="FindingsScreen") + """
    FindingsScreen OptionList { height: auto; max-height: 14; }
    """
    BINDINGS = [
        Binding("escape", "close", "Close", id="findings_close"),
        Binding("c", "go_on", "Run anyway", id="findings_run_anyway"),
    ]

    def __init__(self, prepared: Prepared) -> None:
        super().__init__()
        self.p = prepared
        self.blocked = bool(hard_errors(prepared))
        self.listed = [f for f in prepared.built.findings if f.code not in SPLIT_CODES][:MAX_LISTED]

    def compose(self) -> ComposeResult:
        b = self.p.built
        with Vertical():
            yield Static(f"Pre-flight found {b.error_count:,} error(s) and {b.warning_count:,} warning(s) "
                         f"in {b.total_rows:,} rows", classes="dlg-title", markup=False)
            yield OptionList(*[Option(self._line(f), id=str(i)) for i, f in enumerate(self.listed)],
                             id="findings", compact=True)
            if self.blocked:
                yield Static("Errors block the run: correct the rows in 楽楽販売 (or narrow the search), then "
                             "run again.", classes="dlg-err", markup=False)
                yield Static("Enter = go to the row    Esc = close", classes="dlg-hint", markup=False)
            else:
                yield Static("Only warnings: HaiHai will still accept the file.", classes="dlg-warn", markup=False)
                yield Static("c = run anyway (next: confirm)    Enter = go to the row    Esc = close",
                             classes="dlg-hint", markup=False)

    @staticmethod
    def _line(f: Finding) -> Text:
        t = Text(no_wrap=False)
        t.append("ERROR " if f.is_error else "warn  ", style="bold red" if f.is_error else "yellow")
        if f.row is not None:
            t.append(f"row {f.row:,}", style="bold")
            t.append(" ")
        if f.column:
            t.append(f"[{f.column}] ")
        if f.codepoint and f.codepoint not in f.message:
            t.append(f"{f.codepoint} ")
        t.append(f.message)
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
        self.dismiss(("jump", f.row))

    def action_go_on(self) -> None:
        if self.blocked:
            self.notify("Errors block this run; correct them first.", severity="error", markup=False)
            return
        self.dismiss(("continue", None))

    def action_close(self) -> None:
        self.dismiss(("close", None))


# -- confirm -------------------------------------------------------------------------------------

@dataclass
class ConfirmChoice:
    action: str          # "run" | "split" | "cancel"
    memo: str = ""


class ConfirmRunScreen(ModalScreen[ConfirmChoice]):
    """The last word before sending: memo, what it does, requests and quota, dry run, typed name."""

    DEFAULT_CSS = _CSS.format(cls="ConfirmRunScreen") + """
    ConfirmRunScreen #cf-body { height: auto; max-height: 12; }
    ConfirmRunScreen Input { margin: 0; background: $boost; }
    """
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="confirm_cancel"),
        Binding("f2", "run", "実行 Run", id="confirm_run"),
        Binding("f3", "dry_run", "Dry run", id="confirm_dry_run"),
        Binding("f4", "split", "Split", id="confirm_split"),
    ]

    def __init__(self, prepared: Prepared, memo: str = "", caution: str = "") -> None:
        super().__init__()
        self.p, self.memo, self.caution = prepared, memo, caution

    @property
    def must_split(self) -> bool:
        return needs_split(self.p)

    @property
    def over_quota(self) -> bool:
        return self.p.requests > self.p.quota_left

    def compose(self) -> ComposeResult:
        p = self.p
        with Vertical():
            yield Static(f"Run / 実行: {p.integration.name}", classes="dlg-title", markup=False)
            if self.caution:
                yield Static(self.caution, classes="dlg-warn", markup=False)
            if p.dangerous:
                yield Static(f"DANGEROUS: {p.dangerous}", classes="dlg-err", markup=False)
            with VerticalScroll(id="cf-body"):
                yield Static(self._body(), markup=False)
            yield Static("メモ memo (optional, saved in the history):", markup=False)
            yield Input(value=self.memo, placeholder="(optional) e.g. 4月セミナー参加者", id="memo", compact=True)
            if p.dangerous:
                yield Static(f"Type the integration's name to enable 実行:  {p.integration.name}", markup=False)
                yield Input(placeholder="(type the name above here)", id="typed", compact=True)
            yield Static("", id="cf-state", markup=False)
            yield Static(self._hint(), classes="dlg-hint", markup=False)

    def _body(self) -> str:
        p = self.p
        lines = [p.summary, ""]
        if p.condition_texts:
            lines.append("Rows: the current list - " + ", ".join(p.condition_texts))
        else:
            lines.append("Rows: the whole list (no search, no conditions)")
        lim = p.integration.limits
        if self.must_split:
            n = split_estimate(p)
            lines.append(f"Over the per-request limit ({lim.max_rows:,} rows / {lim.max_bytes:,} bytes): "
                         f"F4 splits it into about {n:,} requests, using {n:,} of the {p.quota_left:,} "
                         f"requests left today (daily quota {lim.daily_quota:,}).")
        else:
            lines.append(f"Requests: {p.requests:,} (uses {p.requests:,} of the {p.quota_left:,} left today; "
                         f"daily quota {lim.daily_quota:,}, resets 00:00 JST)")
        if p.built.warning_count:
            lines.append(f"Warnings accepted: {p.built.warning_count:,} (see pre-flight)")
        return "\n".join(lines)

    def _hint(self) -> str:
        keys = ["F2/Enter = 実行 run", "F3 = dry run (show the request)"]
        if self.must_split:
            keys.append("F4 = split")
        keys.append("Esc = cancel")
        return "    ".join(keys)

    def on_mount(self) -> None:
        self.query_one("#memo", Input).focus()
        self._update_state()

    def blocked_reason(self) -> str | None:
        if self.must_split:
            return "Over the per-request limit: press F4 to split, or narrow the search."
        if self.over_quota:
            return (f"This needs {self.p.requests:,} requests but only {self.p.quota_left:,} are left today; "
                    f"narrow the search or wait until 00:00 JST.")
        if self.p.blocked:
            return "Pre-flight found errors; correct them first."
        if self.p.dangerous:
            typed = self.query_one("#typed", Input).value.strip()
            if typed != self.p.integration.name:
                return "Type the integration's name exactly to enable 実行."
        return None

    def _update_state(self) -> None:
        why = self.blocked_reason()
        w = self.query_one("#cf-state", Static)
        w.update(f"実行 is disabled: {why}" if why else "Ready: F2 or Enter sends it now.")
        w.set_class(bool(why), "dlg-warn")

    @on(Input.Changed, "#typed")
    def _typed(self, _event: Input.Changed) -> None:
        self._update_state()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "memo" and self.p.dangerous:
            self.query_one("#typed", Input).focus()
            return
        self.action_run()

    def action_run(self) -> None:
        why = self.blocked_reason()
        if why:
            self.notify(why, severity="warning", markup=False)
            self._update_state()
            return
        self.dismiss(ConfirmChoice("run", self.query_one("#memo", Input).value.strip()))

    def action_split(self) -> None:
        if not self.must_split:
            self.notify("This run fits in one request; no split needed.", markup=False)
            return
        self.dismiss(ConfirmChoice("split", self.query_one("#memo", Input).value.strip()))

    def action_dry_run(self) -> None:
        if not self.p.built.files:
            self.notify("No request can be built: " + (self.blocked_reason() or "nothing to send"),
                        severity="warning", markup=False)
            return
        self.app.push_screen(PreviewScreen(self.p))

    def action_cancel(self) -> None:
        self.dismiss(ConfirmChoice("cancel"))


class PreviewScreen(ModalScreen[None]):
    """The dry run: the exact request(s), token masked. Nothing is sent."""

    DEFAULT_CSS = _CSS.format(cls="PreviewScreen") + """
    PreviewScreen > Vertical { width: 100%; height: 100%; }
    PreviewScreen #pv-text { height: 1fr; }
    """
    BINDINGS = [Binding("escape,q", "close", "Close", id="preview_close"),
                Binding("y", "copy", "Copy", id="preview_copy")]

    def __init__(self, prepared: Prepared) -> None:
        super().__init__()
        self.p = prepared
        self.text = ""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Dry run: the exact request, token masked - nothing was sent", classes="dlg-title",
                         markup=False)
            with VerticalScroll(id="pv-text"):
                yield Static("building the preview...", id="pv-body", markup=False)
            yield Static("arrows/PgUp/PgDn = scroll    y = copy to clipboard    Esc = back", classes="dlg-hint",
                         markup=False)

    def on_mount(self) -> None:
        self.query_one("#pv-text").focus()
        self._build()

    @work(thread=True, exit_on_error=False)
    def _build(self) -> None:
        try:
            text = self.p.preview()
        except Exception as e:
            text = f"cannot build the preview: {e}"
        self.app.call_from_thread(self._show, text)

    def _show(self, text: str) -> None:
        self.text = text
        self.query_one("#pv-body", Static).update(text)

    def action_copy(self) -> None:
        if self.text:
            self.app.copy_to_clipboard(self.text)
            self.notify("Copied (the token stays masked).", markup=False)

    def action_close(self) -> None:
        self.dismiss(None)
