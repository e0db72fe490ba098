"""Start the Textual app (kept apart so the command line can run without importing Textual)."""

from __future__ import annotations

from haihai_tui.core.settings.context import AppContext


def run_tui(ctx: AppContext, mock_note: str = "") -> int:
    from haihai_tui.core.run.history import HistoryError
    from haihai_tui.core.run.state import open_history

    try:
        # runs left 実行中 by a process that died become 結果不明, so nobody re-sends them blindly
        open_history(ctx.paths, ctx.settings, ctx.environ).mark_interrupted()
    except (HistoryError, OSError):
        pass  # the history screen shows what is wrong with the file
    from haihai_tui.tui.app import HaiHaiApp

    HaiHaiApp(ctx, mock_note=mock_note).run()
    return 0
