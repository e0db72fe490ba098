"""A virtual record table: only the visible lines are rendered, rows come from a paged source.

Never a widget or a DataTable row per record. The table is a Line-API ``ScrollView``: its virtual
height is one line per row (plus a sticky header line), ``render_line`` paints a row from an LRU
cache of fetched blocks (``record_blocks``: fetched by one long-lived thread worker with its own
SQLite connection, so the event loop never waits for the database; counting runs in a second
thread). Values are cleaned by ``core.text.one_line`` (control characters shown as escapes, never sent
to the terminal) and aligned by display width (``cell_text``): wide characters are never split.
This module holds the view side: drawing, cursor and keys.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from time import perf_counter

from rich.segment import Segment
from textual.events import Click
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from haihai_tui.core.records.query import Query
from haihai_tui.core.text import fit_cells
from haihai_tui.tui.bindings import scope
from haihai_tui.tui.widgets.cell_text import (
    GAP,
    Column,
    join_cells,
    label_column,
    line_width,
    widen_to_sample,
)
from haihai_tui.tui.widgets.record_blocks import BLOCK, RESULTS_COLUMN, RecordBlocks, Store

RESULTS_WIDTH = 18  # the results column: "失敗: " and the start of HaiHai's reason


class RecordTable(RecordBlocks, ScrollView, can_focus=True):
    """Rows of one query over a record store; ``open_store()`` is called inside worker threads."""

    DEFAULT_CSS = """
    RecordTable { height: 1fr; background: $surface; }
    RecordTable > .record-table--header { text-style: bold; color: $text-accent; }
    RecordTable > .record-table--cursor { background: $block-cursor-background; color: $block-cursor-foreground;
                                          text-style: bold; }
    RecordTable > .record-table--cursor-blur { background: $block-cursor-blurred-background; }
    RecordTable > .record-table--loading { color: $text-muted; }
    """
    COMPONENT_CLASSES = {
        "record-table--header",
        "record-table--cursor",
        "record-table--cursor-blur",
        "record-table--loading",
    }
    BINDINGS = scope("record_table")

    cursor_row: reactive[int] = reactive(0, always_update=True, repaint=False)
    #: the current column (header highlighted): what sort and new conditions apply to
    cursor_column: reactive[int] = reactive(0, repaint=False)

    # Counted, FirstRows, Failed and BlockLoaded come from RecordBlocks (same handler names).
    class CursorMoved(Message):
        def __init__(self, row: int) -> None:
            super().__init__()
            self.row = row

    def __init__(
        self,
        open_store: Callable[[], Store],
        columns: Sequence[tuple[str, str]],
        query: Query | None = None,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns = [label_column(cid, label) for cid, label in columns]
        self._sized = False
        self.query = query or Query(search_fields=tuple(c.id for c in self.columns))
        self._init_blocks(open_store)
        #: perf_counter() when a data row was first painted (benchmarks read it)
        self.first_paint_at: float | None = None
        self.mounted_at: float | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.mounted_at = perf_counter()
        super().on_mount()
        self._update_virtual_size()
        self._count(self.gen, self.query, True)
        self._request(0)

    def on_unmount(self) -> None:
        self._stop_blocks()

    # -- queries ---------------------------------------------------------------------------------

    @property
    def column_ids(self) -> list[str]:
        return [c.id for c in self.columns if c.id != RESULTS_COLUMN]

    def set_results(self, results: Callable[[list[tuple]], list[str]] | None, label: str = "") -> None:
        """Show (``results``: rows -> one text per row, run in the fetch thread per block) or hide the first
        column of HaiHai results; the rows are fetched again, the cursor stays on its row and column."""
        had = bool(self.columns) and self.columns[0].id == RESULTS_COLUMN
        self.columns = [c for c in self.columns if c.id != RESULTS_COLUMN]
        if results is not None:
            self.columns.insert(0, Column(RESULTS_COLUMN, fit_cells(label, RESULTS_WIDTH).rstrip(), RESULTS_WIDTH))
        self.results = results
        self.cursor_column = max(self.cursor_column + (results is not None) - had, 0)
        self.reload()

    def set_query(self, query: Query) -> None:
        """Show another search / conditions / sort; keeps column widths, resets cursor and cache."""
        self.query = query
        self._reset_blocks()
        self.cursor_row = 0
        self.scroll_to(0, 0, animate=False)
        self._update_virtual_size()
        self._count(self.gen, query, False)
        self._request(0)
        self.refresh()

    def reload(self) -> None:
        """Fetch the rows and the count again after a write (a record saved, added, deleted), keeping the
        cursor and the scroll position: the list refreshes in place."""
        row, known = self.cursor_row, self.row_count
        self._reset_blocks()
        self._known = known
        self._count(self.gen, self.query, True)
        self._request(row // BLOCK)
        self.refresh()

    # -- layout ----------------------------------------------------------------------------------

    def _size_columns(self, sample: list[tuple[str, ...]]) -> None:
        """Columns as wide as their label and the widest sampled cell (capped)."""
        self._sized = True
        widen_to_sample(self.columns, sample)

    @property
    def line_width(self) -> int:
        return line_width(self.columns)

    def _update_virtual_size(self) -> None:
        self.virtual_size = Size(self.line_width, self.row_count + 1)

    # -- rendering -------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        base = self.rich_style
        if y == 0:
            return self._header_line(scroll_x, width)
        index = scroll_y + y - 1
        if index >= self.row_count:
            if self.total is None and index == self._known and not self._cache:
                return self._loading_line(width)
            return Strip.blank(width, base)
        values = self.row(index)
        if values is None:
            self._request(index // BLOCK)
            return self._loading_line(width)
        if index % BLOCK > BLOCK - 40:
            self._request(index // BLOCK + 1)
        elif index % BLOCK < 40:
            self._request(index // BLOCK - 1)
        if self.first_paint_at is None:
            self.first_paint_at = perf_counter()
        text = join_cells(values, self.columns)
        style = base
        if index == self.cursor_row:
            style = base + self.get_component_rich_style(
                "record-table--cursor" if self.has_focus else "record-table--cursor-blur"
            )
        return Strip([Segment(text, style)]).crop_extend(scroll_x, scroll_x + width, style)

    def sort_mark(self, column_id: str) -> str:
        """'^' ascending, 'v' descending (ASCII on purpose), '' when not sorted by this column."""
        if self.query.sort_field != column_id:
            return ""
        return "v" if self.query.descending else "^"

    def _header_line(self, scroll_x: int, width: int) -> Strip:
        head = self.rich_style + self.get_component_rich_style("record-table--header")
        current = head + self.get_component_rich_style("record-table--cursor")
        segments: list[Segment] = []
        for i, c in enumerate(self.columns):
            if i:
                segments.append(Segment(" " * GAP, head))
            text = fit_cells(c.label + self.sort_mark(c.id), c.width)
            segments.append(Segment(text, current if i == self.cursor_column and self.has_focus else head))
        return Strip(segments).crop_extend(scroll_x, scroll_x + width, head)

    def _loading_line(self, width: int) -> Strip:
        style = self.rich_style + self.get_component_rich_style("record-table--loading")
        return Strip([Segment("  loading...", style)]).crop_extend(0, width, style)

    # -- cursor ----------------------------------------------------------------------------------

    @property
    def _page(self) -> int:
        return max(self.size.height - 2, 1)

    def validate_cursor_row(self, value: int) -> int:
        return max(0, min(value, max(self.row_count - 1, 0)))

    def watch_cursor_row(self, old: int, new: int) -> None:
        self._scroll_cursor_into_view()
        self.refresh()
        if old != new:
            self.post_message(self.CursorMoved(new))

    def _scroll_cursor_into_view(self, center: bool = False) -> None:
        rows_visible = max(self.size.height - 1, 1)
        top = int(self.scroll_y)
        row = self.cursor_row
        if center:
            self.scroll_to(y=max(row - rows_visible // 2, 0), animate=False)
        elif row < top:
            self.scroll_to(y=row, animate=False)
        elif row > top + rows_visible - 1:
            self.scroll_to(y=row - rows_visible + 1, animate=False)

    def jump_to(self, index: int) -> None:
        """Put the cursor on row ``index`` (0-based) and scroll it to the middle."""
        self._known = max(self._known, index + 1)
        self._update_virtual_size()
        self.cursor_row = index
        self._scroll_cursor_into_view(center=True)
        self._request(index // BLOCK)

    def action_cursor_up(self) -> None:
        self.cursor_row -= 1

    def action_cursor_down(self) -> None:
        self.cursor_row += 1

    def action_page_up(self) -> None:
        self.cursor_row -= self._page

    def action_page_down(self) -> None:
        self.cursor_row += self._page

    def action_first(self) -> None:
        self.cursor_row = 0

    def action_last(self) -> None:
        self.cursor_row = self.row_count - 1

    def validate_cursor_column(self, value: int) -> int:
        return max(0, min(value, len(self.columns) - 1))

    def watch_cursor_column(self, old: int, new: int) -> None:
        start = sum(c.width + GAP for c in self.columns[:new])
        end = start + self.columns[new].width
        if start < self.scroll_x:
            self.scroll_to(x=start, animate=False)
        elif end > self.scroll_x + self.size.width:
            self.scroll_to(x=end - self.size.width, animate=False)
        self.refresh()

    def action_column(self, step: int) -> None:
        self.cursor_column += step

    @property
    def current_column(self) -> Column:
        return self.columns[self.cursor_column]

    def on_click(self, event: Click) -> None:
        if event.y >= 1:
            self.cursor_row = int(self.scroll_y) + event.y - 1

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()
