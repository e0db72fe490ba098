"""実行状況: the live progress of the App's run, reachable from anywhere (F6); cancel with a confirmation."""

from __future__ import annotations

from textual.app import ComposeResult

from haihai_tui.tui.bindings import scope
from haihai_tui.tui.screens.base import AppScreen
from haihai_tui.tui.widgets.progress import ProgressPanel

CANCEL_QUESTION = (
    "Cancel this run?\n"
    "Before the upload starts, nothing is sent (中止). Once the file is on its way HaiHai may "
    "still import it: the run is then recorded as 結果不明 (outcome unknown) and you must check "
    "HaiHai before sending again."
)


class ProgressScreen(AppScreen):
    """Follows ``app.runs``; leaving this screen never stops the run."""

    TITLE_TEXT = "実行状況 Progress"
    HELP_TEXT = (
        "The run belongs to the application: leave this screen with Esc and it keeps going; "
        "F6 brings it back from anywhere. c cancels (after asking). h opens the history "
        "(システム連携状況確認)."
    )
    BINDINGS = scope("progress")

    def body(self) -> ComposeResult:
        yield ProgressPanel(id="progress")

    def on_mount(self) -> None:
        self.query_one("#run-log").focus()

    def action_cancel_run(self) -> None:
        runs = self.happ.runs
        if not runs.busy:
            self.notify("No run is going.", markup=False)
            return
        from haihai_tui.tui.dialogs.common import ConfirmScreen

        def answer(yes: bool | None) -> None:
            if yes and runs.cancel():
                self.notify("Cancel requested.", markup=False)

        self.app.push_screen(
            ConfirmScreen(CANCEL_QUESTION, title="Cancel the run / 中止", yes="cancel the run", no="keep it running"),
            answer,
        )

    def action_history(self) -> None:
        from haihai_tui.tui.screens.history import HistoryScreen

        self.app.push_screen(HistoryScreen())
