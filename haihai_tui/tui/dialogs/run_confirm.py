"""The last run dialogs: confirm (memo, summary, split, quota, dry run, typed name) and the dry-run preview."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from haihai_tui.core.run.prepare import Prepared
from haihai_tui.core.run.sync import target_words
from haihai_tui.core.text import one_line, safe
from haihai_tui.tui.bindings import scope
from haihai_tui.tui.dialogs.frame import DIALOG_CSS
from haihai_tui.tui.widgets.safe_input import SafeInput

# -- confirm -------------------------------------------------------------------------------------


@dataclass
class ConfirmChoice:
    action: str  # "run" | "split" | "cancel"
    memo: str = ""


class ConfirmRunScreen(ModalScreen[ConfirmChoice]):
    """The last word before sending: memo, what it does, requests and quota, dry run, typed name."""

    DEFAULT_CSS = (
        DIALOG_CSS.format(cls="ConfirmRunScreen")
        + """
    ConfirmRunScreen #cf-body { height: auto; max-height: 14; }
    ConfirmRunScreen Input { margin: 0; background: $boost; }
    """
    )
    BINDINGS = scope("confirm_run")

    def __init__(self, prepared: Prepared, memo: str = "", caution: str = "") -> None:
        super().__init__()
        self.p, self.memo, self.caution = prepared, memo, caution

    @property
    def must_split(self) -> bool:
        return self.p.needs_split

    @property
    def over_quota(self) -> bool:
        return self.p.over_quota

    def compose(self) -> ComposeResult:
        p = self.p
        with Vertical():
            yield Static(f"Run / 実行: {one_line(p.integration.name)}", classes="dlg-title", markup=False)
            if self.caution:
                yield Static(safe(self.caution, multiline=True), classes="dlg-warn", markup=False)
            if p.dangerous:
                yield Static(f"DANGEROUS: {safe(p.dangerous, multiline=True)}", classes="dlg-err", markup=False)
            with VerticalScroll(id="cf-body"):
                yield Static(self._body(), markup=False)
            yield Static("メモ memo (optional, saved in the history):", markup=False)
            yield SafeInput(value=self.memo, placeholder="(optional) e.g. 4月セミナー参加者", id="memo", compact=True)
            if p.dangerous:
                yield Static(
                    f"Type the integration's name to enable 実行:  {one_line(p.integration.name)}", markup=False
                )
                yield SafeInput(placeholder="(type the name above here)", id="typed", compact=True)
            yield Static("", id="cf-state", markup=False)
            yield Static(self._hint(), classes="dlg-hint", markup=False)

    def sync_text(self) -> str:
        """What the sync mode sends, keeps back and removes, in plain words (``SyncPlan.describe()``)."""
        plan = self.p.sync
        if plan is None:
            return ""
        text = plan.describe()
        if self.p.removal is not None:
            text += (
                f". The {plan.removed:,} removal(s) are a second request (import_type 1, same login_id and "
                f"{target_words(plan.target) or 'group'}), sent only after you type the confirmation that follows"
            )
        return text

    def _body(self) -> str:
        p = self.p
        lines = [p.summary, ""]
        if p.sync is not None and self.sync_text() != p.summary:
            lines += [self.sync_text(), ""]
        if p.condition_texts:
            lines.append("Rows: the current list - " + ", ".join(p.condition_texts))
        else:
            lines.append("Rows: the whole list (no search, no conditions)")
        lim = p.integration.limits
        if self.must_split:
            n = p.split_estimate
            lines.append(
                f"Over the per-request limit ({lim.max_rows:,} rows / {lim.max_bytes:,} bytes): "
                f"F4 splits it into about {n:,} requests, using {n:,} of the {p.quota_left:,} "
                f"requests left today (daily quota {lim.daily_quota:,})."
            )
        else:
            lines.append(
                f"Requests: {p.requests:,} (uses {p.requests:,} of the {p.quota_left:,} left today; "
                f"daily quota {lim.daily_quota:,}, resets 00:00 JST)"
            )
        if p.built.warning_count:
            lines.append(f"Warnings accepted: {p.built.warning_count:,} (see pre-flight)")
        return safe("\n".join(lines), multiline=True)

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
            return (
                f"This needs {self.p.requests:,} requests but only {self.p.quota_left:,} are left today; "
                f"narrow the search or wait until 00:00 JST."
            )
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
        ready = "Ready: F2 or Enter sends it now."
        if self.p.nothing_to_send and not self.p.built.files:
            ready = "Nothing to send: F2 or Enter records it in the history; no request is sent."
            if self.p.removal is not None:
                ready = "No row to register: F2 or Enter goes on to the removal confirmation."
        elif self.p.removal is not None:
            ready = "Ready: F2 or Enter, then type the removal confirmation."
        w.update(f"実行 is disabled: {why}" if why else ready)
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
            self.notify(
                "No request can be built: " + (self.blocked_reason() or "nothing to send"),
                severity="warning",
                markup=False,
            )
            return
        self.app.push_screen(PreviewScreen(self.p))

    def action_cancel(self) -> None:
        self.dismiss(ConfirmChoice("cancel"))


class PreviewScreen(ModalScreen[None]):
    """The dry run: the exact request(s), token masked. Nothing is sent."""

    DEFAULT_CSS = (
        DIALOG_CSS.format(cls="PreviewScreen")
        + """
    PreviewScreen > Vertical { width: 100%; height: 100%; }
    PreviewScreen #pv-text { height: 1fr; }
    """
    )
    BINDINGS = scope("preview")

    def __init__(self, prepared: Prepared) -> None:
        super().__init__()
        self.p = prepared
        self.text = ""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(
                "Dry run: the exact request, token masked - nothing was sent", classes="dlg-title", markup=False
            )
            with VerticalScroll(id="pv-text"):
                yield Static("building the preview...", id="pv-body", markup=False)
            yield Static(
                "arrows/PgUp/PgDn = scroll    y = copy to clipboard    Esc = back", classes="dlg-hint", markup=False
            )

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
        self.text = text  # copied as built (the clipboard write is base64-encoded)
        self.query_one("#pv-body", Static).update(safe(text, multiline=True))

    def action_copy(self) -> None:
        if self.text:
            self.app.copy_to_clipboard(self.text)
            self.notify("Copied (the token stays masked).", markup=False)

    def action_close(self) -> None:
        self.dismiss(None)
