"""A sync mode's Planner (core/run/sync.py) on the ``(line, key cell)`` items PostgreSQL writes
(PgRecordStore.csv_lines with ``with_column`` = the key column), so a run from PostgreSQL builds its file with
checks/csvlines.py and still sends, counts and remembers exactly what the rows path would.

The addresses are the items' cells. A row's digest (``row_digest``: its cells joined by a separator) is, for a
line with no quote character, the digest of the line with each comma replaced by that separator (no cell holds
a comma, or it would be quoted: the same string, so the same 8 bytes); a chunk with a quoted line is parsed
into rows and digested as rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from operator import itemgetter

from haihai_tui.core.checks.csvlines import parse_lines
from haihai_tui.core.run.sync import Planner
from haihai_tui.core.run.syncstate import _B8, _DIGEST, _SEP, row_digests

CHUNK = 5000  # lines planned at a time

__all__ = ["planned_lines"]


def planned_lines(planner: Planner, items: Iterable[tuple[str, str]]) -> Iterator[tuple[str, str]]:
    """The items ``planner`` sends, in order; ``items`` carry the key column's cell (``planner.key_ix``)."""
    if planner.key_ix is None:  # nothing to key (Planner.rows sends every row as it is)
        yield from items
        return
    it = iter(items)
    while chunk := list(islice(it, CHUNK)):
        lines = list(map(itemgetter(0), chunk))
        joined = "\n".join(lines)
        if '"' in joined:
            ds = row_digests(parse_lines(lines))
        else:
            ds = list(map(_DIGEST, map(_B8, map(str.encode, joined.replace(",", _SEP).split("\n")))))
        yield from planner.chunk(chunk, list(map(itemgetter(1), chunk)), ds)
