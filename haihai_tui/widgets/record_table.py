"""A virtual record table: only the visible lines are rendered, rows come from a paged source.

Never a widget or a DataTable row per record. The table is a Line-API ``ScrollView``: its virtual
height is one line per row (plus a sticky header line), ``render_line`` paints a row from an LRU
cache of fetched blocks, and missing blocks are fetched by one long-lived thread worker (its own
SQLite connection) — the event loop never waits for the database. Counting runs in a second thread.
Text is aligned by display width (``rich.cells``): wide characters are never split.
"""

from __future__ import annotations

import queue
import threading
from collections import OrderedDict
from dataclasses import dataclass
from time import perf_counter
from typing import Any, Callable, Protocol, Sequence

from rich.cells import cell_len, get_character_cell_size
from rich.segment import Segment
from textual import work
from textual.binding import Binding
from textual.events import Click
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ..core.query import Query

BLOCK = 200          # rows per fetch
CACHE_BLOCKS = 64    # blocks kept (12,800 rows)
GAP = 2              # cells between columns
MAX_COL = 36         # widest a column gets from sampled content
MORE = ".."          # ASCII: '…' is ambiguous-width on Japanese terminals


class Store(Protocol):
    def count(self, query: Query | None = None) -> int: ...
    def rows_at(self, query: Query, columns: Sequence[str], start: int, count: int) -> list: ...
    def close(self) -> None: ...


@dataclass
class Column:
    id: str
    label: str
    width: int


def clean(value: Any) -> str:
    """A cell value as one line of text (control characters shown as spaces)."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else " " for c in text)


def fit_cells(text: str, width: int) -> str:
    """``text`` cut (ending in '..') or padded to exactly ``width`` cells; wide chars never split."""
    if width <= 0:
        return ""
    n = cell_len(text)
    if n <= width:
        return text + " " * (width - n)
    room = max(width - len(MORE), 0)
    out, used = [], 0
    for ch in text:
        w = get_character_cell_size(ch)
        if used + w > room:
            break
        out.append(ch)
        used += w
    tail = MORE[: width - used]
    return "".join(out) + tail + " " * (width - used - len(tail))


class RecordTable(ScrollView, can_focus=True):
    """Rows of one query over a record store; ``open_store()`` is called inside worker threads."""

    DEFAULT_CSS = """
    RecordTable { height: 1fr; background: $surface; }
    RecordTable > .record-table--header { text-style: bold; color: $text-accent; }
    RecordTable > .record-table--cursor { background: $block-cursor-background; color: $block-cursor-foreground; text-style: bold; }
    RecordTable > .record-table--cursor-blur { background: $block-cursor-blurred-background; }
    RecordTable > .record-table--loading { color: $text-muted; }
    """
    COMPONENT_CLASSES = {"record-table--header", "record-table--cursor", "record-table--cursor-blur",
                         "record-table--loading"}
    BINDINGS = [
        Binding("up,k", "cursor_up", "Up", show=False, id="table.up"),
        Binding("down,j", "cursor_down", "Down", show=False, id="table.down"),
        Binding("pageup", "page_up", "PgUp", show=False, id="table.page_up"),
        Binding("pagedown,space", "page_down", "PgDn", show=False, id="table.page_down"),
        Binding("home,g", "first", "First", show=False, id="table.first"),
        Binding("end,G", "last", "Last", show=False, id="table.last"),
        Binding("left,h", "column(-1)", "Column left", show=False, id="table.left"),
        Binding("right,l", "column(1)", "Column right", show=False, id="table.right"),
    ]

    cursor_row: reactive[int] = reactive(0, always_update=True, repaint=False)
    #: the current column (header highlighted): what sort and new conditions apply to
    cursor_column: reactive[int] = reactive(0, repaint=False)

    class Counted(Message):
        """The row count of the current query (``base`` = rows in the whole database)."""
        def __init__(self, gen: int, total: int, base: int | None) -> None:
            super().__init__()
            self.gen, self.total, self.base = gen, total, base

    class FirstRows(Message):
        """The first rows of a new query are on screen (clear 'searching...' / 'sorting...')."""
        def __init__(self, gen: int) -> None:
            super().__init__()
            self.gen = gen

    class CursorMoved(Message):
        def __init__(self, row: int) -> None:
            super().__init__()
            self.row = row

    class Failed(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class BlockLoaded(Message):
        def __init__(self, gen: int, block: int, rows: list | None) -> None:
            super().__init__()
            self.gen, self.block, self.rows = gen, block, rows

    def __init__(self, open_store: Callable[[], Store], columns: Sequence[tuple[str, str]],
                 query: Query | None = None, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._open_store = open_store
        self.columns = [Column(cid, label, max(cell_len(label) + 1, 4)) for cid, label in columns]
        self._sized = False
        self.query = query or Query(search_fields=tuple(c.id for c in self.columns))
        self.gen = 0
        self.total: int | None = None
        self.base_total: int | None = None
        self._known = 0                      # rows known to exist while the count is pending
        self._cache: OrderedDict[int, list[tuple[str, ...]]] = OrderedDict()
        self._pending: set[int] = set()
        self._requests: queue.LifoQueue = queue.LifoQueue()
        self._first_shown = False
        #: perf_counter() when a data row was first painted (benchmarks read it)
        self.first_paint_at: float | None = None
        self.mounted_at: float | None = None
        self._lock = threading.Lock()
        self._fetching = False
        self._closing = False
        self._store: Store | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.mounted_at = perf_counter()
        super().on_mount()
        self._update_virtual_size()
        self._count(self.gen, self.query, True)
        self._request(0)

    def on_unmount(self) -> None:
        with self._lock:
            self._closing = True
            if self._fetching:
                return            # the fetch worker closes the store when it ends
        self._close_store()

    # -- queries ---------------------------------------------------------------------------------

    @property
    def column_ids(self) -> list[str]:
        return [c.id for c in self.columns]

    def set_query(self, query: Query) -> None:
        """Show another search / conditions / sort; keeps column widths, resets cursor and cache."""
        self.query = query
        self.gen += 1
        self.total = None
        self._known = 0
        self._cache.clear()
        self._pending.clear()
        self._first_shown = False
        self.cursor_row = 0
        self.scroll_to(0, 0, animate=False)
        self._update_virtual_size()
        self._count(self.gen, query, False)
        self._request(0)
        self.refresh()

    @property
    def row_count(self) -> int:
        return self.total if self.total is not None else self._known

    def row(self, index: int) -> tuple[str, ...] | None:
        """The cached values of row ``index`` (0-based), or None while not fetched."""
        block = self._cache.get(index // BLOCK)
        if block is None or index % BLOCK >= len(block):
            return None
        return block[index % BLOCK]

    # -- workers ---------------------------------------------------------------------------------

    @work(thread=True, group="record-fetch", exit_on_error=False)
    def _fetch(self) -> None:
        """Serve queued block requests, newest first, skipping stale ones; end when the queue is empty.

        The store (one SQLite connection, thread-safe) lives as long as the table, so its per-query
        row anchors survive between bursts; it is opened here, never on the event loop.
        """
        while True:
            with self._lock:
                try:
                    req = self._requests.get_nowait()
                except queue.Empty:
                    self._fetching = False
                    if self._closing:
                        self._close_store()
                    return
            gen, query, block = req
            if self._closing or gen != self.gen or not self._wanted(block):
                self.post_message(self.BlockLoaded(gen, block, None))
                continue
            try:
                if self._store is None:
                    self._store = self._open_store()
                if block == 0 and hasattr(self._store, "page"):
                    # the first rows without the query's row anchors (a scan of the whole result)
                    rows = self._store.page(query, self.column_ids, limit=BLOCK).rows
                else:
                    rows = self._store.rows_at(query, self.column_ids, block * BLOCK, BLOCK)
            except Exception as e:  # a broken database must not kill the table
                self.post_message(self.Failed(f"reading records failed: {e}"))
                self.post_message(self.BlockLoaded(gen, block, None))
                continue
            self.post_message(self.BlockLoaded(gen, block, [tuple(map(clean, _values(r))) for r in rows]))

    def _close_store(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            store.close()

    @work(thread=True, group="record-count", exclusive=True, exit_on_error=False)
    def _count(self, gen: int, query: Query, with_base: bool) -> None:
        try:
            store = self._open_store()
            try:
                total = store.count(query)
                base = store.count(Query()) if with_base else None
            finally:
                store.close()
        except Exception as e:
            self.post_message(self.Failed(f"counting records failed: {e}"))
            return
        self.post_message(self.Counted(gen, total, base))

    def _wanted(self, block: int) -> bool:
        top = int(self.scroll_y)
        height = max(self.size.height, 1)
        first, last = (top - BLOCK) // BLOCK, (top + height + BLOCK) // BLOCK
        cur = self.cursor_row // BLOCK
        return first <= block <= last or block == cur

    def _request(self, block: int) -> None:
        if block < 0 or block in self._cache or block in self._pending:
            return
        if self.total is not None and block * BLOCK >= max(self.total, 1):
            return
        self._pending.add(block)
        self._requests.put((self.gen, self.query, block))
        with self._lock:
            if self._fetching or self._closing:
                return
            self._fetching = True
        self._fetch()

    def on_record_table_block_loaded(self, msg: BlockLoaded) -> None:
        msg.stop()
        if msg.gen != self.gen:
            return
        self._pending.discard(msg.block)
        if msg.rows is None:
            return
        self._cache[msg.block] = msg.rows
        self._cache.move_to_end(msg.block)
        while len(self._cache) > CACHE_BLOCKS:
            self._cache.popitem(last=False)
        start = msg.block * BLOCK
        if len(msg.rows) < BLOCK and self.total is None:
            self.total = start + len(msg.rows)   # the last block tells the count early
        self._known = max(self._known, start + len(msg.rows) + (1 if len(msg.rows) == BLOCK else 0))
        if not self._sized and msg.rows:
            self._size_columns(msg.rows)
        self._update_virtual_size()
        self.refresh()
        if not self._first_shown:
            self._first_shown = True
            self.post_message(self.FirstRows(self.gen))

    def on_record_table_counted(self, msg: Counted) -> None:
        if msg.base is not None:
            self.base_total = msg.base
        if msg.gen != self.gen:
            msg.stop()
            return
        self.total = msg.total
        self._update_virtual_size()
        self.refresh()

    # -- layout ----------------------------------------------------------------------------------

    def _size_columns(self, sample: list[tuple[str, ...]]) -> None:
        """Columns as wide as their label and the widest sampled cell (capped)."""
        self._sized = True
        for i, col in enumerate(self.columns):
            widest = max((cell_len(r[i]) for r in sample if i < len(r)), default=0)
            col.width = max(col.width, min(widest, MAX_COL))

    @property
    def line_width(self) -> int:
        return sum(c.width for c in self.columns) + GAP * max(len(self.columns) - 1, 0)

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
        text = (" " * GAP).join(fit_cells(values[i] if i < len(values) else "", c.width)
                                for i, c in enumerate(self.columns))
        style = base
        if index == self.cursor_row:
            style = base + self.get_component_rich_style(
                "record-table--cursor" if self.has_focus else "record-table--cursor-blur")
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


def _values(row: Any) -> Sequence[Any]:
    """Row values whatever shape the store returns (tuple, sqlite3.Row, dict)."""
    if isinstance(row, dict):
        return list(row.values())
    return row
