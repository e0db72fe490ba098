"""レコード一覧: one record-list menu as a virtual table, with search, conditions, sort and the count,
and the key that runs an integration attached to the menu on the current result. Names, labels,
searches and values are shown literally and terminal-safe (``core.text``), never as markup.
"""

from __future__ import annotations

import asyncio

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Select, Static
from textual.widgets.option_list import Option

from haihai_tui.core.records.query import Condition, Query
from haihai_tui.core.run.prepare import RunRefused, Target
from haihai_tui.core.run.state import sync_source
from haihai_tui.core.settings.context import AppContext
from haihai_tui.core.settings.model import IMPORT_TYPES
from haihai_tui.core.text import one_line
from haihai_tui.tui.bindings import scope
from haihai_tui.tui.dialogs.common import ConfirmScreen, MessageScreen, PickScreen
from haihai_tui.tui.dialogs.removal_confirm import removal_confirmed
from haihai_tui.tui.dialogs.run_confirm import ConfirmRunScreen
from haihai_tui.tui.dialogs.run_preflight import FindingsScreen, PreflightScreen
from haihai_tui.tui.screens.base import AppScreen
from haihai_tui.tui.screens.progress import ProgressScreen
from haihai_tui.tui.screens.record_editor import RecordEditorScreen, record_summary
from haihai_tui.tui.widgets.record_blocks import RESULTS_COLUMN
from haihai_tui.tui.widgets.record_results import RESULT_FILTERS, ResultFilteredStore, ResultsView
from haihai_tui.tui.widgets.record_table import RecordTable
from haihai_tui.tui.widgets.safe_input import SafeInput


class RecordListScreen(AppScreen):
    """The rows of one menu's database; ``r`` runs an attached integration on what is listed."""

    HELP_TEXT = (
        "The list shows the menu's columns. / searches the shown columns, c sets conditions per "
        "column (= equals, ~ contains), left/right choose a column and s sorts by it "
        "(ascending, descending, off). i imports a CSV file into this database (CSV一括登録, all or nothing), "
        "x writes the current result to a CSV file (CSV出力). r runs an integration attached to this menu on every row "
        "of the current result (not only the visible ones), after a pre-flight check. Enter opens the "
        "record under the cursor with every field (edit, F2 saves), a adds a record, d deletes the record "
        "under the cursor (asks); the list refreshes in place after each. v shows a first column with each "
        "record's last HaiHai result in an attached integration (成功, 失敗 with the reason, 未送信, 変更あり = "
        "changed since HaiHai confirmed it); f filters the list by it (失敗 last time, changed since last sync)."
    )
    BINDINGS = scope("record_list")
    DEFAULT_CSS = """
    RecordListScreen #list-status { height: 1; padding: 0 1; background: $boost; }
    RecordListScreen #list-conds { height: 1; padding: 0 1; color: $text-accent; display: none; }
    RecordListScreen #list-conds.on { display: block; }
    RecordListScreen #list-search { height: 1; display: none; background: $boost; }
    RecordListScreen #list-search.on { display: block; }
    RecordListScreen #list-search > Static { width: auto; padding: 0 0 0 1; }
    RecordListScreen #list-search > Input { width: 1fr; }
    RecordListScreen #list-missing { padding: 1 2; }
    RecordListScreen #list-problem { padding: 1 2; color: $error; display: none; height: auto; }
    RecordListScreen #list-problem.on { display: block; }
    """

    def __init__(self, menu_name: str) -> None:
        super().__init__()
        self.menu_name = menu_name
        self.TITLE_TEXT = f"{one_line(menu_name)} レコード一覧"
        self.menu = None
        self.database = None
        self.conditions: tuple[Condition, ...] = ()
        self.search = ""
        self.sort: tuple[str, bool] | None = None  # (field id, descending)
        self._busy_text = ""
        self._editor: RecordEditorScreen | None = None  # the record editor, kept between opens
        self._slow_sorts: set[str] = set()  # PostgreSQL: fields a sort reads the whole big table for
        self.results_view: ResultsView | None = None  # the HaiHai results column and its filter (v, f)
        self._runs_seen: tuple | None = None  # the last run seen ended (the results may have changed)

    @property
    def ctx(self) -> AppContext:
        return self.happ.ctx

    # -- layout ----------------------------------------------------------------------------------

    def body(self) -> ComposeResult:
        settings = self.ctx.settings
        self.menu = settings.menu(self.menu_name)
        self.database = settings.database(self.menu.database) if self.menu else None
        if self.menu is not None and self.menu.type != "record_list":
            self.menu = None
        if self.menu is None or self.database is None:
            yield Static(
                f"There is no record-list menu {one_line(self.menu_name)!r} (or its database is missing); "
                f"check メニュー設定 / `haihai-tui check`.",
                id="list-missing",
                markup=False,
            )
            return
        yield Static("", id="list-status", markup=False)
        yield Static("", id="list-conds", markup=False)
        yield Static("", id="list-problem", markup=False)  # the database cannot be read: said where the rows go
        db, ctx = self.database, self.ctx
        cols = [(c, (db.field(c).label if db.field(c) else c)) for c in self.menu.columns]
        view = self.results_view = ResultsView(sync_source(ctx.paths, ctx.settings, ctx.environ), self.menu, db)

        def open_store():  # in a worker thread: SQLite, or PostgreSQL for engine = "postgresql"
            from haihai_tui.core.records.engines import open_records

            store = open_records(ctx.paths, db, ctx.settings)
            self._slow_sorts = set(getattr(store, "slow_sorts", ()))
            return ResultFilteredStore(store, view)  # the store itself while no result filter is set

        yield RecordTable(open_store, cols, self.current_query(), id="records")
        with Horizontal(id="list-search"):
            yield Static("Search / 検索: ", markup=False)
            yield SafeInput(
                placeholder="text in any shown column; Enter = apply, Esc = close, empty = all",
                id="list-search-input",
                compact=True,
            )

    def on_mount(self) -> None:
        if self.menu is not None:
            self.query_one(RecordTable).focus()
            self._show_status()

    @property
    def table(self) -> RecordTable:
        return self.query_one(RecordTable)

    def current_query(self) -> Query:
        field, desc = self.sort or (None, False)
        return Query(
            conditions=self.conditions,
            search=self.search,
            search_fields=tuple(self.menu.columns) if self.menu else (),
            sort_field=field,
            descending=desc,
        )

    def label(self, field_id: str) -> str:
        f = self.database.field(field_id) if self.database else None
        return f.label if f else field_id

    def _apply(self, busy: str) -> None:
        self._busy_text = busy
        self.table.set_query(self.current_query())
        self._show_status()

    # -- status line -----------------------------------------------------------------------------

    def _show_status(self) -> None:
        if self.menu is None:
            return
        t = self.table
        total = "counting..." if t.total is None else f"{t.total:,}"
        base = "" if t.base_total is None else f" / {t.base_total:,}"
        parts = [f"{total}{base} rows"]
        if t.total:
            parts[0] += f"  (row {t.cursor_row + 1:,})"
        if self.search:
            parts.append(f'search "{one_line(self.search)}"')
        if self.sort:
            parts.append(f"sort {one_line(self.label(self.sort[0]))} {'desc' if self.sort[1] else 'asc'}")
            if self.sort[0] in self._slow_sorts:
                parts[-1] += " (no index: slow on this big table)"
        if self.database is not None and self.database.engine == "postgresql":
            parts.append(f"read-only: PostgreSQL {one_line(self.database.table)}")
        if self._busy_text:
            parts.append(self._busy_text)
        self.query_one("#list-status", Static).update("  |  ".join(parts))
        conds = self.query_one("#list-conds", Static)
        line = []
        if self.conditions:
            line.append(
                "conditions: "
                + ", ".join(one_line(c.describe(self.label(c.field_id))) for c in self.conditions)
                + "   (c to change)"
            )
        view = self.results_view
        if view is not None and view.integration is not None:  # the results column (v) and its filter (f)
            line.append(
                f"filter: {view.filter_words} (view only: r runs on search and conditions)"
                if view.filter_words
                else f"results: {one_line(view.integration)} (f filters by result)"
            )
        if line:
            conds.update("  |  ".join(line))
        conds.set_class(bool(line), "on")

    def on_record_table_counted(self, _msg: RecordTable.Counted) -> None:
        t = self.table
        if t.total is not None and t.cursor_row >= t.total:  # rows were deleted under the cursor
            t.cursor_row = max(t.total - 1, 0)
        self._show_status()

    def on_record_table_first_rows(self, msg: RecordTable.FirstRows) -> None:
        if self._busy_text and msg.gen == self.table.gen:
            self._busy_text = ""
        self._show_status()

    def on_record_table_cursor_moved(self, _msg: RecordTable.CursorMoved) -> None:
        self._show_status()

    def on_record_table_failed(self, msg: RecordTable.Failed) -> None:
        problem = self.query_one("#list-problem", Static)
        if self.table.row_count:
            self.notify(msg.text, severity="error", markup=False, timeout=10)
        elif not problem.has_class("on"):  # nothing to show: the reason takes the list's place, said once
            problem.update(
                f"{one_line(msg.text)}\n\nNothing can be listed or run from this menu until the database can be "
                "read. `haihai-tui check` says what is wrong; Esc goes back, open the list again to retry."
            )
            problem.add_class("on")

    # -- search, conditions, sort ----------------------------------------------------------------

    def action_search(self) -> None:
        if self.menu is None:
            return
        box = self.query_one("#list-search-input", Input)
        box.value = self.search
        self.query_one("#list-search").add_class("on")
        box.focus()

    @on(Input.Submitted, "#list-search-input")
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._close_search()
        text = event.value.strip()
        if text != self.search:
            self.search = text
            self._apply("searching..." if text else "")

    def _close_search(self) -> None:
        self.query_one("#list-search").remove_class("on")
        self.table.focus()

    def action_back(self) -> None:
        if self.menu is not None and self.query_one("#list-search").has_class("on"):
            self._close_search()
            return
        super().action_back()

    def action_sort(self) -> None:
        if self.menu is None:
            return
        col = self.table.current_column.id
        if col == RESULTS_COLUMN:
            self.notify("The HaiHai results column cannot be sorted; f filters the list by result.", markup=False)
            return
        if self.sort is None or self.sort[0] != col:
            self.sort = (col, False)
        elif not self.sort[1]:
            self.sort = (col, True)
        else:
            self.sort = None
        self._apply("sorting..." if self.sort else "")

    def action_conditions(self) -> None:
        if self.menu is None:
            return
        cols = [(c, self.label(c)) for c in self.menu.columns]

        def done(result: tuple[Condition, ...] | None) -> None:
            if result is not None and result != self.conditions:
                self.conditions = result
                self._apply("searching...")

        current = self.table.current_column.id
        if current == RESULTS_COLUMN:  # not a field: conditions by result are the result filter (f)
            current = self.menu.columns[0]
        self.app.push_screen(ConditionScreen(cols, self.conditions, current), done)

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

    # -- HaiHai results: a column (v) and a filter by it (f), tui/widgets/record_results.py ------------

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        state = self.happ.runs.state
        seen = (state.number, state.ended) if state is not None else None
        if seen != self._runs_seen:
            self._runs_seen = seen
            view = self.results_view
            if view is not None and view.integration is not None and self.is_mounted:
                view.changed()  # a run ended since: its results are shown
                self.table.reload()

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
        """pre-flight -> findings -> confirm (-> split: pre-flight again) -> RunService.start."""
        split, memo = False, ""
        while True:
            pf = await self.app.push_screen_wait(PreflightScreen(self.target(integration), split))
            if pf.error:
                await self.app.push_screen_wait(MessageScreen(pf.error, title="Cannot run / 実行できません"))
                return
            p = pf.prepared
            if p is None:
                self.notify("Pre-flight cancelled; nothing was sent.", markup=False)
                return
            if p.hard_errors or p.built.warning_count:
                findings = FindingsScreen(p)
                choice, row = await self.app.push_screen_wait(findings)
                if choice != "continue":
                    p.discard()
                    if choice in ("jump", "edit") and row is not None:
                        column = findings.chosen.column if findings.chosen else None
                        self.table.focus()
                        self.table.jump_to(row - 1)
                        ids = [c.id for c in self.table.columns]
                        f = self.database.field(column) if (self.database and column) else None
                        if f is not None and f.id in ids:  # the finding's column too: Enter opens on it
                            self.table.cursor_column = ids.index(f.id)
                        if choice == "edit":
                            self._edit_finding(row - 1, column)
                    return
            answer = await self.app.push_screen_wait(ConfirmRunScreen(p, memo, pf.caution))
            memo = answer.memo
            if answer.action == "split":
                p.discard()
                split = True
                continue
            if answer.action != "run":
                p.discard()
                self.notify("Not sent.", markup=False)
                return
            if not await removal_confirmed(self.app, p):  # a mirror run's removals: typed "remove N"
                p.discard()
                self.notify("Not sent: the removals were not confirmed (nothing sent, nobody removed).", markup=False)
                return
            runs = self.happ.runs
            try:
                runs.start(
                    p,
                    memo=answer.memo,
                    confirm_dangerous=bool(p.dangerous),
                    accept_warnings=bool(p.built.warning_count),
                    confirm_removal=p.removal is not None,
                )
            except RunRefused as e:
                self.notify(str(e), severity="error", markup=False)
                return
            self.app.push_screen(ProgressScreen())
            return


class ConditionScreen(ModalScreen[tuple[Condition, ...] | None]):
    """Conditions per column: the active ones (d removes), and a row to add one (column, = or ~, value)."""

    DEFAULT_CSS = """
    ConditionScreen { align: center middle; }
    ConditionScreen > Vertical { width: 72; max-width: 100%; height: auto; border: round $accent;
                                 background: $surface; padding: 0 1; }
    ConditionScreen .dlg-title { text-style: bold; }
    ConditionScreen .dlg-hint { color: $text-muted; }
    ConditionScreen #cond-list { height: auto; max-height: 8; }
    ConditionScreen Horizontal { height: auto; }
    ConditionScreen #cond-col { width: 24; }
    ConditionScreen #cond-op { width: 18; }
    ConditionScreen #cond-value { width: 1fr; background: $boost; }
    ConditionScreen SelectCurrent .arrow { display: none; }   /* the arrow glyphs are ambiguous-width */
    ConditionScreen Select { margin-right: 1; }
    """
    BINDINGS = scope("conditions")

    def __init__(self, columns: list[tuple[str, str]], conditions: tuple[Condition, ...], current: str) -> None:
        super().__init__()
        self.columns, self.conditions, self.current = columns, list(conditions), current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Conditions / 条件 (all must match)", classes="dlg-title", markup=False)
            yield OptionList(id="cond-list", compact=True)
            with Horizontal():
                yield Select(
                    [(Text(one_line(label)), cid) for cid, label in self.columns],
                    value=self.current,
                    allow_blank=False,
                    id="cond-col",
                    compact=True,
                )
                yield Select(
                    [("= equals", "="), ("~ contains", "~")], value="~", allow_blank=False, id="cond-op", compact=True
                )
                yield SafeInput(placeholder="value, then Enter", id="cond-value", compact=True)
            yield Static(
                "Tab = next field (column, = or ~, value); Enter on column or = / ~ opens the "
                "choices; Enter in value = add.  In the list above: d = remove.  Esc = close "
                "(changes apply)",
                classes="dlg-hint",
                markup=False,
            )

    def on_mount(self) -> None:
        self._fill()
        self.query_one("#cond-value", Input).focus()

    def _label(self, cid: str) -> str:
        return next((label for c, label in self.columns if c == cid), cid)

    def _fill(self) -> None:
        ol = self.query_one("#cond-list", OptionList)
        ol.clear_options()
        if self.conditions:
            ol.add_options(
                [
                    Option(Text(one_line(c.describe(self._label(c.field_id)))), id=str(i))
                    for i, c in enumerate(self.conditions)
                ]
            )
            ol.highlighted = 0
        else:
            ol.add_option(Option(Text("(no conditions: every row is listed)"), id="none", disabled=True))

    @on(Input.Submitted, "#cond-value")
    def _add(self, event: Input.Submitted) -> None:
        event.stop()
        value = event.value
        if not value.strip():
            self.notify("Type a value to compare with.", markup=False)
            return
        cid = self.query_one("#cond-col", Select).value
        op = "=" if self.query_one("#cond-op", Select).value == "=" else "~"
        cond = Condition(str(cid), op, value)
        if cond not in self.conditions:
            self.conditions.append(cond)
        self.dismiss(tuple(self.conditions))

    def action_remove(self) -> None:
        ol = self.query_one("#cond-list", OptionList)
        if self.focused is not ol or ol.highlighted is None or not self.conditions:
            if self.focused is not ol:
                self.notify("Move to the list of conditions (shift+tab) and choose one to remove.", markup=False)
            return
        del self.conditions[ol.highlighted]
        self._fill()

    def action_close(self) -> None:
        self.dismiss(tuple(self.conditions))
