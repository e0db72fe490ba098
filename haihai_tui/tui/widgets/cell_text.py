"""Table cell text by display width: column sizing and one table line.

Cleaning and fitting are the core's (``haihai_tui.core.text``: ``one_line`` shows control characters
visibly as escapes, ``cell_width`` / ``fit_cells`` measure with ``rich.cells``), so the command line
and the TUI agree on what a value looks like and how wide it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from haihai_tui.core.text import cell_width, fit_cells, one_line

GAP = 2  # cells between columns
MAX_COL = 36  # widest a column gets from sampled content


@dataclass
class Column:
    id: str
    label: str
    width: int


def label_column(cid: str, label: str) -> Column:
    """A column as wide as its label (plus room for a sort mark), at least 4 cells; the label made safe."""
    label = one_line(label)
    return Column(cid, label, max(cell_width(label) + 1, 4))


def clean(value: Any) -> str:
    """A cell value as one terminal-safe line (``core.text.one_line``; None is empty)."""
    return "" if value is None else one_line(value)


def widen_to_sample(columns: Sequence[Column], sample: list[tuple[str, ...]]) -> None:
    """Widen each column to the widest sampled cell (capped at ``MAX_COL``); never narrows."""
    for i, col in enumerate(columns):
        widest = max((cell_width(r[i]) for r in sample if i < len(r)), default=0)
        col.width = max(col.width, min(widest, MAX_COL))


def line_width(columns: Sequence[Column]) -> int:
    """Cells of one table line: the columns and the gaps between them."""
    return sum(c.width for c in columns) + GAP * max(len(columns) - 1, 0)


def join_cells(values: Sequence[str], columns: Sequence[Column]) -> str:
    """One table line: each value fitted to its column, joined by ``GAP`` spaces."""
    return (" " * GAP).join(fit_cells(values[i] if i < len(values) else "", c.width) for i, c in enumerate(columns))
