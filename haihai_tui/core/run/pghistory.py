"""The run history in the shared PostgreSQL state: the API of the SQLite :class:`History`, for a team on several hosts.

Each run carries the name of the machine that ran it. Starting a run counts the day's requests to its HaiHai
host and inserts the run in one transaction that holds the host's ``haihai_quota`` row ``FOR UPDATE``: runs
starting at once on any host are counted one after the other, so together they never pass the daily quota.

HaiHai's answer is journalled in the LOCAL data folder first (history-journal.jsonl, as with SQLite): when
the database is gone after an upload was accepted, the outcome stays there and is written to PostgreSQL at
the next start (``replay_journal``), matched by run id and start time, never sent again.
"""

from __future__ import annotations

import socket
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from haihai_tui.core.events import Outcome
from haihai_tui.core.procs import boot_id
from haihai_tui.core.run.history import (
    INTERRUPTED_MESSAGE,
    RECORD_COLUMNS,
    History,
    HistoryError,
    QuotaExceeded,
    RunRecord,
    _from_row,
    _pid_is_ours,
    _to_sql,
    finish_values,
    now_iso,
    quota_day,
    start_values,
)
from haihai_tui.core.run.journal import Entries
from haihai_tui.core.run.pglock import LOCK_HELD
from haihai_tui.core.run.pgstate import PgState

_COLS = ", ".join(f'"{c}"' for c in RECORD_COLUMNS)
_LIST_COLS = ", ".join(f'"{c}"' for c in RECORD_COLUMNS if c != "result_csv")


class PgHistory(History):
    """History whose runs live in PostgreSQL; the journal stays a local file."""

    def __init__(self, state: PgState, journal: Path, local: Path | None = None) -> None:
        self.state = state
        #: this host's SQLite history from before [state] was set: journal entries of its runs go there
        #: (for ``state migrate``), not away
        self.local = local
        self.path = state.where  # type: ignore[assignment]  # named in messages where the SQLite file would be
        self.journal = Path(journal)
        with self.state.connect():  # reachable, schema created or upgraded (or a newer one refused)
            pass
        self._replay_quietly()

    def _connect(self):  # type: ignore[override]
        return self.state.connect()

    # -- writing -------------------------------------------------------------------------------

    def start(self, rec: RunRecord, *, daily_quota: int | None = None, now: datetime | None = None) -> int:
        values = start_values(rec)
        names = list(values)
        sql = (
            f"INSERT INTO haihai_runs ({', '.join(f'{chr(34)}{n}{chr(34)}' for n in names)}) "
            f"VALUES ({', '.join(['%s'] * len(names))}) RETURNING run_id"
        )
        with self._connect() as db, db.transaction():
            if daily_quota is not None and not rec.dry_run:
                db.execute("INSERT INTO haihai_quota (host) VALUES (%s) ON CONFLICT DO NOTHING", (rec.host,))
                db.execute("SELECT host FROM haihai_quota WHERE host = %s FOR UPDATE", (rec.host,))
                used = _used(db, rec.host, now)
                if used + rec.requests > daily_quota:
                    raise QuotaExceeded(rec.host, used, daily_quota, rec.requests)
            rec.run_id = int(db.execute(sql, [values[n] for n in names]).fetchone()["run_id"])
        return rec.run_id

    def finish(self, run_id: int, **changes: Any) -> RunRecord:
        values = finish_values(changes)
        sql = f"UPDATE haihai_runs SET {', '.join(f'{chr(34)}{n}{chr(34)} = %s' for n in values)} WHERE run_id = %s"
        with self._connect() as db:
            if db.execute(sql, [*values.values(), run_id]).rowcount == 0:
                raise HistoryError(f"{self.path}: there is no run #{run_id}")
        rec = self.get(run_id)
        assert rec is not None
        return rec

    def mark_interrupted(self) -> int:
        """RUNNING runs whose process is gone become UNKNOWN: this machine's by their pid; another machine's when
        nobody holds its integration's run lock (the server let it go with the dead process's connection)."""
        self._replay_quietly()
        me, boot = socket.gethostname(), boot_id()
        with self._connect() as db, db.transaction():
            gone = []
            for r in db.execute(
                f"SELECT run_id, pid, proc_start, boot_id, machine, ({LOCK_HELD}) AS locked FROM haihai_runs "
                "WHERE outcome = %s FOR UPDATE",
                (Outcome.RUNNING.value,),
            ).fetchall():
                run_boot, pid = r["boot_id"], r["pid"]
                if r["machine"] != me:
                    dead = not r["locked"]
                else:
                    stale = run_boot and boot and run_boot != boot
                    dead = stale or pid is None or not _pid_is_ours(pid, r["proc_start"] or "")
                if dead:
                    gone.append(r["run_id"])
            for run_id in gone:
                db.execute(
                    "UPDATE haihai_runs SET outcome = %s, message = %s, ended_at = COALESCE(ended_at, %s) "
                    "WHERE run_id = %s",
                    (Outcome.UNKNOWN.value, INTERRUPTED_MESSAGE, now_iso(), run_id),
                )
        return len(gone)

    def _apply_journal(self, merged: Entries) -> int:
        changed = 0
        stale: Entries = {}
        with self._connect() as db, db.transaction():
            for (run_id, started_at), fields_ in merged.items():
                if not fields_:
                    continue
                values = {k: _to_sql(k, v) for k, v in fields_.items()}
                names = list(values)
                row = db.execute(
                    f"SELECT {', '.join(f'{chr(34)}{n}{chr(34)}' for n in names)} FROM haihai_runs "
                    "WHERE run_id = %s AND started_at = %s",
                    (run_id, started_at),
                ).fetchone()
                if row is None:
                    stale[(run_id, started_at)] = fields_
                    continue
                if [row[n] for n in names] == [values[n] for n in names]:
                    continue
                sets = ", ".join(f'"{n}" = %s' for n in names)
                db.execute(f"UPDATE haihai_runs SET {sets} WHERE run_id = %s", [*values.values(), run_id])
                changed += 1
        if stale and self.local is not None and self.local.is_file():
            # a run of the local history file (written before the shared state was set): kept there
            History(self.local, self.journal.with_name(".unused-journal"))._apply_journal(stale)
        return changed

    # -- reading -------------------------------------------------------------------------------

    def get(self, run_id: int) -> RunRecord | None:
        with self._connect() as db:
            row = db.execute(f"SELECT run_id, {_COLS} FROM haihai_runs WHERE run_id = %s", (run_id,)).fetchone()
        return _from_row(_bytes(row)) if row else None

    def list(self, limit: int = 200, offset: int = 0) -> list[RunRecord]:
        with self._connect() as db:
            rows = db.execute(
                f"SELECT run_id, {_LIST_COLS}, octet_length(result_csv) AS result_size FROM haihai_runs "
                "ORDER BY started_epoch DESC, run_id DESC LIMIT %s OFFSET %s",
                (limit, offset),
            ).fetchall()
        return [_from_row(_Row(r)) for r in rows]

    def latest(self, integration: str) -> RunRecord | None:
        with self._connect() as db:
            row = db.execute(
                f"SELECT run_id, {_LIST_COLS}, octet_length(result_csv) AS result_size FROM haihai_runs "
                "WHERE integration = %s ORDER BY started_epoch DESC, run_id DESC LIMIT 1",
                (integration,),
            ).fetchone()
        return _from_row(_Row(row)) if row else None

    def count(self) -> int:
        with self._connect() as db:
            return int(db.execute("SELECT COUNT(*) AS n FROM haihai_runs").fetchone()["n"])

    def used_today(self, host: str, now: datetime | None = None) -> int:
        with self._connect() as db:
            return _used(db, host, now)


def _used(db: psycopg.Connection, host: str, now: datetime | None) -> int:
    row = db.execute(
        "SELECT COALESCE(SUM(requests), 0) AS used FROM haihai_runs WHERE host = %s AND dry_run = 0 "
        "AND started_epoch >= %s AND started_epoch < %s",
        (host, *quota_day(now)),
    ).fetchone()
    return int(row["used"])


class _Row(dict):
    """A dict row read like sqlite3.Row by ``_from_row``."""


def _bytes(row: dict) -> _Row:
    out = _Row(row)
    if isinstance(out.get("result_csv"), memoryview):
        out["result_csv"] = bytes(out["result_csv"])
    return out
