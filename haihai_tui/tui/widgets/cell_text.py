"""Table cell text by display width: one-line cleaning, fitting to a width, column sizing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from rich.cells import cell_len, get_character_cell_size

GAP = 2              # cells between columns
MAX_COL = 36         # widest a column gets from sampled content
MORE = ".."          # ASCII: '…' is ambiguous-width on Japanese terminals


@dataclass
class Column:
    id: str
    label: str
    width: int


def label_column(cid: str, label: str) -> Column:
    """A column as wide as its label (plus room for a sort mark), at least 4 cells."""
    return Column(cid, label, max(cell_len(label) + 1, 4))


def clean(value: Any) -> str:
    """A cell value as one line of text (control characters shown as spaces)."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else " " for c in text)


def fit_cells(text: str, width: int) -> str:
    """``text`` cut (ending in '..') or padded to exactly ``width`` cells; wide chars never split."""
    if width <= 0:
        return ""
    n = cell_len(text)
    if n <= width:
        return text + " " * (width - n)
    room = max(width - len(MORE), 0)
    out, used = [], 0
    for ch in text:
        w = get_character_cell_size(ch)
        if used + w > room:
            break
        out.append(ch)
        used += w
    tail = MORE[: width - used]
    return "".join(out) + tail + " " * (width - used - len(tail))


def widen_to_sample(columns: Sequence[Column], sample: list[tuple[str, ...]]) -> None:
    """Widen each column to the widest sampled cell (capped at ``MAX_COL``); never narrows."""
    for i, col in enumerate(columns):
        widest = max((cell_len(r[i]) for r in sample if i < len(r)), default=0)
        col.width = max(col.width, min(widest, MAX_COL))


def line_width(columns: Sequence[Column]) -> int:
    """Cells of one table line: the columns and the gaps between them."""
    return sum(c.width for c in columns) + GAP * max(len(columns) - 1, 0)


def join_cells(values: Sequence[str], columns: Sequence[Column]) -> str:
    """One table line: each value fitted to its column, joined by ``GAP`` spaces."""
    return (" " * GAP).join(fit_cells(values[i] if i < len(values) else "", c.width)
                            for i, c in enumerate(columns))
