"""Preparing a run: the rows of a menu under conditions -> pre-flight -> the exact CSV file(s), 0600.

``prepare()`` runs in a thread (the TUI) or plainly (the command line) and sends nothing; what it returns,
``Prepared``, answers every question the confirm step asks (errors, split, quota, the last run's caution).
``execute()`` in core/run/execute.py sends it. Together they are the one path both front ends take.
"""

from __future__ import annotations

import dataclasses
import math
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from haihai_tui.core.checks.csvbuild import BuiltCsv, build_csv
from haihai_tui.core.checks.csvlines import build_csv_from_lines
from haihai_tui.core.checks.findings import Finding
from haihai_tui.core.events import (
    EventSink,
    LogLine,
    RowsProgress,
    Stage,
    StageChanged,
    ignore,
)
from haihai_tui.core.paths import Paths, ensure_private_dir
from haihai_tui.core.procs import pid_alive
from haihai_tui.core.records.engines import RecordSourceError, open_records
from haihai_tui.core.records.query import Condition, Query
from haihai_tui.core.run.history import (
    last_run_caution,
)
from haihai_tui.core.run.lineplan import planned_lines
from haihai_tui.core.run.lock import RunLock, RunLocked
from haihai_tui.core.run.refused import RunBusy, RunRefused
from haihai_tui.core.run.state import acquire_run_lock, open_history
from haihai_tui.core.run.sync import (
    SYNC_MODES,
    SyncPlan,
    key_index,
    mode_problem,
    resolve_mode,
)
from haihai_tui.core.run.syncprep import removal_csv, sync_planner
from haihai_tui.core.settings import headers as hdr
from haihai_tui.core.settings.model import EMAIL_LABEL, Database, Integration, Menu, Settings
from haihai_tui.core.settings.params import describe_run, is_dangerous
from haihai_tui.core.settings.permissions import current_login
from haihai_tui.core.settings.validate import integration_problems

__all__ = [
    "COUNT_KEYS",
    "HISTORY_ATTEMPTS",
    "SPLIT_CODES",
    "Prepared",
    "RunBusy",
    "RunRefused",
    "Target",
    "prepare",
    "resolve_headers",
    "resolve_target",
    "sweep_stale",
]

COUNT_KEYS = ("success", "failure", "other", "stopped")  # 成功 失敗 その他 配信停止
SPLIT_CODES = frozenset({"over_rows", "over_bytes"})  # pre-flight findings that splitting the run solves
#: how often the outcome is offered to a busy history (each try waits up to history.BUSY_TIMEOUT_S)
HISTORY_ATTEMPTS = 3


@dataclass
class Target:
    """What to run: an integration attached to a record-list menu, on a search result."""

    menu: str
    integration: str
    conditions: tuple[Condition, ...] = ()
    search: str = ""
    sort_field: str | None = None
    descending: bool = False


@dataclass
class Prepared:
    """A run checked and built, waiting for the user's say. ``discard()`` when not sent."""

    target: Target
    menu: Menu
    integration: Integration
    database: Database
    query: Query
    built: BuiltCsv
    headers: dict[str, object]  # resolved; the token is a Secret
    summary: str
    dangerous: str | None
    quota_used_today: int
    split: bool
    condition_texts: list[str] = field(default_factory=list)
    #: a warning when this integration's newest run ended 結果不明 (read with the quota, at prepare time)
    last_run_caution: str = ""
    #: what a sync mode sends, keeps back and removes (core/run/sync.py); None on a menu without e-mail column
    sync: SyncPlan | None = None
    #: a mirror run's second request: removes ``sync.removals`` (import_type 1, same gid/spid); or None
    removal: Prepared | None = None
    #: this integration's run lock, held until ``discard()`` (the main part of a run only)
    lock: RunLock | None = field(default=None, repr=False)

    @property
    def rows(self) -> int:
        return self.built.total_rows

    @property
    def requests(self) -> int:
        return self.built.requests

    @property
    def total_requests(self) -> int:
        """The requests of the whole run, a mirror run's removal included."""
        return self.requests + (self.removal.requests if self.removal is not None else 0)

    @property
    def nothing_to_send(self) -> bool:
        """A changes/mirror run where nothing changed: no request is sent (a mirror may still remove)."""
        return self.sync is not None and self.sync.nothing_to_send

    @property
    def quota_left(self) -> int:
        return max(0, self.integration.limits.daily_quota - self.quota_used_today)

    @property
    def blocked(self) -> bool:
        return self.built.has_errors

    @property
    def hard_errors(self) -> list[Finding]:
        """Errors that block the run (the per-request limits alone are solved by splitting)."""
        return [f for f in self.built.errors if f.code not in SPLIT_CODES]

    @property
    def needs_split(self) -> bool:
        """Over a per-request limit, and not split yet."""
        return not self.split and any(f.code in SPLIT_CODES for f in self.built.errors)

    @property
    def split_estimate(self) -> int:
        """About how many requests a split run sends (at least 2)."""
        lim = self.integration.limits
        size = sum(self.built.bytes_per_file)
        return max(math.ceil(self.rows / max(lim.max_rows, 1)), math.ceil(size / max(lim.max_bytes, 1)), 2)

    @property
    def over_quota(self) -> bool:
        """More requests than are left of today's quota (as counted at prepare time)."""
        return self.total_requests > self.quota_left

    def request(self, index: int = 0):
        from haihai_tui.core.haihai.multipart import ImportRequest  # lazy for start-up speed: multipart loads httpx

        g = self.integration
        return ImportRequest(
            url=g.url,
            headers=self.headers,
            params=dict(g.params),
            json_name=g.json_name,
            csv_name=g.csv_name,
            csv_path=self.built.files[index],
            csv_encoding=g.python_encoding,
            timeouts=g.timeouts,
            ca_bundle=g.ca_bundle,
        )

    def preview(self) -> str:
        """The exact request(s), token masked — what --dry-run prints and the dry-run dialog shows."""
        if not self.built.files:
            if self.nothing_to_send and self.sync is not None:
                return f"(no request: {self.sync.nothing_changed()})"
            return "(no request: pre-flight found errors)"
        parts = [self.request(i).preview() for i in range(len(self.built.files))]
        if len(parts) == 1:
            return parts[0]
        return "\n\n".join(f"--- request {i + 1} of {len(parts)} ---\n{p}" for i, p in enumerate(parts))

    def discard(self) -> None:
        """Remove the built files and let the integration's lock go (again is fine)."""
        try:
            self.built.remove()
            if self.removal is not None:
                self.removal.discard()
        finally:
            if self.lock is not None:
                self.lock.release()


def resolve_target(settings: Settings, target: Target) -> tuple[Menu, Integration, Database]:
    menu = settings.menu(target.menu)
    if menu is None:
        raise RunRefused(f"no menu {target.menu!r}; menus: {', '.join(m.name for m in settings.menus) or '(none)'}")
    if target.integration not in menu.integrations:
        raise RunRefused(
            f"integration {target.integration!r} is not attached to menu {menu.name!r}; "
            f"attached: {', '.join(menu.integrations) or '(none)'} (メニュー設定)"
        )
    integ = settings.integration(target.integration)
    db = settings.database(menu.database)
    if integ is None or db is None:
        raise RunRefused(f"menu {menu.name!r} refers to a missing integration or database; run `haihai-tui check`")
    return menu, integ, db


def resolve_headers(settings: Settings, integ: Integration, environ: dict[str, str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for hv in hdr.resolve_all(integ, settings, environ):
        if hv.value is None:
            raise RunRefused(f"header {hv.name}: {hv.missing}")
        if hdr.is_token_header(hv.name) and hv.kind == "literal":
            raise RunRefused(
                "the API token is written in db.toml; move it to secrets.toml (`haihai-tui check` says how)"
            )
        out[hv.name] = hv.value
    if hdr.token_header(integ) is None:
        raise RunRefused("the integration has no X-HM-apitoken header (システム連携設定 > HTTPヘッダ)")
    return out


def prepare(
    settings: Settings,
    paths: Paths,
    target: Target,
    *,
    environ: dict[str, str],
    split: bool = False,
    on_event: EventSink = ignore,
    cancel: threading.Event | None = None,
    sync: str | None = None,
    retry_run: int | None = None,
    login: str | None = None,
) -> Prepared:
    """Query the rows, run pre-flight and build the exact file(s). Blocking: call it from a thread.

    ``sync`` overrides the integration's sync mode (full | changes | mirror); ``retry_run`` sends exactly
    the rows HaiHai reported 失敗 in that history run instead. Takes the integration's run lock (held
    until ``Prepared.discard()``; RunBusy when another process holds it)."""
    if settings.load_errors:
        first = settings.load_errors[0]
        raise RunRefused(
            f"the settings have {len(settings.load_errors)} error(s), so nothing is sent until they "
            f"are fixed; first: {first} (run `haihai-tui check` for all)"
        )
    menu, integ, db = resolve_target(settings, target)
    mode = "retry" if retry_run is not None else resolve_mode(integ, sync)
    if mode != "retry" and mode not in SYNC_MODES:
        raise RunRefused(f"sync mode {mode!r} is not one of {', '.join(SYNC_MODES)}")
    errors = [m for _, sev, m in integration_problems(integ, settings, environ) if sev == "error"]
    if errors and sync is not None and all("sync" in m for m in errors):
        errors = []  # only the db.toml mode is wrong, and --sync overrides it: the mode is checked below
    if errors:
        raise RunRefused(f"integration {integ.name!r} has settings errors: {errors[0]}")
    key_ix = key_index(menu, db)
    why = (
        mode_problem(mode, integ, menu, db)
        if mode != "retry"
        else (None if key_ix is not None else mode_problem("changes", integ, menu, db))
    )
    if why:
        raise RunRefused(why)
    headers = resolve_headers(settings, integ, environ)
    try:
        lock = acquire_run_lock(paths, settings, integ.name, login=login or current_login(), environ=environ)
    except RunLocked as e:
        raise RunBusy(str(e)) from None
    except OSError as e:
        raise RunRefused(f"cannot take the run lock in {paths.data_dir} ({e.strerror or e})") from None
    try:
        prepared = _build(settings, paths, target, menu, integ, db, headers, split, on_event, cancel, mode, retry_run)
    except BaseException:
        lock.release()
        raise
    prepared.lock = lock
    return prepared


def _build(settings, paths, target, menu, integ, db, headers, split, on_event, cancel, mode, retry_run) -> Prepared:
    query = Query(
        conditions=target.conditions,
        search=target.search,
        search_fields=tuple(menu.columns),
        sort_field=target.sort_field,
        descending=target.descending,
    )
    key_ix = key_index(menu, db)
    planner = None
    state = None
    if key_ix is not None:
        planner, state, query = sync_planner(paths, target, menu, integ, db, query, mode, retry_run, key_ix, settings)
    on_event(StageChanged(Stage.QUERY, f"reading {db.name} ({menu.name})"))
    sweep_stale(paths.runs_dir)
    try:  # SQLite, or PostgreSQL (engine = "postgresql"): unreachable is a refusal naming the host and reason
        store = open_records(paths, db, settings)  # the dsn from os.environ or secrets.toml
    except RecordSourceError as e:
        raise RunRefused(f"{e}; nothing was sent") from None
    try:
        total = store.count(query)
        on_event(RowsProgress(0, total))
        on_event(StageChanged(Stage.PREFLIGHT, f"checking and building {total:,} rows"))
        labels = [db.field(c).label for c in menu.columns]  # type: ignore[union-attr]
        build_kw = dict(
            encoding=integ.python_encoding,
            header=integ.csv_header,
            dest_dir=ensure_private_dir(paths.runs_dir),
            max_rows=integ.limits.max_rows,
            max_bytes=integ.limits.max_bytes,
            split=split,
            on_rows=lambda n: on_event(RowsProgress(n, total)),
            cancel=cancel,
            daily_quota=integ.limits.daily_quota,
        )
        if db.engine == "postgresql":  # the server writes the CSV lines; the same file and findings as from rows
            col = key_ix if key_ix is not None else labels.index(EMAIL_LABEL) if EMAIL_LABEL in labels else None
            lines = store.csv_lines(query, menu.columns, col)
            built = build_csv_from_lines(
                planned_lines(planner, lines) if planner else lines, labels, column=col, **build_kw
            )
        else:
            rows = store.iter_rows(query, menu.columns)
            built = build_csv(planner.rows(rows) if planner is not None else rows, labels, **build_kw)
    except RecordSourceError as e:  # the connection lost mid-export: build_csv has removed its files
        raise RunRefused(f"{e}; the run stopped before sending: nothing was sent, its files were removed") from None
    finally:
        store.close()
    removal = None
    try:
        plan = None
        if planner is not None and state is not None:
            plan = planner.finish(addresses=lambda keys: state.addresses(integ.name, keys))
            if plan.nothing_to_send and built.total_rows == 0 and set(built.counts) <= {"empty"}:
                built = dataclasses.replace(built, findings=[], error_count=0, counts={}, rows_per_file=[])
            if plan.removals:
                removal = _removal(paths, target, menu, integ, db, query, headers, plan, labels[key_ix])
        prepared = _prepared(settings, paths, target, menu, integ, db, query, built, headers, split, on_event, plan)
        prepared.removal = removal
        return prepared
    except BaseException:
        built.remove()  # nothing half-done stays on disk
        if removal is not None:
            removal.discard()
        raise


def _removal(paths, target, menu, integ, db, query, headers, plan: SyncPlan, key_label: str) -> Prepared:
    """The second request of a mirror run (see syncprep.removal_csv), as a Prepared of its own."""
    params, built, rplan = removal_csv(paths, integ, plan, key_label)
    return Prepared(
        target,
        menu,
        dataclasses.replace(integ, params=params),
        db,
        query,
        built,
        headers,
        describe_run(params, built.total_rows, max(1, built.requests)),
        is_dangerous(params),
        0,
        True,
        sync=rplan,
    )


def sweep_stale(runs_dir: Path) -> int:
    """Remove CSV files left in the runs folder by a process that died (their pid is in the name)."""
    removed = 0
    if not runs_dir.is_dir():
        return 0
    for f in runs_dir.glob("customer_list-*.csv"):
        try:
            pid = int(f.name.split("-")[1])
        except (IndexError, ValueError):
            continue
        if pid == os.getpid() or pid_alive(pid):
            continue
        f.unlink(missing_ok=True)
        removed += 1
    return removed


def _prepared(settings, paths, target, menu, integ, db, query, built, headers, split, on_event, plan=None) -> Prepared:
    history = open_history(paths, settings)
    used = history.used_today(urlsplit(integ.url).hostname or "")
    caution = last_run_caution(history, integ.name)
    if built.files and built.requests > integ.limits.daily_quota - used:
        on_event(
            LogLine(
                f"this run needs {built.requests} requests but only "
                f"{max(0, integ.limits.daily_quota - used)} of the daily quota are left",
                "warning",
            )
        )
    cond_texts = [c.describe(db.field(c.field_id).label if db.field(c.field_id) else None) for c in target.conditions]
    if target.search:
        cond_texts.append(f"search:{target.search}")
    prepared = Prepared(
        target,
        menu,
        integ,
        db,
        query,
        built,
        headers,
        describe_run(integ.params, built.total_rows, max(1, built.requests)),
        is_dangerous(integ.params),
        used,
        split,
        cond_texts,
        caution,
        sync=plan,
    )
    if plan is not None:
        on_event(LogLine(f"sync: {plan.describe()}"))
        if prepared.nothing_to_send:
            prepared.summary = plan.nothing_changed() if not plan.removals else "no row to register or update"
    on_event(
        LogLine(
            f"pre-flight: {built.total_rows:,} rows, {built.error_count} errors, "
            f"{built.warning_count} warnings, {built.requests} request(s)"
        )
    )
    return prepared
