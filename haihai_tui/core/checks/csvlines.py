"""The upload file built from CSV lines a database server already wrote (PostgreSQL, core/records/postgres.py
``csv_lines``: each row as ``(line, cell)``, the line exactly as ``csv.writer`` writes it without its line end,
the cell the plain value of one column) instead of from rows: the same bytes and the same findings as
``build_csv`` on the same rows, without building and writing rows in Python for most chunks.

A chunk's file text is its lines joined with CRLF. It takes the fast path only when nothing in it needs a
closer look: it encodes, ``ChunkScan`` finds no control character, no character the encoding changes and no
cell starting with = + - @, it does not cross a request's row or byte limit, and the given cell is the e-mail
column (then the only check left, done as ``build_csv`` does it). Any other chunk is parsed back into rows
(``csv.reader``, exact on ``csv.writer``'s text) and goes through ``build_csv``'s own chunk step, so every
finding is found by the same code with the same row, column and message.
"""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Callable, Iterable, Sequence
from operator import itemgetter
from pathlib import Path

from haihai_tui.core.checks.csvbuild import BuiltCsv, _Builder, _checked_encoding, _drive

__all__ = ["build_csv_from_lines", "parse_lines"]

_LINE = itemgetter(0)
_CELL = itemgetter(1)


def parse_lines(lines: list[str]) -> list[list[str]]:
    """The rows of ``csv.writer`` lines (without line ends)."""
    return list(csv.reader(io.StringIO("\r\n".join(lines) + "\r\n", newline="")))


class _LineBuilder(_Builder):
    column: int | None = None

    def line_chunk(self, items: list[tuple[str, str]]) -> None:
        """``(line, cell)`` items, one per row, as one chunk."""
        lines = list(map(_LINE, items))
        n = len(lines)
        text = "\r\n".join(lines) + "\r\n"
        try:
            data = text.encode(self.enc)
        except UnicodeEncodeError:
            return self.chunk(parse_lines(lines))
        chars, lead = self.scan.suspect(text, data)
        ix = self.checks.email_ix
        if chars or lead or (ix is not None and ix != self.column) or not self._fits(len(data), n):
            return self.chunk(parse_lines(lines))
        base = self.total
        if ix is not None:
            self.checks.email_values(list(map(_CELL, items)), base)
        self._place(data, n, None, base)
        self.total += n

    def _fits(self, size: int, n: int) -> bool:
        """Whether ``_place`` writes the chunk whole (it needs the chunk's rows only when it cuts it)."""
        if not self.parts or self.parts[-1][0] >= self.max_rows:
            rows, used = 0, len(self.sink.header)
        else:
            rows, used = self.parts[-1]
        return used + size <= self.max_bytes and rows + n <= self.max_rows


def build_csv_from_lines(
    items: Iterable[tuple[str, str]],
    labels: Sequence[str],
    *,
    column: int | None,
    encoding: str,
    header: bool,
    dest_dir: Path,
    max_rows: int = 10_000,
    max_bytes: int = 3_000_000,
    split: bool = False,
    on_rows: Callable[[int], None] | None = None,
    cancel: threading.Event | None = None,
    max_findings: int = 1000,
    daily_quota: int = 240,
) -> BuiltCsv:
    """``build_csv`` for ``(line, cell)`` items (``cell`` is column ``column``'s value). Same result as
    ``build_csv`` on the rows the lines hold."""
    enc = _checked_encoding(encoding, max_rows, max_bytes, max_findings)
    b = _LineBuilder(labels, enc, header, Path(dest_dir), max_rows, max_bytes, split, None, max_findings, daily_quota)
    b.column = column
    return _drive(b, items, b.line_chunk, on_rows, cancel)
