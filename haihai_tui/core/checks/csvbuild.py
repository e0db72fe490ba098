"""Rows -> the exact CSV file(s) that will be uploaded, plus the pre-flight findings, in one streaming pass.

Nothing is ever replaced: a cell that cannot be encoded is an error with row, column and character.
When the pass finds any error the files are deleted at once (``files == []``); the counts still
describe what would have been built. Speed: rows go through ``csv.writer`` a chunk at a time, each
chunk is encoded in one call and its e-mail column checked with one regex match; only a chunk that
fails a fast check is looked at row by row. This module is the writing side (files, limits, splitting);
the Finding type and the checks that produce findings are in findings.py.

Cells are sent exactly as they are, never altered. Besides characters the encoding lacks (an error), a
chunk's encoded bytes get one cheap look (cells.ChunkScan) for control characters (an error), characters
Windows-31J changes on the way ('〜' -> '～', a warning) and formula-like cells (= + - @, a warning: HaiHai
users export lists to Excel); only a chunk that fails it is looked at closer: its suspect rows cell by cell
for characters, its columns' first characters for formulas. The rules are in cells.py.
"""

from __future__ import annotations

import csv
import itertools
import os
import secrets
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from haihai_tui.core.checks.cells import ChunkScan
from haihai_tui.core.checks.findings import Finding, Findings
from haihai_tui.core.encodings import normalize_encoding

CHUNK = 2048  # rows per chunk: the unit of encoding, checking, progress and cancel


class BuildCancelled(Exception):
    """The build was cancelled; its files are already removed."""


@dataclass
class BuiltCsv:
    files: list[Path]
    rows_per_file: list[int]
    bytes_per_file: list[int]
    total_rows: int
    findings: list[Finding]  # errors first; capped at max_findings plus one "... and N more"
    header: list[str]
    encoding: str  # "cp932" | "utf-8"
    error_count: int = 0  # exact, even when findings are capped
    warning_count: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # finding code -> exact number

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def has_errors(self) -> bool:
        return self.error_count > 0

    @property
    def requests(self) -> int:
        return len(self.rows_per_file)

    def remove(self) -> None:
        """Delete every file; safe to call twice."""
        for p in self.files:
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass


class _Sink:
    """The output files: 0600, created exclusively; discarded as soon as an error is known."""

    def __init__(self, dest_dir: Path, header: bytes):
        dest_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.dir, self.header = dest_dir, header
        self.stem = f"customer_list-{os.getpid()}-{secrets.token_hex(4)}"
        self.paths: list[Path] = []
        self.fh = None
        self.dead = False

    def open(self) -> None:
        if self.dead:
            return
        self.close()
        path = self.dir / f"{self.stem}-{len(self.paths) + 1}.csv"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
        self.paths.append(path)
        os.fchmod(fd, 0o600)
        self.fh = os.fdopen(fd, "wb")
        self.fh.write(self.header)

    def write(self, data: bytes) -> None:
        if self.fh is not None:
            self.fh.write(data)

    def close(self) -> None:
        if self.fh is not None:
            fh, self.fh = self.fh, None
            fh.close()

    def discard(self) -> None:
        self.dead = True
        try:
            self.close()
        finally:
            for p in self.paths:
                try:
                    os.unlink(p)
                except FileNotFoundError:
                    pass
            self.paths = []


class _Builder:
    """One pass: rows -> encoded chunks -> planned requests and files; findings go to ``self.checks``."""

    def __init__(
        self,
        labels: Sequence[str],
        enc: str,
        header: bool,
        dest_dir: Path,
        max_rows: int,
        max_bytes: int,
        split: bool,
        rowids,
        max_findings: int,
        daily_quota: int,
    ):
        self.labels, self.enc, self.split = list(labels), enc, split
        self.max_rows, self.max_bytes, self.daily_quota = max_rows, max_bytes, daily_quota
        self.parts: list[list[int]] = []  # planned requests: [rows, bytes]; virtual when not split
        self.file_bytes = 0
        self.total = 0
        self.buf: list[str] = []
        out = type("_Out", (), {})()
        out.write = self.buf.append
        self.writer = csv.writer(out, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
        self.sink = _Sink(dest_dir, b"")  # opens no file before the first row
        self.checks = Findings(labels, enc, header, rowids, max_findings, self._drop_files)
        self.add = self.checks.add
        self.scan = ChunkScan(enc)
        if header:
            self.sink.header = self._header_bytes()

    def _drop_files(self) -> None:
        """An error was found: the files are of no use any more."""
        if not self.sink.dead:
            self.sink.discard()

    # header --------------------------------------------------------------------------------------
    def _header_bytes(self) -> bytes:
        self.buf.clear()
        self.writer.writerow(self.labels)
        line = "".join(self.buf)
        try:
            return line.encode(self.enc)
        except UnicodeEncodeError:
            self.checks.unencodable_labels()
            return line.encode(self.enc, "replace")

    # rows ----------------------------------------------------------------------------------------
    def chunk(self, rows: list) -> None:
        base, n = self.total, len(rows)
        buf = self.buf
        buf.clear()
        self.writer.writerows(rows)
        text = "".join(buf)
        try:
            data, lens = text.encode(self.enc), None
        except UnicodeEncodeError:
            data, lens = self._encode_slow(rows, base)
        width = len(self.labels)
        ok_width = set(map(len, rows)) == {width}
        chars, lead = self.scan.suspect(text, data)
        if chars or lens is not None:  # after a failed encode: C1 controls were replaced in ``data``
            self.checks.char_rows(rows, base, buf, self.scan.chars_re)
        if lead:
            self.checks.formula_cells(rows, base, ok_width)
        if not ok_width:
            for i, r in enumerate(rows):
                if len(r) != width:
                    self.add(
                        "error",
                        "columns",
                        f"the row has {len(r)} values but there are {width} columns",
                        row=base + i + 1,
                    )
        self.checks.emails(rows, base, ok_width)
        self._place(data, n, lens, base)
        self.total += n

    def _encode_slow(self, rows: list, base: int) -> tuple[bytes, list[int]]:
        out, lens = [], []
        for i, line in enumerate(self.buf):
            try:
                b = line.encode(self.enc)
            except UnicodeEncodeError:
                b = line.encode(self.enc, "replace")  # only to count bytes: the file is discarded
                self.checks.unencodable_cells(base + i + 1, rows[i])
            out.append(b)
            lens.append(len(b))
        return b"".join(out), lens

    # split planning and writing --------------------------------------------------------------------
    def room(self) -> int:
        """How many rows the next chunk may hold so that it never crosses a row-limit cut."""
        if not self.parts or self.parts[-1][0] >= self.max_rows:
            return min(CHUNK, self.max_rows)
        return min(CHUNK, self.max_rows - self.parts[-1][0])

    def _new_part(self) -> None:
        self.parts.append([0, len(self.sink.header)])
        if self.split or len(self.parts) == 1:
            self.sink.open()
            self.file_bytes = len(self.sink.header)

    def _place(self, data: bytes, n: int, lens: list[int] | None, base: int) -> None:
        if not self.parts or self.parts[-1][0] >= self.max_rows:
            self._new_part()
        part = self.parts[-1]
        if part[1] + len(data) <= self.max_bytes and part[0] + n <= self.max_rows:
            self.sink.write(data)
            part[0] += n
            part[1] += len(data)
            self.file_bytes += len(data)
            return
        if lens is None:
            lens = [len(line.encode(self.enc)) for line in self.buf]
        start = end = 0
        hdr = len(self.sink.header)
        for i, size in enumerate(lens):
            if part[0] and (part[1] + size > self.max_bytes or part[0] >= self.max_rows):
                self.sink.write(data[start:end])
                self.file_bytes += end - start
                start = end
                self._new_part()
                part = self.parts[-1]
            if hdr + size > self.max_bytes:
                self.add(
                    "error",
                    "over_bytes",
                    f"this row alone is {size:,} bytes, so with the header it is over the "
                    f"{self.max_bytes:,}-byte limit per request and cannot be sent even on its own; shorten its "
                    f"cells in 楽楽販売",
                    row=base + i + 1,
                )
            part[0] += 1
            part[1] += size
            end += size
        self.sink.write(data[start:end])
        self.file_bytes += end - start

    def finish(self) -> BuiltCsv:
        self.sink.close()
        n_parts = len(self.parts)
        if self.total == 0:
            self.add(
                "error",
                "empty",
                "the CSV would contain no data rows; HaiHai rejects an empty file (EMPTY_FILE): "
                "check the search conditions",
            )
        elif not self.split and n_parts > 1:
            quota = f"{n_parts:,} of the daily quota of {self.daily_quota:,}"
            if self.total > self.max_rows:
                self.add(
                    "error",
                    "over_rows",
                    f"{self.total:,} rows exceed the {self.max_rows:,}-row limit per "
                    f"request; choose split to send it as {n_parts:,} requests ({quota})",
                )
            if self.file_bytes > self.max_bytes:
                self.add(
                    "error",
                    "over_bytes",
                    f"the CSV is {self.file_bytes:,} bytes, over the {self.max_bytes:,}"
                    f"-byte limit per request; choose split to send it as {n_parts:,} requests ({quota})",
                )
        if n_parts > self.daily_quota:
            self.add(
                "error",
                "over_quota",
                f"this needs {n_parts:,} requests, more than the daily quota of "
                f"{self.daily_quota:,} import calls; narrow the search or raise the per-request limits",
            )
        if self.split:
            rows = [p[0] for p in self.parts]
            sizes = [p[1] for p in self.parts]
        else:
            rows, sizes = [self.total], [self.file_bytes or len(self.sink.header)]
        c = self.checks
        if c.n_err:
            self.sink.discard()
        return BuiltCsv(
            list(self.sink.paths),
            rows,
            sizes,
            self.total,
            c.findings(),
            self.labels,
            self.enc,
            c.n_err,
            c.n_warn,
            dict(c.counts),
        )


def build_csv(
    rows: Iterable[Sequence[str]],
    labels: Sequence[str],
    *,
    encoding: str,
    header: bool,
    dest_dir: Path,
    max_rows: int = 10_000,
    max_bytes: int = 3_000_000,
    split: bool = False,
    on_rows: Callable[[int], None] | None = None,
    cancel: threading.Event | None = None,
    rowids: Sequence | None = None,
    max_findings: int = 1000,
    daily_quota: int = 240,
) -> BuiltCsv:
    """Check and write ``rows`` in one pass; see the module docstring. Raises BuildCancelled on cancel."""
    enc = _checked_encoding(encoding, max_rows, max_bytes, max_findings)
    b = _Builder(labels, enc, header, Path(dest_dir), max_rows, max_bytes, split, rowids, max_findings, daily_quota)
    return _drive(b, rows, b.chunk, on_rows, cancel)


def _checked_encoding(encoding: str, max_rows: int, max_bytes: int, max_findings: int) -> str:
    """The normalized encoding, once the limits are checked (``build_csv`` and ``build_csv_from_lines``)."""
    enc = normalize_encoding(encoding)
    if max_rows < 1 or max_bytes < 1 or max_findings < 1:
        raise ValueError("max_rows, max_bytes and max_findings must be at least 1")
    return enc


def _drive(
    b: _Builder,
    items: Iterable,
    step: Callable[[list], None],
    on_rows: Callable[[int], None] | None,
    cancel: threading.Event | None,
) -> BuiltCsv:
    """Feed ``items`` to ``step`` a chunk (``b.room()`` items) at a time, then finish ``b``; on cancel or any
    error no file is kept. ``step`` is ``b.chunk`` for rows, ``_LineBuilder.line_chunk`` for CSV lines."""
    try:
        b.checks.check_labels()
        it = iter(items)
        while True:
            if cancel is not None and cancel.is_set():
                raise BuildCancelled("cancelled while building the CSV; no file was kept")
            chunk = list(itertools.islice(it, b.room()))
            if not chunk:
                break
            step(chunk)
            if on_rows is not None:
                on_rows(b.total)
        return b.finish()
    except BaseException:
        b.sink.discard()
        raise


__all__ = ["BuildCancelled", "BuiltCsv", "build_csv", "CHUNK"]
