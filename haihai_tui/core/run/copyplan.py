"""A sync mode's Planner (core/run/sync.py) on the lines PostgreSQL's ``COPY ... TO STDOUT WITH (FORMAT csv)``
sends (PgRecordStore.copy_csv), so a run from PostgreSQL builds its file with checks/csvcopy.py and still sends,
counts and remembers exactly what the rows path would.

A chunk of lines with no quote character is cut into cells at the commas (no cell holds a comma or a line break,
or it would be quoted): the addresses are every ``width``-th cell, and a row's digest is the digest of its line
with each comma replaced by the separator ``row_digest`` joins the cells with (the same string, so the same
8 bytes). Any other chunk is parsed into rows and digested as rows; its lines are written again by ``csv.writer``
(CRLF, so that a cell with a CR is quoted, then LF), which build_csv_from_copy reads as it reads the server's.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from itertools import islice

from haihai_tui.core.run.sync import Planner
from haihai_tui.core.run.syncstate import _B8, _DIGEST, _SEP, row_digests

CHUNK = 5000  # lines planned at a time

__all__ = ["planned_lines"]


def planned_lines(
    planner: Planner, lines: Iterable[bytes], width: int, source_encoding: str = "utf-8"
) -> Iterator[bytes]:
    """The lines (one row each, as ``copy_csv`` yields them) that ``planner`` sends, in order."""
    ix = planner.key_ix
    if ix is None:  # nothing to key (Planner.rows sends every row as it is)
        yield from lines
        return
    it = iter(lines)
    while chunk := list(islice(it, CHUNK)):
        text = b"".join(chunk).decode(source_encoding)
        n = len(chunk)
        if width >= 2 and '"' not in text and text.count("\n") == n:
            flat = text.replace("\n", ",").split(",")
            if len(flat) == n * width + 1:
                joined = text.replace(",", _SEP).split("\n")
                del joined[-1]
                ds = list(map(_DIGEST, map(_B8, map(str.encode, joined))))
                yield from planner.chunk(chunk, flat[ix:-1:width], ds)
                continue
        rows = [r or [""] for r in csv.reader(io.StringIO(text, newline=""))]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")  # quotes a cell with CR or LF (with "\n" alone: LF only)
        items = []
        for r in rows:
            out.seek(0)
            out.truncate()
            writer.writerow(r)
            items.append((out.getvalue()[:-2] + "\n").encode(source_encoding))
        yield from planner.chunk(items, [r[ix] if len(r) > ix else "" for r in rows], row_digests(rows))
