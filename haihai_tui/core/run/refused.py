"""Why a run does not start: one exception both front ends catch (prepare.py re-exports it)."""

from __future__ import annotations


class RunRefused(Exception):
    """The run cannot start; the message says why and what to do."""


class RunBusy(RunRefused):
    """Another process runs this integration (the lock of core/run/lock.py); the message says who, since when."""
