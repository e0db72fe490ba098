"""The record list's HaiHai results: a column with each record's last result in one integration, and a
filter by it (core/run/sync.py ``record_results``: 成功, 失敗 with the reason, 未送信, 変更あり).

Everything here runs in the record table's worker threads, never on the event loop: the column is
computed per fetched block (``ResultsView.texts``), and the filter is a store wrapper
(``ResultFilteredStore``) whose first count or page scans the query's result once, keeps the records
whose result matches (row values and record ids, shared by the fetch and count workers through the
view's cache) and then serves counts and pages from that list.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from haihai_tui.core.records.query import Query
from haihai_tui.core.run.sync import (
    RESULT_CHANGED,
    RESULT_FAILED,
    RESULT_OK,
    RESULT_UNSENT,
    key_index,
    keys_with_result,
    record_results,
)
from haihai_tui.core.settings.model import Database, Menu

SCAN = 5000  # rows read per step of a filter's scan

#: filter id -> (words shown in the picker and the status line, the results it keeps)
RESULT_FILTERS: dict[str, tuple[str, frozenset[str]]] = {
    "failed": ("失敗 last time (HaiHai refused them)", frozenset({RESULT_FAILED})),
    "changed": ("changed since last sync (変更あり)", frozenset({RESULT_CHANGED})),
    "unsent": ("未送信 (never confirmed by HaiHai)", frozenset({RESULT_UNSENT})),
    "ok": ("成功 (confirmed, unchanged since)", frozenset({RESULT_OK})),
}


def _cells(row: Sequence[Any]) -> tuple[str, ...]:
    """Cells as the run's CSV builder digests them (None is empty)."""
    return tuple("" if c is None else str(c) for c in row)


@dataclass
class _Snapshot:
    integration: str | None
    filter: str | None
    version: int


class ResultsView:
    """Which integration's results the list shows (None: the column is off), the filter, and the filter's
    scans. Read from worker threads: every reader takes one ``snapshot()``."""

    def __init__(self, history_db: Path, menu: Menu, database: Database) -> None:
        self.history_db, self.menu, self.database = history_db, menu, database
        self.integration: str | None = None
        self.filter: str | None = None
        self.version = 0  # bumped when the results may have changed (a run ended, a record was written)
        self._lock = threading.Lock()
        self._scans: dict[tuple, list[tuple[tuple, int]]] = {}

    def snapshot(self) -> _Snapshot:
        return _Snapshot(self.integration, self.filter, self.version)

    def changed(self) -> None:
        """The results may differ now: drop every scan."""
        with self._lock:
            self.version += 1
            self._scans.clear()

    @property
    def filter_words(self) -> str:
        return RESULT_FILTERS[self.filter][0] if self.filter in RESULT_FILTERS else ""

    def texts(self, rows: Sequence[Sequence[Any]], integration: str | None = None) -> list[str]:
        """The results column of ``rows`` (cells in the menu's column order), one text per row."""
        integration = integration or self.integration
        if not integration or not rows:
            return [""] * len(rows)
        found = record_results(self.history_db, integration, self.menu, self.database, [_cells(r) for r in rows])
        return [r.text() for r in found]

    def matches(self, store, query: Query, columns: Sequence[str]) -> list[tuple[tuple, int]]:
        """(values, record id) of every row of ``query`` whose result passes the filter; one scan per query."""
        snap = self.snapshot()
        if snap.integration is None or snap.filter not in RESULT_FILTERS:
            return []
        keep = RESULT_FILTERS[snap.filter][1]
        key = (query, tuple(columns), snap.integration, snap.filter, snap.version)
        with self._lock:  # the fetch and count workers share one scan
            if key in self._scans:
                return self._scans[key]
            out: list[tuple[tuple, int]] = []
            start = 0
            ix = key_index(self.menu, self.database)
            failed = None  # 失敗 last time: the (few) refused keys, read once; no per-row lookup
            if keep == {RESULT_FAILED} and ix is not None and list(columns) == list(self.menu.columns):
                failed = keys_with_result(self.history_db, snap.integration, RESULT_FAILED)
            while True:
                raw = store.rows_at(query, columns, start, SCAN, with_rowid=True)
                if not raw:
                    break
                values = [tuple(r[:-1]) for r in raw]
                if failed is not None:
                    out += [(v, r[-1]) for v, r in zip(values, raw) if str(v[ix] or "").strip().lower() in failed]
                else:
                    found = record_results(
                        self.history_db, snap.integration, self.menu, self.database, [_cells(v) for v in values]
                    )
                    out += [(v, r[-1]) for v, r, res in zip(values, raw, found) if res.word in keep]
                if len(raw) < SCAN:
                    break
                start += SCAN
            if snap.version == self.version:
                self._scans[key] = out
            return out


class ResultFilteredStore:
    """A record store seen through the results filter; with no filter set it is the store itself."""

    def __init__(self, store, view: ResultsView) -> None:
        self._store, self._view = store, view

    def _filtered(self) -> bool:
        snap = self._view.snapshot()
        return snap.integration is not None and snap.filter in RESULT_FILTERS

    def __getattr__(self, name: str):
        if name == "page" and self._filtered():  # keyset pages would bypass the filter: use rows_at
            raise AttributeError(name)
        return getattr(self._store, name)

    def count(self, query: Query | None = None) -> int:
        if query is None or query == Query() or not self._filtered():  # Query(): the whole database
            return self._store.count(query) if query is not None else self._store.count()
        return len(self._view.matches(self._store, query, self._view.menu.columns))

    def rows_at(self, query: Query, columns: Sequence[str], start: int, count: int, *, with_rowid: bool) -> list:
        if not self._filtered():
            return self._store.rows_at(query, columns, start, count, with_rowid=with_rowid)
        part = self._view.matches(self._store, query, columns)[start : start + count]
        return [(*v, rid) if with_rowid else v for v, rid in part]

    def close(self) -> None:
        self._store.close()
