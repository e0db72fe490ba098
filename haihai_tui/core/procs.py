"""Processes on this machine: is a pid alive, when did it start, which boot is this.

One answer for every place that asks (the run history's interrupted runs, the runs folder's stale files):
a process we may not signal (``PermissionError``) still exists.
"""

from __future__ import annotations

import os
from pathlib import Path


def pid_alive(pid: int) -> bool:
    """True while a process with this pid exists (another account's process counts as existing)."""
    if pid <= 0:
        return False  # 0 and negatives address process groups, never one process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists; it is just not ours to signal
        return True
    except OSError:
        return False
    return True


def start_time(pid: int) -> str:
    """The process start time in clock ticks since boot (Linux), '' where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rindex(")") + 2 :].split()[19]
    except (OSError, ValueError, IndexError):
        return ""


def boot_id() -> str:
    """This boot's id (Linux), '' where unknown: a pid from another boot is never the same process."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""
