"""The run journal (history-journal.jsonl): HaiHai's answer first, the database when it can.

As soon as HaiHai has answered a run, its outcome is appended here (one JSON line, fsync'd) before the
database is written. If the database is busy or gone, or the process dies, :func:`replay` (run at every
start) hands the entries to the history, which writes those it does not have yet; then the file is
emptied. Both take the same exclusive ``flock``, so no line appended during a replay is lost. The file
knows nothing of SQL: the history (SQLite or PostgreSQL) serialises the fields and applies the entries.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from haihai_tui.core.paths import ensure_private_dir

#: the journal's entries merged per run: (run id, start time) -> the fields to write
Entries = dict[tuple[int, str], dict[str, Any]]


class JournalUnreadable(Exception):
    """The journal exists but cannot be opened; the message names the file and the reason."""


def append(path: Path, run_id: int, started_at: str, fields: dict[str, Any]) -> None:
    """Append the outcome ``fields`` of run ``run_id`` to the journal at ``path`` (one JSON line, fsync'd).

    Raises OSError when the journal cannot be written."""
    line = json.dumps({"run_id": run_id, "started_at": started_at, "fields": fields}, ensure_ascii=False)
    ensure_private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # replay truncates under the same lock: no line is lost
        os.write(fd, (line + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def replay(path: Path, columns: Collection[str], apply: Callable[[Entries], int]) -> int:
    """Hand the journal's entries (fields outside ``columns`` dropped) to ``apply``, then empty it.

    Returns what ``apply`` returns (how many runs changed); 0 when there is no journal or it is empty.
    When ``apply`` raises, the journal keeps its entries for the next start. Raises
    :class:`JournalUnreadable` when the file is there but cannot be opened."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return 0
    except OSError as e:
        raise JournalUnreadable(f"{path}: cannot read the run journal: {e.strerror or e}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read()
        if not data:
            return 0
        merged: Entries = {}
        for raw in data.splitlines():
            try:
                entry = json.loads(raw)
                key = (int(entry["run_id"]), str(entry["started_at"]))
                fields_ = {k: v for k, v in dict(entry["fields"]).items() if k in columns}
            except (ValueError, KeyError, TypeError):
                continue  # a line torn by a crash mid-write: the run is then 結果不明, as before
            merged.setdefault(key, {}).update(fields_)
        changed = apply(merged)
        os.ftruncate(fd, 0)
        os.fsync(fd)
        return changed
    finally:
        os.close(fd)
