"""After an import failed: every line of the file that would fail, not only the first one, so that the whole
file can be fixed in one go (the import itself stops at its first error and stores nothing; importer.py).

Only read, never written: the encoding and header rules are the importer's own (``detect_encoding``,
``match_header``); each row is checked for its number of cells. A broken quote or a byte that is not in the
encoding ends the scan there (what follows it cannot be read as rows).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from haihai_tui.core.records.importer import RecordImportError, detect_encoding, match_header
from haihai_tui.core.settings.model import Database


@dataclass
class LineProblems:
    lines: list[str] = field(default_factory=list)  # "line N: what is wrong", in file order, at most ``limit``
    total: int = 0  # how many in all (the scan stops early only at a broken quote or byte)

    @property
    def more(self) -> int:
        return self.total - len(self.lines)


def line_problems(path: Path, database: Database, limit: int = 20) -> LineProblems:
    """Scan ``path`` as the import would read it and list the lines that would fail (see the module doc)."""
    out = LineProblems()

    def add(line: int | None, message: str) -> None:
        out.total += 1
        if len(out.lines) < limit:
            out.lines.append(f"line {line}: {message}" if line else message)

    try:
        codec = detect_encoding(path)
        f = open(path, encoding=codec, errors="strict", newline="")
    except RecordImportError as e:
        add(e.line, e.message)
        return out
    except OSError as e:
        add(None, f"cannot read the file: {e.strerror or e}")
        return out
    with f:
        reader = csv.reader(f, strict=True)
        prev = 0
        try:
            header = next(reader, None)
            if not header:
                add(1, "the file is empty; the first line must be the header (column labels)")
                return out
            match_header(header, database)
            width, prev = len(header), reader.line_num
            for row in reader:
                start, prev = prev + 1, reader.line_num
                if row and len(row) != width:
                    span = "" if start == prev else f" (the row runs on to line {prev}: is a quote left open?)"
                    add(start, f"{len(row)} cells but the header has {width}{span}; quote cells that hold a comma")
        except RecordImportError as e:
            add(e.line, e.message)
        except csv.Error as e:
            if "end of data" in str(e):
                add(prev + 1, 'a quoted cell in the record starting on this line is never closed (a " is missing)')
            else:
                add(reader.line_num, f'{e}; inside a quoted cell write a quote as ""')
        except UnicodeDecodeError:
            add(prev + 1, "a byte that is neither UTF-8 nor Windows-31J (cp932) is in or after this line")
    return out
