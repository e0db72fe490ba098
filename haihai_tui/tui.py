"""Start the Textual app (kept apart so the command line can run without importing Textual)."""

from __future__ import annotations

from .core.context import AppContext


def run_tui(ctx: AppContext, mock_note: str = "") -> int:
    from .app import HaiHaiApp
    HaiHaiApp(ctx, mock_note=mock_note).run()
    return 0
