"""``haihai-tui state migrate``: copy this host's SQLite run history into the shared PostgreSQL state.

Each copied run remembers where it came from (``origin`` = machine, run id and start time in the SQLite file),
so copying again adds nothing: runs already there are counted and left alone. The copy is one transaction
(all or nothing). Run ids are new in the shared history; the run numbers a run's sync details name (the run it
was compared with, retried or removed for) are turned into the new numbers where that run was copied too.
"""

from __future__ import annotations

import json
import socket
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from haihai_tui.core.run.history import History
from haihai_tui.core.run.pgstate import PgState

#: run numbers inside a run's ``sync`` details
_RUN_REFS = ("since_run", "removal_run", "removal_of", "retry_of")
_COLUMNS = [
    "started_at", "started_epoch", "ended_at", "executor", "integration", "menu", "conditions", "memo", "rows",
    "bytes", "requests", "host", "url", "http_status", "outcome", "code", "message", "import_ids", "counts",
    "params", "response_excerpt", "dry_run", "result_csv", "sync", "pid", "proc_start", "boot_id", "machine",
]  # fmt: skip


@dataclass
class Migrated:
    copied: int
    already: int
    source: Path

    def describe(self, where: str) -> str:
        if not self.copied and not self.already:
            return f"{self.source}: no runs to copy"
        return (
            f"copied {self.copied:,} run(s) from {self.source} into {where}; "
            f"{self.already:,} were there already (copied before)"
        )


def migrate_history(source: History, state: PgState) -> Migrated:
    """Copy every run of the SQLite ``source`` into ``state`` (idempotent, one transaction)."""
    me = socket.gethostname()
    with closing(sqlite3.connect(source.path)) as lite:
        lite.row_factory = sqlite3.Row
        have = {r[1] for r in lite.execute("PRAGMA table_info(runs)")}
        cols = [c for c in _COLUMNS if c in have]
        rows = lite.execute(f"SELECT run_id, {', '.join(cols)} FROM runs ORDER BY run_id").fetchall()
    copied = already = 0
    new_ids: dict[int, int] = {}
    with state.connect() as db, db.transaction():
        for row in rows:
            values = {c: row[c] for c in cols}
            values["machine"] = values.get("machine") or me
            origin = f"sqlite:{values['machine']}:{row['run_id']}:{values['started_at']}"
            names = [*values, "origin"]
            got = db.execute(
                f"INSERT INTO haihai_runs ({', '.join(f'{chr(34)}{n}{chr(34)}' for n in names)}) "
                f"VALUES ({', '.join(['%s'] * len(names))}) ON CONFLICT (origin) DO NOTHING RETURNING run_id",
                [*values.values(), origin],
            ).fetchone()
            if got is None:
                already += 1
                continue
            copied += 1
            new_ids[row["run_id"]] = got["run_id"]
        for new in new_ids.values():
            row = db.execute("SELECT sync FROM haihai_runs WHERE run_id = %s", (new,)).fetchone()
            sync = _renumbered(row["sync"], new_ids)
            if sync is not None:
                db.execute("UPDATE haihai_runs SET sync = %s WHERE run_id = %s", (sync, new))
    return Migrated(copied, already, Path(source.path))


def _renumbered(raw: str | None, new_ids: dict[int, int]) -> str | None:
    """The sync details with their run numbers turned into the copied runs' numbers; None when none changed."""
    if not raw:
        return None
    try:
        sync = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(sync, dict):
        return None
    changed = False
    for key in _RUN_REFS:
        old = sync.get(key)
        if isinstance(old, int) and old in new_ids:
            sync[key], changed = new_ids[old], True
    return json.dumps(sync, ensure_ascii=False) if changed else None

