"""The record table's data side: an LRU cache of row blocks, filled by fetch and count thread workers.

``RecordBlocks`` is a mixin for ``RecordTable`` (a Textual widget). Missing blocks are queued and
served newest first by one long-lived thread worker that owns the store (its own SQLite
connection); counting runs in a second thread. The event loop never waits for the database.
The host widget provides ``query``, ``column_ids``, ``cursor_row``, ``scroll_y``, ``size``,
``_sized``, ``_size_columns(rows)`` and ``_update_virtual_size()``.
"""

from __future__ import annotations

import queue
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from textual import work
from textual.message import Message

from haihai_tui.core.records.query import Query
from haihai_tui.tui.widgets.cell_text import clean

BLOCK = 200  # rows per fetch
RESULTS_COLUMN = "__results__"  # the id of the results column (not a field: never queried)
CACHE_BLOCKS = 64  # blocks kept (12,800 rows)


class Store(Protocol):
    def count(self, query: Query | None = None) -> int: ...
    def rows_at(self, query: Query, columns: Sequence[str], start: int, count: int, *, with_rowid: bool) -> list: ...
    def close(self) -> None: ...


class RecordBlocks:
    """Block cache, request queue and the fetch / count workers of a record table."""

    # The messages keep the "record_table" namespace: handlers are ``on_record_table_<name>``.
    class Counted(Message, namespace="record_table"):
        """The row count of the current query (``base`` = rows in the whole database)."""

        def __init__(self, gen: int, total: int, base: int | None) -> None:
            super().__init__()
            self.gen, self.total, self.base = gen, total, base

    class FirstRows(Message, namespace="record_table"):
        """The first rows of a new query are on screen (clear 'searching...' / 'sorting...')."""

        def __init__(self, gen: int) -> None:
            super().__init__()
            self.gen = gen

    class Failed(Message, namespace="record_table"):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class BlockLoaded(Message, namespace="record_table"):
        def __init__(self, gen: int, block: int, rows: list | None, rowids: list[int] | None = None) -> None:
            super().__init__()
            self.gen, self.block, self.rows, self.rowids = gen, block, rows, rowids

    def _init_blocks(self, open_store: Callable[[], Store]) -> None:
        self._open_store = open_store
        self.gen = 0
        self.total: int | None = None
        self.base_total: int | None = None
        self._known = 0  # rows known to exist while the count is pending
        self._cache: OrderedDict[int, list[tuple[str, ...]]] = OrderedDict()
        self._rowids: dict[int, list[int]] = {}  # block -> the record id of each cached row
        self._pending: set[int] = set()
        self._requests: queue.LifoQueue = queue.LifoQueue()
        self._first_shown = False
        self._lock = threading.Lock()
        self._fetching = False
        self._closing = False
        self._store: Store | None = None
        #: the results column: rows (cells in ``column_ids`` order) -> one text per row, called in the fetch
        #: thread; its text is the first cell of each cached row (``RESULTS_COLUMN``). None: no such column.
        self.results: Callable[[list[tuple]], list[str]] | None = None

    def _reset_blocks(self) -> None:
        """Forget the rows of the previous query (a new generation; stale answers are dropped)."""
        self.gen += 1
        self.total = None
        self._known = 0
        self._cache.clear()
        self._rowids.clear()
        self._pending.clear()
        self._first_shown = False

    def _stop_blocks(self) -> None:
        """Close the store now, or let the running fetch worker close it when it ends."""
        with self._lock:
            self._closing = True
            if self._fetching:
                return
        self._close_store()

    @property
    def row_count(self) -> int:
        return self.total if self.total is not None else self._known

    def row(self, index: int) -> tuple[str, ...] | None:
        """The cached values of row ``index`` (0-based), or None while not fetched."""
        block = self._cache.get(index // BLOCK)
        if block is None or index % BLOCK >= len(block):
            return None
        return block[index % BLOCK]

    def row_id(self, index: int) -> int | None:
        """The record id of row ``index`` (0-based), or None while that row is not fetched."""
        ids = self._rowids.get(index // BLOCK)
        if ids is None or index % BLOCK >= len(ids):
            return None
        return ids[index % BLOCK]

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
                    page = self._store.page(query, self.column_ids, limit=BLOCK)
                    rows, rowids = page.rows, page.rowids
                else:
                    raw = self._store.rows_at(query, self.column_ids, block * BLOCK, BLOCK, with_rowid=True)
                    rows, rowids = [r[:-1] for r in raw], [r[-1] for r in raw]
            except Exception as e:  # a broken database must not kill the table
                self.post_message(self.Failed(f"reading records failed: {e}"))
                self.post_message(self.BlockLoaded(gen, block, None))
                continue
            values = [tuple(map(clean, _values(r))) for r in rows]
            results = self.results
            if results is not None:  # the results column (first), computed here per block, off the event loop
                try:
                    texts = results([tuple(_values(r)) for r in rows])
                except Exception as e:  # the history cannot be read: say it once, show "?"
                    self.post_message(self.Failed(f"reading the HaiHai results failed: {e}"))
                    texts = ["?"] * len(rows)
                values = [(clean(t), *v) for t, v in zip(texts, values)]
            self.post_message(self.BlockLoaded(gen, block, values, rowids))

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
        if msg.rowids is not None:
            self._rowids[msg.block] = msg.rowids
        self._cache.move_to_end(msg.block)
        while len(self._cache) > CACHE_BLOCKS:
            self._rowids.pop(self._cache.popitem(last=False)[0], None)
        start = msg.block * BLOCK
        if len(msg.rows) < BLOCK and self.total is None:
            self.total = start + len(msg.rows)  # the last block tells the count early
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


def _values(row: Any) -> Sequence[Any]:
    """Row values whatever shape the store returns (tuple, sqlite3.Row, dict)."""
    if isinstance(row, dict):
        return list(row.values())
    return row
