"""The upload file built from CSV text a database server already wrote (PostgreSQL's ``COPY ... TO STDOUT WITH
(FORMAT csv)``, core/records/postgres.py ``copy_csv``) instead of from rows: the same bytes and the same findings
as ``build_csv`` on the same rows, without building and writing rows in Python for most chunks.

Why it is the same file: the server quotes a cell only when it holds a comma, a quote, CR or LF (or is ``\\.``);
``csv.writer`` (QUOTE_MINIMAL) quotes exactly the first four. So a chunk with no quote character at all is
already what ``csv.writer`` would write, except that its lines end in LF: ending them in CRLF is one
``str.replace`` (no cell holds a line break, or it would be quoted). Its cells are the pieces between the commas.

A chunk takes the fast path only when nothing in it needs a closer look: no quote character, every line has
the expected number of cells, it encodes, ``ChunkScan`` finds no control character, no character the encoding
changes and no cell starting with = + - @, and it does not cross a request's row or byte limit. Its only check
left is the e-mail column (taken from the cells at C speed, checked as ``build_csv`` checks it). Any other
chunk is parsed back into rows (``csv.reader``) and goes through ``build_csv``'s own chunk step, so every
finding is found by the same code with the same row, column and message.
"""

from __future__ import annotations

import csv
import io
import itertools
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from haihai_tui.core.checks.csvbuild import BuildCancelled, BuiltCsv, _Builder
from haihai_tui.core.encodings import normalize_encoding

__all__ = ["build_csv_from_copy"]


class _CopyBuilder(_Builder):
    def text_chunk(self, text: str, n: int) -> None:
        """``n`` rows of server-written CSV (LF line ends) as one chunk."""
        width = len(self.labels)
        if width < 2 or '"' in text or text.count("\n") != n:
            return self.chunk(self._parse(text))
        flat = text.replace("\n", ",").split(",")
        if len(flat) != n * width + 1:
            return self.chunk(self._parse(text))
        out = text.replace("\n", "\r\n")
        try:
            data = out.encode(self.enc)
        except UnicodeEncodeError:
            return self.chunk(self._parse(text))
        chars, lead = self.scan.suspect(out, data)
        if chars or lead or not self._fits(len(data), n):
            return self.chunk(self._parse(text))
        base = self.total
        if self.checks.email_ix is not None:
            self.checks.email_values(flat[self.checks.email_ix : -1 : width], base)
        self._place(data, n, None, base)
        self.total += n

    def _parse(self, text: str) -> list[list[str]]:
        """The rows of server-written CSV. An empty line is a row of one empty cell (a one-column table)."""
        return [r or [""] for r in csv.reader(io.StringIO(text, newline=""))]

    def _fits(self, size: int, n: int) -> bool:
        """Whether ``_place`` writes the chunk whole (it needs the chunk's lines only when it cuts it)."""
        if not self.parts or self.parts[-1][0] >= self.max_rows:
            rows, used = 0, len(self.sink.header)
        else:
            rows, used = self.parts[-1]
        return used + size <= self.max_bytes and rows + n <= self.max_rows


def build_csv_from_copy(
    lines: Iterable[bytes],
    labels: Sequence[str],
    *,
    encoding: str,
    header: bool,
    dest_dir: Path,
    source_encoding: str = "utf-8",
    max_rows: int = 10_000,
    max_bytes: int = 3_000_000,
    split: bool = False,
    on_rows: Callable[[int], None] | None = None,
    cancel: threading.Event | None = None,
    max_findings: int = 1000,
    daily_quota: int = 240,
) -> BuiltCsv:
    """``build_csv`` for ``lines``: one row's server-written CSV each (bytes in ``source_encoding``, LF at the
    end), as ``COPY ... TO STDOUT WITH (FORMAT csv)`` sends them. Same result as ``build_csv`` on the rows."""
    enc = normalize_encoding(encoding)
    if max_rows < 1 or max_bytes < 1 or max_findings < 1:
        raise ValueError("max_rows, max_bytes and max_findings must be at least 1")
    b = _CopyBuilder(labels, enc, header, Path(dest_dir), max_rows, max_bytes, split, None, max_findings, daily_quota)
    try:
        b.checks.check_labels()
        it = iter(lines)
        while True:
            if cancel is not None and cancel.is_set():
                raise BuildCancelled("cancelled while building the CSV; no file was kept")
            chunk = list(itertools.islice(it, b.room()))
            if not chunk:
                break
            b.text_chunk(b"".join(chunk).decode(source_encoding), len(chunk))
            if on_rows is not None:
                on_rows(b.total)
        return b.finish()
    except BaseException:
        b.sink.discard()
        raise
