"""The record list's run: pick an attached integration, pre-flight, findings, confirm, start."""

from __future__ import annotations

from textual import work

from haihai_tui.core.run.prepare import Target
from haihai_tui.core.settings.model import IMPORT_TYPES
from haihai_tui.core.text import one_line
from haihai_tui.tui.dialogs.common import PickScreen
from haihai_tui.tui.dialogs.run_flow import confirm_and_start
from haihai_tui.tui.dialogs.run_preflight import FindingsScreen
from haihai_tui.tui.screens.progress import ProgressScreen


class RunFlow:
    """Part of RecordListScreen: the methods of one concern, mixed into the screen class."""

    # -- run -------------------------------------------------------------------------------------

    def action_run(self) -> None:
        if self.menu is None:
            return
        runs = self.happ.runs
        if runs.busy:
            self.notify(runs.busy_text(), severity="warning", markup=False)
            return
        names = list(self.menu.integrations)
        if not names:
            self.notify(
                f"No integration is attached to {one_line(self.menu.name)}; attach one in メニュー設定.",
                severity="warning",
                markup=False,
            )
            return
        options = [(n, self._describe_integration(n)) for n in names]
        rows = "counting" if self.table.total is None else f"{self.table.total:,}"
        self.app.push_screen(
            PickScreen(f"Run on the {rows} listed rows: choose the integration / システム連携", options), self._picked
        )

    def _describe_integration(self, name: str) -> str:
        g = self.ctx.settings.integration(name)
        if g is None:
            return f"{one_line(name)}  (missing from システム連携設定)"
        jp, en = IMPORT_TYPES.get(g.params.get("import_type", ""), ("?", "unknown import_type"))
        target = (
            f"group {g.params['gid']}"
            if g.params.get("gid")
            else (f"plan {g.params['spid']}" if g.params.get("spid") else "whole database")
        )
        return one_line(f"{name}  - {jp} {en}, {target}")

    def _picked(self, name: str | None) -> None:
        if name:
            self._run_flow(name)

    def target(self, integration: str) -> Target:
        field, desc = self.sort or (None, False)
        return Target(self.menu.name, integration, self.conditions, self.search, field, desc)

    @work(exclusive=True, group="run-flow", exit_on_error=False)
    async def _run_flow(self, integration: str) -> None:
        """The one run flow (tui/dialogs/run_flow.py) on what the list shows; then the progress panel."""
        if await confirm_and_start(self, self.target(integration), on_findings_exit=self._leave_findings):
            self.app.push_screen(ProgressScreen())

    def _leave_findings(self, choice: str, row: int | None, findings: FindingsScreen) -> None:
        """Enter on a finding jumps to its row (and column); e opens the editor on it."""
        if choice not in ("jump", "edit") or row is None:
            return
        column = findings.chosen.column if findings.chosen else None
        self.table.focus()
        self.table.jump_to(row - 1)
        ids = [c.id for c in self.table.columns]
        f = self.database.field(column) if (self.database and column) else None
        if f is not None and f.id in ids:  # the finding's column too: Enter opens on it
            self.table.cursor_column = ids.index(f.id)
        if choice == "edit":
            self._edit_finding(row - 1, column)
