"""Reusable widgets. ``AppHeader`` is the one-line header every screen shows."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from haihai_tui.core.text import one_line
from haihai_tui.tui.host import host


class AppHeader(Horizontal):
    """One line: the app, the screen title, and who is at the keyboard (AppContext.who()).

    The title may hold a menu's name and ``who`` a user's name from the settings: both shown literally.
    """

    DEFAULT_CSS = """
    AppHeader { dock: top; height: 1; background: $panel; }
    AppHeader > #hdr-title { width: auto; max-width: 40; text-style: bold; padding: 0 1; text-wrap: nowrap;
                             text-overflow: clip; }
    AppHeader > #hdr-who { width: 1fr; padding: 0 1; text-align: right; text-wrap: nowrap; text-overflow: clip; }
    """

    def __init__(self, title: str) -> None:
        super().__init__()
        self.title_text = one_line(title)

    def compose(self) -> ComposeResult:
        yield Static(self.title_text, id="hdr-title", markup=False)
        yield Static(self.who_text(), id="hdr-who", markup=False)

    def on_mount(self) -> None:
        # a run going shows on every screen, with the key that opens its panel
        host(self).runs.changed.subscribe(self, lambda _state: self.refresh_who())

    def who_text(self) -> str:
        app = host(self)
        who = one_line(app.ctx.who())
        state = app.runs.state
        if state is None or not state.running:
            return who
        pct = state.percent
        done = f" {pct:.0f}%" if pct is not None else ""
        return f"[run #{state.run_id or state.number}{done} {state.stage.value} - {app.runs.progress_key()}]  {who}"

    def refresh_who(self) -> None:
        self.query_one("#hdr-who", Static).update(self.who_text())
