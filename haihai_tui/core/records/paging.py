"""Keyset paging shared by the record stores (SQLite, core/records/store.py; PostgreSQL, postgres.py): the
cursor a page ends at, the page itself, and the seek through a query plan's parts that both engines run."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from operator import itemgetter


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: the sort key (None when in import order) and the rowid of its last row."""

    key: str | None
    rowid: int


@dataclass
class Page:
    rows: list[tuple[str, ...]]
    rowids: list[int]
    next: Cursor | None  # None = this was the last page


def page_of(raw: list[tuple], limit: int, width: int) -> Page:
    """The Page of ``raw``: up to ``limit + 1`` rows of ``width`` columns, then the sort key and the rowid.

    The extra row only says that there is more (the SQLite and the PostgreSQL store both page this way)."""
    more = len(raw) > limit
    del raw[limit:]
    rows = list(map(itemgetter(slice(0, width)), raw))
    nxt = Cursor(raw[-1][-2], raw[-1][-1]) if more and raw else None
    return Page(rows, [r[-1] for r in raw], nxt)


def seek(
    execute: Callable, table: str, parts: Iterable[tuple[str, list, str]], select: str, skip: int, count: int, mark: str
) -> list[tuple]:
    """``count`` rows of ``select`` after ``skip`` rows, through the ``parts`` of a seek (``plan.parts``), in order.

    ``execute`` is the connection's (SQLite or PostgreSQL), ``mark`` its parameter placeholder (``?`` or ``%s``)."""
    out: list[tuple] = []
    for where, params, order in parts:
        sql = f"FROM {table} WHERE {where} ORDER BY {order}"
        rows = execute(f"SELECT {select} {sql} LIMIT {mark} OFFSET {mark}", params + [count, skip]).fetchall()
        if not rows and skip:  # all of this part was skipped, or less: how much of ``skip`` is left
            skip -= execute(f"SELECT count(*) FROM (SELECT 1 {sql} LIMIT {mark}) x", params + [skip]).fetchone()[0]
        else:
            skip = 0
        out += rows
        count -= len(rows)
        if count <= 0:
            break
    return out
