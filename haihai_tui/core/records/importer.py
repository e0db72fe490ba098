"""CSV → record database: encoding detection, header matching, one all-or-nothing transaction.

The fast path hands the ``csv.reader`` straight to ``executemany`` in big batches (no Python code per
row). Only when that fails is the file read a second time, slowly, to name the line and what is wrong.
"""

from __future__ import annotations

import codecs
import csv
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from haihai_tui.core.problems import Problem
from haihai_tui.core.settings.model import Database, FieldDef

BATCH = 50_000
_CHUNK = 1 << 20
LABELS = {"utf-8-sig": "UTF-8 with BOM", "utf-8": "UTF-8", "cp932": "Windows-31J/cp932"}
# (rows stored so far, bytes read so far, file size)
ProgressFn = Callable[[int, int, int], None]


class ImportCancelled(Exception):
    """The import was cancelled (its ``cancel`` event was set); the transaction was rolled back."""


class RecordImportError(ValueError):
    """A CSV file that cannot be imported; ``str(e)`` is ``line N: what is wrong`` (nothing was stored)."""

    def __init__(self, line: int | None, message: str, file: str = ""):
        self.line, self.message, self.file = line, message, file
        super().__init__(f"line {line}: {message}" if line else message)

    def as_problem(self) -> Problem:
        return Problem(self.file, self.line, self.message)


@dataclass
class ImportResult:
    rows: int  # records stored
    encoding: str  # what the file was read as, for people: "UTF-8", "Windows-31J/cp932" ...
    codec: str  # the Python codec used: "utf-8-sig" | "utf-8" | "cp932"
    columns: list[str]  # field ids, in the file's column order
    missing: list[str] = field(default_factory=list)  # field ids not in the file (stored empty)
    replaced: bool = False
    seconds: float = 0.0


def _position(path: Path, offset: int) -> tuple[int, int, int]:
    """(line, byte within the line, the byte) for an absolute byte offset; lines and bytes 1-based."""
    with open(path, "rb") as f:
        head = f.read(offset + 1)
    start = head.rfind(b"\n", 0, offset) + 1
    return head.count(b"\n", 0, offset) + 1, offset - start + 1, head[offset]


def _utf8_failure(path: Path) -> int | None:
    """Byte offset of the first invalid UTF-8 sequence, or None if the whole file is valid UTF-8."""
    base, pending = 0, b""
    with open(path, "rb") as f:
        while True:
            chunk = f.read(_CHUNK)
            data = pending + chunk
            try:
                _, used = codecs.utf_8_decode(data, "strict", not chunk)
            except UnicodeDecodeError as e:
                return base + e.start
            base, pending = base + used, data[used:]
            if not chunk:
                return None


def _looks_like_utf8(path: Path, offset: int) -> bool:
    """True if the valid UTF-8 before ``offset`` already holds Japanese-range text (U+0800 and up).

    Japanese Windows-31J text is almost never valid UTF-8 for four such characters in a row, while
    Windows-31J would read a damaged UTF-8 file as silent mojibake; so such a file is refused.
    """
    with open(path, "rb") as f:
        text = f.read(offset).decode("utf-8", "replace")
    return len(re.findall(r"[\u0800-\U0010ffff]", text[:1_000_000])) >= 4


def detect_encoding(path: Path) -> str:
    """ "utf-8-sig" / "utf-8" when the whole file is strict UTF-8, else "cp932". Never shift_jis."""
    with open(path, "rb") as f:
        bom = f.read(3) == codecs.BOM_UTF8
    bad = _utf8_failure(path)
    if bad is None:
        return "utf-8-sig" if bom else "utf-8"
    if bom or _looks_like_utf8(path, bad):
        line, col, byte = _position(path, bad)
        raise RecordImportError(
            line,
            f"byte {col} (0x{byte:02X}) is not valid UTF-8, though the lines before "
            f"it are UTF-8; fix or remove it, or save the file again as UTF-8",
        )
    return "cp932"


def _cp932_failure(path: Path) -> RecordImportError:
    """The first line holding bytes that are not Windows-31J (the file is not UTF-8 either)."""
    with open(path, "rb") as f:
        for n, raw in enumerate(f, 1):
            try:
                raw.decode("cp932")
            except UnicodeDecodeError as e:
                return RecordImportError(
                    n,
                    f"byte {e.start + 1} (0x{raw[e.start]:02X}) is neither UTF-8 nor "
                    f"Windows-31J (cp932); save the file as UTF-8 or Windows-31J (CSV)",
                )
    return RecordImportError(None, "the file is neither UTF-8 nor Windows-31J (cp932)")


def match_header(cells: Sequence[str], database: Database) -> list[FieldDef]:
    """The fields named by the header cells (label or id, surrounding spaces ignored), in file order."""
    known = ", ".join(f.label for f in database.fields)
    out: list[FieldDef] = []
    for i, cell in enumerate(cells, 1):
        name = cell.strip()
        if not name:
            raise RecordImportError(
                1, f"column {i} of the header has no name; the header must name each column: {known}"
            )
        f = database.field(name)
        if f is None:
            raise RecordImportError(1, f"unknown column {name!r}; the columns of {database.name} are: {known}")
        if f in out:
            raise RecordImportError(1, f"column {name!r} appears twice in the header")
        out.append(f)
    return out


def _open(path: Path, codec: str):
    return open(path, encoding=codec, errors="strict", newline="")


def _reader(f):
    """strict: a broken quote is an error, never a silently changed cell."""
    return csv.reader(f, strict=True)


def _diagnose(path: Path, codec: str, width: int, cause: Exception) -> RecordImportError:
    """Read the file again row by row to say which line is wrong and why."""
    if isinstance(cause, UnicodeDecodeError):
        return _cp932_failure(path)
    with _open(path, codec) as f:
        reader = _reader(f)
        prev = 0
        try:
            for row in reader:
                start, prev = prev + 1, reader.line_num
                if start == 1 or not row:
                    continue
                if len(row) != width:
                    span = "" if start == prev else f" (the row runs on to line {prev}: is a quote left open?)"
                    return RecordImportError(
                        start, f"{len(row)} cells but the header has {width}{span}; quote cells that hold a comma"
                    )
        except csv.Error as e:
            if "end of data" in str(e):
                return RecordImportError(
                    prev + 1, 'a quoted cell in the record starting on this line is never closed (a " is missing)'
                )
            if "expected after" in str(e):
                return RecordImportError(
                    reader.line_num, 'text follows a closing quote; inside a quoted cell write a quote as ""'
                )
            return RecordImportError(reader.line_num, f"{e} (is a quote left open?)")
    return RecordImportError(None, f"the records could not be stored: {cause}")


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:  # SQLite may already have rolled back (disk full, I/O error)
        conn.execute("ROLLBACK")


def import_file(
    conn: sqlite3.Connection,
    table: str,
    column_of: Callable[[str], str],
    path: Path,
    database: Database,
    *,
    replace: bool = False,
    on_progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    batch: int | None = None,
) -> ImportResult:
    """Load ``path`` into ``table`` in one transaction; any error rolls everything back.

    ``conn`` must be in autocommit mode (``isolation_level=None``) and used by no one else meanwhile.
    ``cancel`` is looked at before every batch: once set, ImportCancelled is raised and nothing is stored.
    ``batch``: rows per executemany; csv.reader parses a batch in C without letting other threads run, so a
    thread beside an event loop (the TUI) passes a smaller one (5,000 rows: ~10 ms at a time, as fast).
    None means ``BATCH``, read at call time.
    """
    try:
        return _load(conn, table, column_of, Path(path), database, replace, on_progress, cancel, batch or BATCH)
    except RecordImportError as e:
        e.file = str(path)
        raise


def _load(
    conn: sqlite3.Connection,
    table: str,
    column_of: Callable[[str], str],
    path: Path,
    database: Database,
    replace: bool,
    on_progress: ProgressFn | None,
    cancel: threading.Event | None = None,
    batch_rows: int = BATCH,
) -> ImportResult:
    t0 = time.perf_counter()
    try:
        size = os.path.getsize(path)
        codec = detect_encoding(path)
        f = _open(path, codec)
    except OSError as e:
        raise RecordImportError(None, f"cannot read the file: {e.strerror or e}") from None
    with f:
        reader = _reader(f)
        try:
            header = next(reader, None)
        except (UnicodeDecodeError, csv.Error) as e:
            raise _diagnose(path, codec, 0, e) from None
        if not header:
            raise RecordImportError(1, "the file is empty; the first line must be the header (column labels)")
        fields = match_header(header, database)
        cols = ", ".join(column_of(fd.id) for fd in fields)
        sql = f"INSERT INTO {table} ({cols}) VALUES ({', '.join('?' * len(fields))})"
        rows = filter(None, reader)  # blank lines are skipped (in C, no Python code per row)
        done = 0
        conn.execute("BEGIN IMMEDIATE")
        try:
            if replace:
                conn.execute(f"DELETE FROM {table}")
            while batch := list(islice(rows, batch_rows)):
                if cancel is not None and cancel.is_set():
                    raise ImportCancelled(f"cancelled after {done:,} rows; nothing was imported")
                conn.executemany(sql, batch)
                done += len(batch)
                if on_progress:
                    on_progress(done, f.buffer.tell(), size)
            if cancel is not None and cancel.is_set():
                raise ImportCancelled(f"cancelled after {done:,} rows; nothing was imported")
            conn.execute("COMMIT")
        except (UnicodeDecodeError, csv.Error, sqlite3.ProgrammingError) as e:
            _rollback(conn)
            raise _diagnose(path, codec, len(fields), e) from None
        except sqlite3.Error as e:
            _rollback(conn)
            raise RecordImportError(None, f"the record database could not be written: {e}") from None
        except BaseException:
            _rollback(conn)
            raise
    ids = [fd.id for fd in fields]
    return ImportResult(
        done,
        LABELS[codec],
        codec,
        ids,
        [fd.id for fd in database.fields if fd.id not in ids],
        replace,
        time.perf_counter() - t0,
    )
