"""The record list's HaiHai results: a column (v) and a filter by it (f)."""

from __future__ import annotations

from haihai_tui.core.text import one_line
from haihai_tui.tui.dialogs.common import PickScreen
from haihai_tui.tui.widgets.record_results import RESULT_FILTERS


class ResultsActions:
    """Part of RecordListScreen: the methods of one concern, mixed into the screen class."""

    # -- HaiHai results: a column (v) and a filter by it (f), tui/widgets/record_results.py ------------

    def _choose_results_integration(self, then) -> None:
        """The integration whose results are shown: the only attached one, or picked."""
        names = list(self.menu.integrations)
        if not names:
            self.notify(
                f"No integration is attached to {one_line(self.menu.name)}: there are no HaiHai results to show.",
                severity="warning",
                markup=False,
            )
            return
        if len(names) == 1:
            then(names[0])
            return
        options = [(n, self._describe_integration(n)) for n in names]
        self.app.push_screen(PickScreen("Show the HaiHai results of which integration?", options), then)

    def _show_results(self, name: str | None) -> bool:
        view = self.results_view
        if not name or view is None:
            return False
        from haihai_tui.core.run.sync import key_index

        if key_index(self.menu, self.database) is None:
            self.notify(
                f"{one_line(self.menu.name)} shows no e-mail column (a field of type email): HaiHai's results are "
                "kept per address, so no record can be matched; add the e-mail field to the menu's columns.",
                severity="warning",
                markup=False,
                timeout=10,
            )
            return False
        view.integration = name
        view.changed()
        self.table.set_results(view.texts, "HaiHai結果")
        self._show_status()
        return True

    def action_toggle_results(self) -> None:
        view = self.results_view
        if self.menu is None or view is None:
            return
        if view.integration is not None:  # off: the column and its filter go
            view.integration, view.filter = None, None
            self.table.set_results(None)
            self._apply("")
            return
        self._choose_results_integration(self._show_results)

    def action_result_filter(self) -> None:
        view = self.results_view
        if self.menu is None or view is None:
            return
        if view.integration is None:
            self._choose_results_integration(lambda name: self._show_results(name) and self._pick_filter())
            return
        self._pick_filter()

    def _pick_filter(self) -> None:
        view = self.results_view
        options = [("", "all records (no result filter)")] + [(k, w) for k, (w, _keep) in RESULT_FILTERS.items()]

        def done(choice: str | None) -> None:
            if choice is None or view is None:
                return
            new = choice or None
            if new != view.filter:
                view.filter = new
                self._apply("filtering by result..." if new else "")

        self.app.push_screen(
            PickScreen(f"Filter by the last HaiHai result in {one_line(view.integration or '')}", options), done
        )
