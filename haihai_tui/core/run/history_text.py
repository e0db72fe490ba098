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


MODE_WORDS = {"full": "全件 full", "changes": "差分 changes", "mirror": "同期 mirror", "retry": "再送 retry"}


def sync_words(sync: dict | None) -> str:
    """A run's sync mode and counts in words (``RunRecord.sync``), '' for a run before sync modes."""
    if not sync:
        return ""
    mode = str(sync.get("mode", ""))

    def n(key: str) -> str:
        v = sync.get(key)
        return f"{v:,}" if isinstance(v, int) else "0"

    if mode == "removal":
        return f"mirror removal of run #{sync.get('removal_of')}: {n('removed')} removed"
    if mode == "retry":
        text = f"{MODE_WORDS['retry']} of run #{sync.get('retry_of')}: {n('retried')} retried"
        return text + (f", {n('missing')} no longer in the database (skipped)" if sync.get("missing") else "")
    text = (
        f"{MODE_WORDS.get(mode, mode)}: {n('new')} new, {n('changed')} changed, {n('retried')} retried, "
        f"{n('unchanged')} unchanged" + (" (not sent)" if mode != "full" else "")
    )
    if mode == "mirror":
        text += f", {n('removed')} removed"
        if sync.get("removal_run"):
            text += f" (run #{sync['removal_run']})"
    if sync.get("since_run"):
        text += f"; compared with run #{sync['since_run']}"
    return text


def sync_cell(sync: dict | None) -> str:
    """The history table's short sync column: mode and what was sent (+new ~changed !retried -removed)."""
    if not sync:
        return "-"
    mode = str(sync.get("mode", ""))
    if mode == "removal":
        return f"remove -{sync.get('removed', 0)}"
    if mode == "retry":
        return f"retry !{sync.get('retried', 0)}"
    parts = [f"+{sync.get('new', 0)}", f"~{sync.get('changed', 0)}", f"!{sync.get('retried', 0)}"]
    if mode == "mirror":
        parts.append(f"-{sync.get('removed', 0)}")
    return f"{mode} " + " ".join(parts)


def format_table(recs: list[RunRecord], width: int = 100) -> str:
    """A plain-text table aligned by display cells (rich.cells, as the TUI draws); every outside value
    (names, memos) goes through ``one_line``, so no control character reaches the terminal."""
    with_sync = any(r.sync for r in recs)  # the column appears once a run used a sync mode
    heads = ["#", "time", "who", "integration", "memo", "rows", "state", "HTTP"] + (["sync"] if with_sync else [])
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
        + ([sync_cell(r.sync)] if with_sync else [])
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
