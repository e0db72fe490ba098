"""The run history (システム連携状況確認): one SQLite file shared by the TUI and cron runs.

Several processes may write at once, so every operation opens its own short-lived connection
(WAL journal, busy timeout, short ``BEGIN IMMEDIATE`` transactions). A run is inserted as RUNNING
before anything is sent, with the pid, process start time, boot id and machine name of the
process doing it, so :meth:`History.mark_interrupted` can tell a run whose process died from one
that is still going. Nothing in a record is a secret: the URL is stored without query string or
user info, and the import_settings carry no token by construction.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from haihai_tui.core.events import REPORT_PLACE, Outcome
from haihai_tui.core.paths import HISTORY_JOURNAL_FILE, ensure_private_dir
from haihai_tui.core.procs import boot_id, pid_alive, start_time
from haihai_tui.core.run import journal
from haihai_tui.core.text import one_line

SCHEMA_VERSION = 1
JST = timezone(timedelta(hours=9), "JST")
BUSY_TIMEOUT_S = 10.0
INTERRUPTED_MESSAGE = "the program stopped while this run was going; check HaiHai before re-sending"


class HistoryError(Exception):
    """The history file cannot be used; the message names the file and says what to do."""


class StateUnavailable(HistoryError):
    """The shared state cannot be reached or used; the message names the host and the reason."""


class HistoryBusy(HistoryError):
    """Another process held the history locked for longer than the busy timeout."""


class QuotaExceeded(HistoryError):
    """Starting this run would send more requests today than the daily quota allows."""

    def __init__(self, host: str, used: int, quota: int, needed: int) -> None:
        self.host, self.used, self.quota, self.needed = host, used, quota, needed
        super().__init__(
            f"the daily quota for {one_line(host)} is {quota:,} request(s) and {used:,} are sent or "
            f"reserved by runs since 00:00 JST; this run needs {needed:,}. Nothing was sent; "
            f"send it after 00:00 JST (or raise daily_quota in db.toml if HaiHai raised it)"
        )


@dataclass
class RunRecord:
    run_id: int | None
    started_at: str  # ISO 8601 with offset, local time
    ended_at: str | None
    executor: str  # login
    integration: str
    menu: str
    conditions: list[str]  # as typed; the free-text search as "search:..."
    memo: str
    rows: int
    bytes: int
    requests: int  # requests sent (a split run sends several)
    host: str  # URL host only
    url: str  # without query; never a token
    http_status: int | None
    outcome: Outcome
    code: str | None  # server or client code
    message: str
    import_ids: list[str]
    counts: dict[str, int] | None  # success / failure / other / stopped, when the server gave them
    params: dict[str, str]  # the import_settings sent
    response_excerpt: str
    dry_run: bool = False
    result_csv: bytes | None = field(default=None, repr=False)  # the server's row-level result file
    #: size of the stored result file; set by History even when ``list()`` leaves the bytes out
    result_csv_size: int | None = None
    #: the sync mode and its counts (core/run/sync.py SyncPlan.counts(): mode, new, changed, retried,
    #: unchanged, removed, since_run, and removal_run / removal_of for the two requests of a mirror run)
    sync: dict[str, Any] | None = None
    #: the name of the machine that ran it (with a shared state, several hosts write one history)
    machine: str = ""

    @property
    def has_result_csv(self) -> bool:
        return self.result_csv is not None or self.result_csv_size is not None


RECORD_COLUMNS = [f.name for f in fields(RunRecord) if f.name not in ("run_id", "result_csv_size")]
_JSON = {"conditions", "import_ids", "counts", "params", "sync"}
#: columns added after the first schema, with their SQL type (added in place; older readers ignore them)
_ADDED = {"sync": "TEXT"}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at TEXT NOT NULL, started_epoch REAL NOT NULL, ended_at TEXT,
    executor TEXT NOT NULL, integration TEXT NOT NULL, menu TEXT NOT NULL,
    conditions TEXT NOT NULL, memo TEXT NOT NULL,
    rows INTEGER NOT NULL, bytes INTEGER NOT NULL, requests INTEGER NOT NULL,
    host TEXT NOT NULL, url TEXT NOT NULL, http_status INTEGER,
    outcome TEXT NOT NULL, code TEXT, message TEXT NOT NULL,
    import_ids TEXT NOT NULL, counts TEXT, params TEXT NOT NULL, response_excerpt TEXT NOT NULL,
    dry_run INTEGER NOT NULL, result_csv BLOB,
    pid INTEGER, proc_start TEXT, boot_id TEXT, machine TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_start ON runs (started_epoch);
CREATE INDEX IF NOT EXISTS runs_by_outcome ON runs (outcome);
"""


def now_iso(now: datetime | None = None) -> str:
    """Local time with its offset, to the second: ``2026-11-29T23:32:01+09:00``."""
    return (now or datetime.now()).astimezone().isoformat(timespec="seconds")


def _epoch(iso: str) -> float:
    dt = datetime.fromisoformat(iso)
    return dt.astimezone().timestamp() if dt.tzinfo is None else dt.timestamp()


def clean_url(url: str) -> str:
    """scheme://host[:port]/path — no user info, query or fragment (where a token could hide)."""
    parts = urlsplit(url or "")
    if not parts.scheme and not parts.netloc:
        return parts.path
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return f"{parts.scheme}://{netloc}{parts.path}"


# -- process identity, for mark_interrupted ------------------------------------------------------


def _pid_is_ours(pid: int, proc_start: str) -> bool:
    """True while ``pid`` is alive and (where its start time is known) still the same process."""
    if not pid_alive(pid):
        return False
    return not proc_start or start_time(pid) in ("", proc_start)


# -- the store -----------------------------------------------------------------------------------


class History:
    def __init__(self, path: Path, journal: Path | None = None) -> None:
        self.path = Path(path)
        #: outcomes HaiHai gave that may not be in the database yet (see :meth:`journal_outcome`)
        self.journal = Path(journal) if journal is not None else self.path.with_name(HISTORY_JOURNAL_FILE)
        try:
            ensure_private_dir(self.path.parent)
            if not self.path.exists():
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
                os.chmod(self.path, 0o600)
        except OSError as e:
            raise HistoryError(f"{self.path}: cannot create the run history: {e.strerror or e}") from None
        with self._connect() as db:
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":  # e.g. a network file system: still works, just locks more
                db.execute("PRAGMA journal_mode=DELETE")
            db.execute("BEGIN IMMEDIATE")
            for statement in filter(str.strip, _SCHEMA.split(";")):
                db.execute(statement)
            have = {r[1] for r in db.execute("PRAGMA table_info(runs)")}
            for name, sql_type in _ADDED.items():
                if name not in have:
                    db.execute(f"ALTER TABLE runs ADD COLUMN {name} {sql_type}")
            row = db.execute("SELECT MAX(version) FROM schema_version").fetchone()
            if row[0] is None:
                db.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
            elif row[0] > SCHEMA_VERSION:
                db.execute("ROLLBACK")
                raise HistoryError(
                    f"{self.path}: written by a newer haihai-tui (history schema {row[0]}, this one "
                    f"knows {SCHEMA_VERSION}); upgrade haihai-tui or point --data-dir elsewhere"
                )
            db.execute("COMMIT")
        self._replay_quietly()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as e:
            raise HistoryError(f"{self.path}: cannot open the run history: {e}") from None
        try:
            db.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
            yield db
        except sqlite3.DatabaseError as e:
            if db.in_transaction:
                db.execute("ROLLBACK")
            text = str(e)
            if "not a database" in text or "malformed" in text:
                raise HistoryError(
                    f"{self.path}: not a readable run history ({text}); move the file "
                    f"away and a new, empty one is made on the next start"
                ) from None
            if "locked" in text or "busy" in text:
                raise HistoryBusy(
                    f"{self.path}: busy for over {BUSY_TIMEOUT_S:.0f} s (another haihai-tui is writing); try again"
                ) from None
            raise HistoryError(f"{self.path}: {text}") from None
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    # -- writing -------------------------------------------------------------------------------

    def start(self, rec: RunRecord, *, daily_quota: int | None = None, now: datetime | None = None) -> int:
        """Insert ``rec`` as RUNNING and return its run id (also set on ``rec``).

        With ``daily_quota``, counting today's requests and inserting this run (which reserves its
        ``requests``) are one ``BEGIN IMMEDIATE`` transaction: of several runs starting at once, only
        those that fit get a run id; the others get :class:`QuotaExceeded` and send nothing. Finishing a
        run with ``requests=0`` releases the reservation.
        """
        values = start_values(rec)
        names = list(values)
        sql = f"INSERT INTO runs ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            if daily_quota is not None and not rec.dry_run:
                used = self._used(db, rec.host, now)
                if used + rec.requests > daily_quota:
                    db.execute("ROLLBACK")
                    raise QuotaExceeded(rec.host, used, daily_quota, rec.requests)
            rec.run_id = int(db.execute(sql, [values[n] for n in names]).lastrowid)
            db.execute("COMMIT")
        return rec.run_id

    def finish(self, run_id: int, **changes: Any) -> RunRecord:
        """Update the named fields (ended_at = now unless given) and return the stored record."""
        values = finish_values(changes)
        sql = f"UPDATE runs SET {', '.join(f'{n} = ?' for n in values)} WHERE run_id = ?"
        with self._connect() as db:
            if db.execute(sql, [*values.values(), run_id]).rowcount == 0:
                raise HistoryError(f"{self.path}: there is no run #{run_id}")
        rec = self.get(run_id)
        assert rec is not None
        return rec

    def mark_interrupted(self) -> int:
        """Turn RUNNING runs whose process is gone into UNKNOWN; return how many.

        Journalled outcomes are replayed first, so a run whose answer came but whose process died
        before writing it here ends up as HaiHai answered, not as 結果不明."""
        self._replay_quietly()
        me, boot = socket.gethostname(), boot_id()
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            gone = []
            for run_id, pid, proc_start, run_boot, machine in db.execute(
                "SELECT run_id, pid, proc_start, boot_id, machine FROM runs WHERE outcome = ?", (Outcome.RUNNING.value,)
            ).fetchall():
                if machine and machine != me:
                    continue  # another machine's run (shared folder): we cannot see its processes
                if (run_boot and boot and run_boot != boot) or pid is None or not _pid_is_ours(pid, proc_start or ""):
                    gone.append(run_id)
            for run_id in gone:
                db.execute(
                    "UPDATE runs SET outcome = ?, message = ?, ended_at = COALESCE(ended_at, ?) WHERE run_id = ?",
                    (Outcome.UNKNOWN.value, INTERRUPTED_MESSAGE, now_iso(), run_id),
                )
            db.execute("COMMIT")
        return len(gone)

    # -- the journal: HaiHai's answer first, the database when it can -----------------------------

    def journal_outcome(self, run_id: int, started_at: str, changes: dict[str, Any]) -> None:
        """Append the outcome of run ``run_id`` to the journal (one JSON line, fsync'd; see core/run/journal.py).

        Called as soon as HaiHai has answered, before the database is written: if the database is
        busy or the process dies, :meth:`replay_journal` (run at every start) puts it in the history.
        ``changes`` are :meth:`finish` fields; the result file is left out (it stays in HaiHai).
        Raises OSError when the journal cannot be written."""
        fields_ = {
            k: (v if k in _JSON else _to_sql(k, v))
            for k, v in changes.items()
            if k in RECORD_COLUMNS and k != "result_csv"
        }
        journal.append(self.journal, run_id, started_at, fields_)

    def replay_journal(self) -> int:
        """Write journalled outcomes the database does not have yet; return how many runs changed.

        Idempotent: an entry already in the database changes nothing (matched by run id and start
        time, so a stale journal never touches a new history file's runs). When every entry is in,
        the journal is emptied. Raises HistoryBusy when the database stays locked."""
        try:
            return journal.replay(self.journal, RECORD_COLUMNS, self._apply_journal)
        except journal.JournalUnreadable as e:
            raise HistoryError(str(e)) from None

    def _apply_journal(self, merged: journal.Entries) -> int:
        """Write the journal's entries (by (run id, start time)) the database does not have; how many changed."""
        changed = 0
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            for (run_id, started_at), fields_ in merged.items():
                if not fields_:
                    continue
                values = {k: _to_sql(k, v) for k, v in fields_.items()}
                names = list(values)
                row = db.execute(
                    f"SELECT {', '.join(names)} FROM runs WHERE run_id = ? AND started_at = ?", (run_id, started_at)
                ).fetchone()
                if row is None or list(row) == [values[n] for n in names]:
                    continue  # another history file's run, or already written
                db.execute(
                    f"UPDATE runs SET {', '.join(f'{n} = ?' for n in names)} WHERE run_id = ?",
                    [*values.values(), run_id],
                )
                changed += 1
            db.execute("COMMIT")
        return changed

    def _replay_quietly(self) -> None:
        try:
            self.replay_journal()
        except HistoryError:
            pass  # busy, or the journal unreadable: it keeps its entries for the next start

    # -- reading -------------------------------------------------------------------------------

    def get(self, run_id: int) -> RunRecord | None:
        with self._connect() as db:
            db.row_factory = sqlite3.Row
            row = db.execute(
                f"SELECT run_id, {', '.join(RECORD_COLUMNS)} FROM runs WHERE run_id = ?", (run_id,)
            ).fetchone()
        return _from_row(row) if row else None

    def list(self, limit: int = 200, offset: int = 0) -> list[RunRecord]:
        """Newest first; the result files are left out (``result_csv_size`` says which have one)."""
        cols = [c for c in RECORD_COLUMNS if c != "result_csv"]
        with self._connect() as db:
            db.row_factory = sqlite3.Row
            rows = db.execute(
                f"SELECT run_id, {', '.join(cols)}, LENGTH(result_csv) AS result_size "
                f"FROM runs ORDER BY started_epoch DESC, run_id DESC LIMIT ? OFFSET ?",
                (limit, offset),
            ).fetchall()
        return [_from_row(r) for r in rows]

    def latest(self, integration: str) -> RunRecord | None:
        """The newest run of ``integration`` (without its result file), or None."""
        cols = [c for c in RECORD_COLUMNS if c != "result_csv"]
        with self._connect() as db:
            db.row_factory = sqlite3.Row
            row = db.execute(
                f"SELECT run_id, {', '.join(cols)}, LENGTH(result_csv) AS result_size FROM runs "
                f"WHERE integration = ? ORDER BY started_epoch DESC, run_id DESC LIMIT 1",
                (integration,),
            ).fetchone()
        return _from_row(row) if row else None

    def count(self) -> int:
        with self._connect() as db:
            return int(db.execute("SELECT COUNT(*) FROM runs").fetchone()[0])

    def used_today(self, host: str, now: datetime | None = None) -> int:
        """Import requests sent to ``host`` since 00:00 JST (the daily quota's day); dry runs excluded.
        Runs still going count with the requests they reserved."""
        with self._connect() as db:
            return self._used(db, host, now)

    @staticmethod
    def _used(db: sqlite3.Connection, host: str, now: datetime | None) -> int:
        (used,) = db.execute(
            "SELECT COALESCE(SUM(requests), 0) FROM runs WHERE host = ? AND dry_run = 0 "
            "AND started_epoch >= ? AND started_epoch < ?",
            (host, *quota_day(now)),
        ).fetchone()
        return int(used)


def start_values(rec: RunRecord) -> dict[str, Any]:
    """Make ``rec`` a RUNNING run of this process and machine; the column values to insert (SQLite and PostgreSQL)."""
    rec.outcome = Outcome.RUNNING
    rec.started_at = rec.started_at or now_iso()
    rec.url = clean_url(rec.url)
    rec.host = rec.host or (urlsplit(rec.url).hostname or "")
    rec.machine = socket.gethostname()
    values = {name: _to_sql(name, getattr(rec, name)) for name in RECORD_COLUMNS}
    values.update(
        started_epoch=_epoch(rec.started_at),
        pid=os.getpid(),
        proc_start=start_time(os.getpid()),
        boot_id=boot_id(),
    )
    return values


def finish_values(changes: dict[str, Any]) -> dict[str, Any]:
    """The column values :meth:`History.finish` writes for ``changes`` (ended_at = now unless given).

    Raises TypeError for a field that is not a record column."""
    unknown = sorted(set(changes) - set(RECORD_COLUMNS))
    if unknown:
        raise TypeError(f"History.finish: unknown field(s) {', '.join(unknown)}")
    changes.setdefault("ended_at", now_iso())
    if "url" in changes:
        changes["url"] = clean_url(changes["url"])
    values = {name: _to_sql(name, value) for name, value in changes.items()}
    if "started_at" in changes:
        values["started_epoch"] = _epoch(changes["started_at"])
    return values


def quota_day(now: datetime | None = None) -> tuple[float, float]:
    """The epoch bounds [start, end) of the daily quota's day (00:00 to 24:00 JST) that holds ``now``."""
    now = (now or datetime.now(UTC)).astimezone(JST)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return day.timestamp(), (day + timedelta(days=1)).timestamp()


def _to_sql(name: str, value: Any) -> Any:
    if name in _JSON:
        return None if value is None else json.dumps(value, ensure_ascii=False)
    if name == "outcome":
        return Outcome(value).value
    if name == "dry_run":
        return int(bool(value))
    if name in ("memo", "message", "response_excerpt", "host", "url") and value is None:
        return ""
    if name in ("rows", "bytes", "requests"):
        return int(value or 0)
    return value


def _from_row(row: sqlite3.Row) -> RunRecord:
    keys = row.keys()
    data: dict[str, Any] = {"run_id": row["run_id"]}
    for name in RECORD_COLUMNS:
        if name not in keys:
            continue
        value = row[name]
        if name in _JSON and value is not None:
            value = json.loads(value)
        data[name] = value
    data["outcome"] = Outcome(data["outcome"])
    data["dry_run"] = bool(data["dry_run"])
    data["machine"] = data.get("machine") or ""
    data.setdefault("result_csv", None)
    if "result_size" in keys:
        data["result_csv_size"] = row["result_size"]
    elif data["result_csv"] is not None:
        data["result_csv_size"] = len(data["result_csv"])
    return RunRecord(**data)


# -- output for the command line -----------------------------------------------------------------


def last_run_caution(history: History, integration: str) -> str:
    """A warning when ``integration``'s newest run ended 結果不明, else ''."""
    r = history.latest(integration)
    if r is None or r.outcome is not Outcome.UNKNOWN:
        return ""
    return (
        f"The last run of this integration (#{r.run_id}, {one_line(r.started_at[:16].replace('T', ' '))}) is "
        f"結果不明: make sure in HaiHai ({REPORT_PLACE}) that it was not imported before sending again."
    )
