"""レコード一覧: one record-list menu as a virtual table, with search, conditions, sort and the count,
and the key that runs an integration attached to the menu on the current result. Names, labels,
searches and values are shown literally and terminal-safe (``core.text``), never as markup.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Input, Static

from haihai_tui.core.records.query import Condition, Query
from haihai_tui.core.run.state import sync_source
from haihai_tui.core.settings.context import AppContext
from haihai_tui.core.text import one_line
from haihai_tui.tui.bindings import scope
from haihai_tui.tui.dialogs.conditions import ConditionScreen
from haihai_tui.tui.screens.base import AppScreen
from haihai_tui.tui.screens.record_editor import RecordEditorScreen
from haihai_tui.tui.screens.record_list_csv import CsvActions
from haihai_tui.tui.screens.record_list_records import RecordActions
from haihai_tui.tui.screens.record_list_results import ResultsActions
from haihai_tui.tui.screens.record_list_run import RunFlow
from haihai_tui.tui.widgets.record_blocks import RESULTS_COLUMN
from haihai_tui.tui.widgets.record_results import ResultFilteredStore, ResultsView
from haihai_tui.tui.widgets.record_table import RecordTable
from haihai_tui.tui.widgets.safe_input import SafeInput


class RecordListScreen(RunFlow, RecordActions, ResultsActions, CsvActions, AppScreen):
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
