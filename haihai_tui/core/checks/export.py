"""Rows -> a CSV file for people (the record list's export, CSV出力): the menu's columns, UTF-8 or Windows-31J,
a header row or not.

Never a half file: the rows go to a temp file in the destination's own folder, which is renamed over the
destination only when every row is written (``os.replace``, atomic on one file system); a cancel, an error or
a stop removes the temp file and leaves the destination as it was. Nothing is ever replaced: a character the
encoding lacks stops the export with findings (row, column, U+ code) exactly as pre-flight reports them
(``findings.Findings``, ``charset``); the pass goes on to the end so that every such row is listed, but writes
nothing more. A character Windows-31J carries as another one ('〜' -> '～') is a warning: the file is written.
Rows are encoded a chunk at a time (``csvbuild.CHUNK``, one ``str.encode`` per chunk); only a chunk that fails
is looked at row by row. Control characters and formula-like cells are data in a file and not reported here.
"""

from __future__ import annotations

import csv
import itertools
import os
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from haihai_tui.core.checks.charset import changed_message, unencodable_chars
from haihai_tui.core.checks.csvbuild import CHUNK
from haihai_tui.core.checks.findings import Finding, Findings, cell_text
from haihai_tui.core.encodings import ENCODING_NAMES, normalize_encoding

__all__ = ["ExportCancelled", "ExportError", "ExportResult", "export_csv"]


class ExportError(Exception):
    """The file cannot be written where asked (no such folder, a folder, no permission, disk full)."""


class ExportCancelled(Exception):
    """The export was cancelled; the temp file is removed and the destination untouched."""


@dataclass
class ExportResult:
    path: Path | None  # the file written; None when the export stopped on findings
    rows: int  # data rows looked at (all of them, also when stopped)
    bytes: int  # bytes of the file written (0 when stopped)
    encoding: str  # "cp932" | "utf-8"
    findings: list[Finding]  # errors first; capped at max_findings plus one "... and N more"
    error_count: int = 0
    warning_count: int = 0

    @property
    def written(self) -> bool:
        return self.path is not None

    @property
    def encoding_name(self) -> str:
        return ENCODING_NAMES.get(self.encoding, self.encoding)


class _Stopped:
    """The on_error hook of Findings: the first error stops the writing (the scan goes on)."""

    def __init__(self) -> None:
        self.now = False

    def __call__(self) -> None:
        self.now = True


def _temp_beside(dest: Path) -> tuple[int, Path]:
    """A new private temp file in ``dest``'s folder (so that the rename is atomic), or ExportError."""
    folder = dest.parent
    if dest.is_dir():
        raise ExportError(f"{dest} is a folder; add a file name, e.g. {dest / 'export.csv'}")
    if not folder.is_dir():
        raise ExportError(f"the folder {folder} does not exist; create it first or choose another one")
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{dest.name[:100]}.", suffix=".part")
    except OSError as e:
        raise ExportError(f"cannot write in {folder}: {e.strerror or e}; choose a folder you may write to") from None
    return fd, Path(tmp)


def export_csv(
    rows: Iterable[Sequence[str]],
    labels: Sequence[str],
    dest: Path,
    *,
    encoding: str,
    header: bool = True,
    on_rows: Callable[[int], None] | None = None,
    cancel: threading.Event | None = None,
    max_findings: int = 1000,
) -> ExportResult:
    """Write ``rows`` (cells in ``labels`` order) to ``dest``; see the module docstring.

    Returns an ExportResult: ``written`` when the file is in place, else the findings that stopped it.
    Raises ExportError when the file cannot be written, ExportCancelled once ``cancel`` is set.
    """
    enc = normalize_encoding(encoding)
    dest = Path(dest).expanduser()
    stopped = _Stopped()
    checks = Findings(labels, enc, header, None, max_findings, stopped)
    buf: list[str] = []
    sink = type("_Out", (), {"write": buf.append})()
    writer = csv.writer(sink, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    fd, tmp = _temp_beside(dest)
    size = total = 0
    try:
        with os.fdopen(fd, "wb") as fh:
            if header:
                writer.writerow(list(labels))
                try:
                    fh.write(head := "".join(buf).encode(enc))
                    size += len(head)
                except UnicodeEncodeError:
                    for label in labels:
                        _unencodable(checks, None, label, label)
            it = iter(rows)
            while True:
                if cancel is not None and cancel.is_set():
                    raise ExportCancelled(f"cancelled after {total:,} rows; no file was written")
                chunk = list(itertools.islice(it, CHUNK))
                if not chunk:
                    break
                buf.clear()
                writer.writerows(chunk)
                text = "".join(buf)
                try:
                    data = text.encode(enc)
                except UnicodeEncodeError:
                    data = None
                    stopped()  # this chunk is not written, whatever follows
                    for i, line in enumerate(buf):
                        try:
                            line.encode(enc)
                        except UnicodeEncodeError:
                            for j, cell in enumerate(chunk[i]):
                                label = checks.labels[j] if j < len(checks.labels) else f"column {j + 1}"
                                _unencodable(checks, total + i + 1, cell_text(cell), label)
                if checks.changes_re is not None and checks.changes_re.search(text):
                    _changed(checks, chunk, total)
                if data is not None and not stopped.now:
                    fh.write(data)
                    size += len(data)
                total += len(chunk)
                if on_rows is not None:
                    on_rows(total)
            if not stopped.now:
                fh.flush()
                os.fsync(fh.fileno())
        if stopped.now:
            tmp.unlink(missing_ok=True)
            return ExportResult(None, total, 0, enc, checks.findings(), checks.n_err, checks.n_warn)
        _keep_mode(dest, tmp)
        os.replace(tmp, dest)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise ExportError(f"cannot write {dest}: {e.strerror or e}; nothing was written") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return ExportResult(dest, total, size, enc, checks.findings(), checks.n_err, checks.n_warn)


def _unencodable(checks: Findings, row: int | None, text: str, label: str) -> None:
    """An error per character of ``text`` the encoding lacks (control characters included: in a file
    they are data, but a C1 control has no Windows-31J code either)."""
    for ch, n in unencodable_chars(text, checks.enc):
        checks.unencodable(row, "in the header label", ch, n, label)


def _changed(checks: Findings, chunk: list, base: int) -> None:
    """Warnings for characters the encoding carries as another one, cell by cell in the rows that hold one."""
    search, changes = checks.changes_re.search, checks.changes
    for i, row in enumerate(chunk):
        for j, cell in enumerate(row):
            v = cell_text(cell)
            if search(v):
                label = checks.labels[j] if j < len(checks.labels) else f"column {j + 1}"
                for ch, n in Counter(c for c in v if c in changes).items():
                    checks.add(
                        "warning",
                        "changed_char",
                        changed_message(ch, changes[ch], n, checks.enc),
                        row=base + i + 1,
                        column=label,
                        char=ch,
                        codepoint=f"U+{ord(ch):04X}",
                    )


def _keep_mode(dest: Path, tmp: Path) -> None:
    """A file replaced keeps its permissions; a new one stays private (0600: it holds customer data)."""
    try:
        mode = dest.stat().st_mode & 0o777
    except FileNotFoundError:
        return
    os.chmod(tmp, mode)
