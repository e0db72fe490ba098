"""The record list's records: open the one under the cursor, add, delete, and edit from a finding."""

from __future__ import annotations

import asyncio

from textual import work

from haihai_tui.tui.dialogs.common import ConfirmScreen, MessageScreen
from haihai_tui.tui.screens.record_editor import RecordEditorScreen, record_summary
from haihai_tui.tui.widgets.record_blocks import RESULTS_COLUMN


class RecordActions:
    """Part of RecordListScreen: the methods of one concern, mixed into the screen class."""

    # -- records: open, add, delete ---------------------------------------------------------------

    def _cursor_record(self) -> int | None:
        """The record id under the cursor, or None (with a word why) when there is none yet."""
        t = self.table
        if not t.row_count:
            self.notify("No record here: the list is empty.", markup=False)
            return None
        rowid = t.row_id(t.cursor_row)
        if rowid is None:
            self.notify("That row is still loading; press the key again in a moment.", markup=False)
        return rowid

    def open_editor(self, rowid: int | None, focus_field: str | None = None, position: str = "") -> None:
        if self.menu is None or self.database is None:
            return
        if self.database.engine == "postgresql":  # not a SQLite file of ours: nothing to open or write
            from haihai_tui.core.records.editing import write_refusal

            self.notify(write_refusal(self.database) or "", severity="warning", markup=False, timeout=8)
            return
        db = self.ctx.settings.database(self.database.id) or self.database  # fields as the settings say now
        ed = self._editor
        if ed is not None and ed.database is not db:  # the settings were reloaded: a new form
            self._drop_editor()
            ed = None
        if ed is None:  # one editor per list, kept (installed) and pushed again: opening costs a read
            ed = RecordEditorScreen(
                db, rowid, menu_name=self.menu.name, focus_field=focus_field, on_saved=self._record_written
            )
            ed.retarget(rowid, focus_field, position)
            self._editor = ed
            self.app.install_screen(ed, f"record-editor-{id(self)}")
        else:
            ed.retarget(rowid, focus_field, position)
        self.app.push_screen(ed)

    def _drop_editor(self) -> None:
        ed, self._editor = self._editor, None
        if ed is not None and ed not in self.app.screen_stack:
            ed.close_store()
            self.app.uninstall_screen(ed)
            ed.remove()

    def on_unmount(self) -> None:
        self._drop_editor()

    def _record_written(self, _rowid: int | None) -> None:
        if self.results_view is not None:
            self.results_view.changed()  # 変更あり is worked out from the record's cells
        self.table.reload()

    def action_open_record(self) -> None:
        if self.menu is None:
            return
        rowid = self._cursor_record()
        if rowid is not None:  # on the field of the highlighted column
            t = self.table
            field = t.current_column.id if t.current_column.id != RESULTS_COLUMN else None
            self.open_editor(rowid, focus_field=field, position=f"row {t.cursor_row + 1:,}")

    def action_add_record(self) -> None:
        if self.menu is not None:
            self.open_editor(None)

    def action_delete_record(self) -> None:
        if self.menu is None or self.database is None:
            return
        from haihai_tui.core.records.editing import write_refusal

        why = write_refusal(self.database, self.ctx.user)
        if why:
            self.notify(why, severity="error", markup=False, timeout=8)
            return
        rowid = self._cursor_record()
        if rowid is not None:
            self._delete_flow(rowid)

    @work(exclusive=True, group="record-delete", exit_on_error=False)
    async def _delete_flow(self, rowid: int) -> None:
        """Read the record (to show it and to delete only what was shown), ask, delete in one transaction."""
        from haihai_tui.core.records.editing import delete_record, get_record
        from haihai_tui.core.records.store import RecordStore

        db, records_dir = self.database, self.ctx.paths.records_dir

        def run(fn, *args):
            store = RecordStore.open(records_dir, db)
            try:
                return fn(store, *args)
            finally:
                store.close()

        try:
            rec = await asyncio.to_thread(run, get_record, rowid)
            if rec is None:
                self.notify(f"Record {rowid} no longer exists.", severity="warning", markup=False)
                self.table.reload()
                return
            yes = await self.app.push_screen_wait(
                ConfirmScreen(record_summary(db, rowid, rec.values), title="Delete / 削除", yes="delete")
            )
            if not yes:
                return
            await asyncio.to_thread(run, delete_record, rowid, rec.values)
        except Exception as e:  # EditConflict, RecordGone, RecordsReadOnly, a locked file: say it
            await self.app.push_screen_wait(MessageScreen(str(e), title="Not deleted / 削除できません"))
            self.table.reload()
            return
        self.notify(f"Deleted record {rowid}.", markup=False)
        self.table.reload()

    @work(exclusive=True, group="record-edit-finding", exit_on_error=False)
    async def _edit_finding(self, index: int, column: str | None) -> None:
        """After a jump to row ``index`` (0-based): wait for its record id, open the editor on ``column``."""
        t = self.table
        f = self.database.field(column) if (self.database and column) else None
        for _ in range(500):  # the row's block arrives from the fetch worker (10 s at most)
            rowid = t.row_id(index)
            if rowid is not None:
                self.open_editor(rowid, focus_field=f.id if f else None, position=f"row {index + 1:,}")
                return
            await asyncio.sleep(0.02)
        self.notify("The row did not load; press Enter on it to open it.", severity="warning", markup=False)
