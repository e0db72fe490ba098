"""The run history as text for the command line: an aligned table and JSON-ready records.

Widths are display cells (rich.cells, as the TUI draws); every outside value goes through ``one_line``.
"""

from __future__ import annotations

from typing import Any

from haihai_tui.core.run.history import RECORD_COLUMNS, RunRecord
from haihai_tui.core.text import cell_width, fit_cells, one_line


def to_json(rec: RunRecord) -> dict:
    """A JSON-ready dict (``haihai-tui history --json``); the result file is only flagged."""
    out: dict[str, Any] = {"run_id": rec.run_id}
    for name in RECORD_COLUMNS:
        if name != "result_csv":
            out[name] = getattr(rec, name)
    out["outcome"] = rec.outcome.value
    out["state"] = rec.outcome.label
    out["has_result_csv"] = rec.has_result_csv
    return out


def format_table(recs: list[RunRecord], width: int = 100) -> str:
    """A plain-text table aligned by display cells (rich.cells, as the TUI draws); every outside value
    (names, memos) goes through ``one_line``, so no control character reaches the terminal."""
    heads = ["#", "time", "who", "integration", "memo", "rows", "state", "HTTP"]
    cells = [
        [
            str(r.run_id or ""),
            one_line((r.started_at or "")[:16].replace("T", " ")),
            one_line(r.executor),
            one_line(r.integration),
            one_line(r.memo),
            f"{r.rows:,}",
            r.outcome.label + (" dry" if r.dry_run else ""),
            str(r.http_status) if r.http_status is not None else "-",
        ]
        for r in recs
    ]
    widths = [max([cell_width(h)] + [cell_width(row[i]) for row in cells]) for i, h in enumerate(heads)]
    widths[2] = min(widths[2], 12)
    gap = 2
    room = width - sum(w for i, w in enumerate(widths) if i not in (3, 4)) - gap * (len(heads) - 1)
    want_i, want_m = widths[3], widths[4]
    if want_i + want_m > room:
        half = max(room // 2, 4)
        widths[3] = max(min(want_i, max(half, room - want_m)), 4)
        widths[4] = max(room - widths[3], 4)
    right = {0, 5, 7}
    lines = []
    for row in [heads] + cells:
        parts = [fit_cells(c, widths[i], right=i in right) for i, c in enumerate(row)]
        lines.append((" " * gap).join(parts))
    if not recs:
        lines.append("(no runs yet)")
    return "\n".join(lines)
