"""What pre-flight will say about one cell, said while it is typed (the record editor's live notes).

The same rules and sentences as the pre-flight findings (``charset.py``, ``cells.py``), for a single
value: characters Windows-31J does not have (named with their U+ code), characters it sends as a
different one, control characters, and text a spreadsheet would run as a formula. A note never stops a
save: the value is data; pre-flight decides what may be sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from haihai_tui.core.checks.cells import CONTROL_RE, control_name, looks_like_formula
from haihai_tui.core.checks.charset import changed_message, roundtrip_changes, unencodable_chars, unencodable_message

__all__ = ["CellNote", "cell_notes"]


@dataclass(frozen=True)
class CellNote:
    severity: Literal["error", "warning"]  # what pre-flight of a Windows-31J integration would call it
    message: str
    codepoint: str | None = None  # "U+1F370"


def cell_notes(value: str, enc: str = "cp932") -> list[CellNote]:
    """Notes on ``value`` as a cell sent in ``enc`` (a Python codec; Windows-31J by default), in order."""
    notes: list[CellNote] = []
    if not value:
        return notes
    if not value.isascii():
        for ch, n in unencodable_chars(value, enc):
            notes.append(CellNote("error", unencodable_message(ch, n, enc), f"U+{ord(ch):04X}"))
        changes = roundtrip_changes(enc)
        seen: dict[str, int] = {}
        for ch in value:
            if ch in changes:
                seen[ch] = seen.get(ch, 0) + 1
        for ch, n in seen.items():
            notes.append(CellNote("warning", changed_message(ch, changes[ch], n, enc), f"U+{ord(ch):04X}"))
    bad = CONTROL_RE.search(value)
    if bad:
        notes.append(
            CellNote(
                "error",
                f"control character {control_name(bad.group())} in the value; HaiHai refuses it: delete it",
                f"U+{ord(bad.group()):04X}",
            )
        )
    if looks_like_formula(value):
        notes.append(
            CellNote(
                "warning",
                "starts like a spreadsheet formula; it is sent as it is, but Excel would run it when "
                "someone opens an export",
            )
        )
    return notes
