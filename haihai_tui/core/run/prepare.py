"""Preparing a run: the rows of a menu under conditions -> pre-flight -> the exact CSV file(s), 0600.

``prepare()`` runs in a thread (the TUI) or plainly (the command line) and sends nothing; what it returns,
``Prepared``, answers every question the confirm step asks (errors, split, quota, the last run's caution).
``execute()`` in core/run/execute.py sends it. Together they are the one path both front ends take.
"""

from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from haihai_tui.core.checks.csvbuild import BuiltCsv, build_csv
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
    History,
    last_run_caution,
)
from haihai_tui.core.settings import headers as hdr
from haihai_tui.core.settings.model import Database, Integration, Menu, Settings
from haihai_tui.core.settings.params import describe_run, is_dangerous
from haihai_tui.core.settings.validate import integration_problems

COUNT_KEYS = ("success", "failure", "other", "stopped")  # 成功 失敗 その他 配信停止
SPLIT_CODES = frozenset({"over_rows", "over_bytes"})  # pre-flight findings that splitting the run solves
#: how often the outcome is offered to a busy history (each try waits up to history.BUSY_TIMEOUT_S)
HISTORY_ATTEMPTS = 3


class RunRefused(Exception):
    """The run cannot start; the message says why and what to do."""


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

    @property
    def rows(self) -> int:
        return self.built.total_rows

    @property
    def requests(self) -> int:
        return self.built.requests

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
        return self.requests > self.quota_left

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
            return "(no request: pre-flight found errors)"
        parts = [self.request(i).preview() for i in range(len(self.built.files))]
        if len(parts) == 1:
            return parts[0]
        return "\n\n".join(f"--- request {i + 1} of {len(parts)} ---\n{p}" for i, p in enumerate(parts))

    def discard(self) -> None:
        self.built.remove()


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
) -> Prepared:
    """Query the rows, run pre-flight and build the exact file(s). Blocking: call it from a thread."""
    if settings.load_errors:
        first = settings.load_errors[0]
        raise RunRefused(
            f"the settings have {len(settings.load_errors)} error(s), so nothing is sent until they "
            f"are fixed; first: {first} (run `haihai-tui check` for all)"
        )
    menu, integ, db = resolve_target(settings, target)
    errors = [m for _, sev, m in integration_problems(integ, settings, environ) if sev == "error"]
    if errors:
        raise RunRefused(f"integration {integ.name!r} has settings errors: {errors[0]}")
    headers = resolve_headers(settings, integ, environ)
    query = Query(
        conditions=target.conditions,
        search=target.search,
        search_fields=tuple(menu.columns),
        sort_field=target.sort_field,
        descending=target.descending,
    )
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
        built = build_csv(
            store.iter_rows(query, menu.columns),
            labels,
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
    except RecordSourceError as e:  # the connection lost mid-export: build_csv has removed its files
        raise RunRefused(f"{e}; the run stopped before sending: nothing was sent, its files were removed") from None
    finally:
        store.close()
    try:
        return _prepared(settings, paths, target, menu, integ, db, query, built, headers, split, on_event)
    except BaseException:
        built.remove()  # nothing half-done stays on disk
        raise


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


def _prepared(settings, paths, target, menu, integ, db, query, built, headers, split, on_event) -> Prepared:
    history = History(paths.history_db, paths.history_journal)
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
    )
    on_event(
        LogLine(
            f"pre-flight: {built.total_rows:,} rows, {built.error_count} errors, "
            f"{built.warning_count} warnings, {built.requests} request(s)"
        )
    )
    return prepared
