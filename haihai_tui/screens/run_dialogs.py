"""The dialogs of a run started from the record list: pre-flight (with progress), the findings,
the confirm dialog (memo, summary, split, quota, dry run, typed name for dangerous runs) and the
dry-run preview. Keyboard only; each dialog writes its keys in plain words.

Re-exports: the dialogs live in ``run_preflight`` (pre-flight, findings) and ``run_confirm``
(confirm, preview); what their findings mean is in ``run_checks``.
"""

from __future__ import annotations

from .run_checks import SPLIT_CODES, hard_errors, last_run_caution, needs_split, split_estimate
from .run_confirm import ConfirmChoice, ConfirmRunScreen, PreviewScreen
from .run_preflight import MAX_LISTED, FindingsScreen, PreflightResult, PreflightScreen

__all__ = ["MAX_LISTED", "SPLIT_CODES", "ConfirmChoice", "ConfirmRunScreen", "FindingsScreen", "PreflightResult",
           "PreflightScreen", "PreviewScreen", "hard_errors", "last_run_caution", "needs_split", "split_estimate"]
