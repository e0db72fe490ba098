"""The record list's CSV in and out: CSV一括登録 (import) and CSV出力 (export)."""

from __future__ import annotations


class CsvActions:
    """Part of RecordListScreen: the methods of one concern, mixed into the screen class."""

    # -- CSV in and out: CSV一括登録 (import) and CSV出力 (export), tui/dialogs/csv_import.py, csv_export.py --

    def action_import_csv(self) -> None:
        if self.menu is None:
            return
        from haihai_tui.core.settings.permissions import records_refusal
        from haihai_tui.tui.dialogs.csv_import import CsvImportScreen

        db = self.database
        if db.engine == "postgresql":
            refusal = (
                f"Read-only: {db.name} is read from PostgreSQL (table {db.table}); this tool never writes there: "
                "load the records in the system that owns that table."
            )
        else:
            refusal = records_refusal(self.ctx.user, db.name, db.read_only)
        dialog = CsvImportScreen(db, self.ctx.paths.records_dir, count=self.table.base_total, refusal=refusal)
        dialog.on_imported = self.table.reload  # the list (rows and counts) refreshes behind the dialog
        self.app.push_screen(dialog)

    def action_export_csv(self) -> None:
        if self.menu is None:
            return
        import datetime
        from pathlib import Path

        from haihai_tui.core.records.engines import open_records
        from haihai_tui.tui.dialogs.csv_export import CsvExportScreen

        db = self.database
        what = [f'search "{self.search}"'] if self.search else []
        what += [c.describe(self.label(c.field_id)) for c in self.conditions]
        if self.sort:
            what.append(f"sorted by {self.label(self.sort[0])}{' desc' if self.sort[1] else ''}")
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M")

        def jump(answer) -> None:
            if answer and answer[0] == "jump":
                self.table.focus()
                self.table.jump_to(answer[1] - 1)

        self.app.push_screen(
            CsvExportScreen(
                lambda: open_records(self.ctx.paths, db, self.ctx.settings),  # SQLite or PostgreSQL
                self.current_query(),
                [(c, self.label(c)) for c in self.menu.columns],
                total=self.table.total,
                what=", ".join(what) or f"every record of {self.menu.name}",
                default_path=Path.cwd() / f"{db.id}-{stamp}.csv",
            ),
            jump,
        )
