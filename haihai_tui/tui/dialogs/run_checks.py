"""Shared by the run dialogs: what a prepared run's findings mean (blocking errors, split, last-run
caution) and the dialog frame CSS."""

from __future__ import annotations

import math

from haihai_tui.core.checks.findings import Finding
from haihai_tui.core.run.pipeline import Prepared

SPLIT_CODES = {"over_rows", "over_bytes"}   # findings a split solves

#: the frame of every run dialog: ``DIALOG_CSS.format(cls="MyScreen")``
DIALOG_CSS = """
{cls} {{ align: center middle; }}
{cls} > Vertical {{ width: 76; max-width: 100%; height: auto; max-height: 100%; border: round $accent;
                   background: $surface; padding: 0 1; }}
{cls} .dlg-title {{ text-style: bold; }}
{cls} .dlg-hint {{ color: $text-muted; }}
{cls} .dlg-warn {{ color: $warning; text-style: bold; }}
{cls} .dlg-err {{ color: $error; text-style: bold; }}
"""


def hard_errors(p: Prepared) -> list[Finding]:
    """Errors that block the run (the per-request limits alone can be solved by splitting)."""
    return [f for f in p.built.errors if f.code not in SPLIT_CODES]


def needs_split(p: Prepared) -> bool:
    return any(f.code in SPLIT_CODES for f in p.built.errors) and not p.split


def split_estimate(p: Prepared) -> int:
    lim = p.integration.limits
    size = sum(p.built.bytes_per_file)
    return max(math.ceil(p.rows / max(lim.max_rows, 1)), math.ceil(size / max(lim.max_bytes, 1)), 2)


def last_run_caution(ctx, integration: str) -> str:
    """A warning when this integration's latest run ended 結果不明 (blocking: call from a thread)."""
    from haihai_tui.core.events import Outcome
    from haihai_tui.core.run.history import History
    try:
        recent = [r for r in History(ctx.paths.history_db).list(limit=50) if r.integration == integration]
    except Exception:
        return ""
    if recent and recent[0].outcome is Outcome.UNKNOWN:
        r = recent[0]
        return (f"The last run of this integration (#{r.run_id}, {r.started_at[:16].replace('T', ' ')}) is "
                f"結果不明: make sure in HaiHai that it was not imported before sending again.")
    return ""
