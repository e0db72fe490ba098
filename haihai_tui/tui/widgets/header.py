"""Reusable widgets. ``AppHeader`` is the one-line header every screen shows."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static


class AppHeader(Horizontal):
    """One line: the app, the screen title, and who is at the keyboard (AppContext.who())."""

    DEFAULT_CSS = """
    AppHeader { dock: top; height: 1; background: $panel; }
    AppHeader > #hdr-title { width: auto; max-width: 40; text-style: bold; padding: 0 1; text-wrap: nowrap;
                             text-overflow: clip; }
    AppHeader > #hdr-who { width: 1fr; padding: 0 1; text-align: right; text-wrap: nowrap; text-overflow: clip; }
    """

    def __init__(self, title: str) -> None:
        super().__init__()
        self.title_text = title

    def compose(self) -> ComposeResult:
        yield Static(self.title_text, id="hdr-title", markup=False)
        yield Static(self.who_text(), id="hdr-who", markup=False)

    def on_mount(self) -> None:
        runs = getattr(self.app, "runs", None)
        changed = getattr(runs, "changed", None)
        if changed is not None:  # a run going shows on every screen, with the key that opens its panel
            changed.subscribe(self, lambda _state: self.refresh_who())

    def who_text(self) -> str:
        ctx = getattr(self.app, "ctx", None)
        who = ctx.who() if ctx is not None else ""
        runs = getattr(self.app, "runs", None)
        state = getattr(runs, "state", None)
        if state is None or not state.running:
            return who
        pct = state.percent
        done = f" {pct:.0f}%" if pct is not None else ""
        return f"[run #{state.run_id or state.number}{done} {state.stage.value} - {runs.progress_key()}]  {who}"

    def refresh_who(self) -> None:
        self.query_one("#hdr-who", Static).update(self.who_text())
