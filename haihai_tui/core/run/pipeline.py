"""One integration run, end to end — the single path both the TUI and the command line take.

    prepare()  rows of a menu under conditions -> pre-flight + the exact CSV file(s), 0600   (sync, thread)
    execute()  multipart POST per file -> outcome -> status poll -> history -> report mail   (async)

Temp files are removed after every run, also after an error or a cancel. Progress goes to an
``EventSink``; nothing here knows who listens.
"""

from __future__ import annotations

import asyncio
import os
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from haihai_tui.core.settings import headers as hdr
from haihai_tui.core.checks.csvbuild import BuiltCsv, build_csv
from haihai_tui.core.events import (EventSink, LogLine, Outcome, RowsProgress, RunStarted, Stage, StageChanged, ignore)
from haihai_tui.core.run.history import History, RunRecord
from haihai_tui.core.settings.model import Database, Integration, Menu, Settings
from haihai_tui.core.paths import Paths, ensure_private_dir
from haihai_tui.core.settings.params import describe_run, is_dangerous
from haihai_tui.core.records.query import Condition, Query
from haihai_tui.core.records.store import RecordStore


COUNT_KEYS = ("success", "failure", "other", "stopped")   # 成功 失敗 その他 配信停止


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
    headers: dict[str, object]           # resolved; the token is a Secret
    summary: str
    dangerous: str | None
    quota_used_today: int
    split: bool
    condition_texts: list[str] = field(default_factory=list)

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

    def request(self, index: int = 0):
        from haihai_tui.core.haihai.multipart import ImportRequest
        g = self.integration
        return ImportRequest(url=g.url, headers=self.headers, params=dict(g.params), json_name=g.json_name,
                             csv_name=g.csv_name, csv_path=self.built.files[index],
                             csv_encoding=g.python_encoding, timeouts=g.timeouts, ca_bundle=g.ca_bundle)

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
        raise RunRefused(f"integration {target.integration!r} is not attached to menu {menu.name!r}; "
                         f"attached: {', '.join(menu.integrations) or '(none)'} (メニュー設定)")
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
            raise RunRefused("the API token is written in db.toml; move it to secrets.toml (`haihai-tui check` says how)")
        out[hv.name] = hv.value
    if hdr.token_header(integ) is None:
        raise RunRefused("the integration has no X-HM-apitoken header (システム連携設定 > HTTPヘッダ)")
    return out


def prepare(settings: Settings, paths: Paths, target: Target, *, environ: dict[str, str], split: bool = False,
            on_event: EventSink = ignore, cancel: threading.Event | None = None) -> Prepared:
    """Query the rows, run pre-flight and build the exact file(s). Blocking: call it from a thread."""
    from haihai_tui.core.settings.validate import integration_problems
    if settings.load_errors:
        first = settings.load_errors[0]
        raise RunRefused(f"the settings have {len(settings.load_errors)} error(s), so nothing is sent until they "
                         f"are fixed; first: {first} (run `haihai-tui check` for all)")
    menu, integ, db = resolve_target(settings, target)
    errors = [m for _, sev, m in integration_problems(integ, settings, environ) if sev == "error"]
    if errors:
        raise RunRefused(f"integration {integ.name!r} has settings errors: {errors[0]}")
    headers = resolve_headers(settings, integ, environ)
    query = Query(conditions=target.conditions, search=target.search, search_fields=tuple(menu.columns),
                  sort_field=target.sort_field, descending=target.descending)
    on_event(StageChanged(Stage.QUERY, f"reading {db.name} ({menu.name})"))
    sweep_stale(paths.runs_dir)
    store = RecordStore.open(paths.records_dir, db)
    try:
        total = store.count(query)
        on_event(RowsProgress(0, total))
        on_event(StageChanged(Stage.PREFLIGHT, f"checking and building {total:,} rows"))
        labels = [db.field(c).label for c in menu.columns]  # type: ignore[union-attr]
        built = build_csv(store.iter_rows(query, menu.columns), labels, encoding=integ.python_encoding,
                          header=integ.csv_header, dest_dir=ensure_private_dir(paths.runs_dir),
                          max_rows=integ.limits.max_rows, max_bytes=integ.limits.max_bytes, split=split,
                          on_rows=lambda n: on_event(RowsProgress(n, total)), cancel=cancel,
                          daily_quota=integ.limits.daily_quota)
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
        if pid == os.getpid() or _alive(pid):
            continue
        f.unlink(missing_ok=True)
        removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _prepared(settings, paths, target, menu, integ, db, query, built, headers, split, on_event) -> Prepared:
    history = History(paths.history_db)
    used = history.used_today(urlsplit(integ.url).hostname or "")
    if built.files and built.requests > integ.limits.daily_quota - used:
        on_event(LogLine(f"this run needs {built.requests} requests but only "
                         f"{max(0, integ.limits.daily_quota - used)} of the daily quota are left", "warning"))
    cond_texts = [c.describe(db.field(c.field_id).label if db.field(c.field_id) else None) for c in target.conditions]
    if target.search:
        cond_texts.append(f"search:{target.search}")
    prepared = Prepared(target, menu, integ, db, query, built, headers,
                        describe_run(integ.params, built.total_rows, max(1, built.requests)),
                        is_dangerous(integ.params), used, split, cond_texts)
    on_event(LogLine(f"pre-flight: {built.total_rows:,} rows, {built.error_count} errors, "
                     f"{built.warning_count} warnings, {built.requests} request(s)"))
    return prepared


async def execute(prepared: Prepared, paths: Paths, settings: Settings, *, executor: str, memo: str = "",
                  confirm_dangerous: bool = False, accept_warnings: bool = True, on_event: EventSink = ignore,
                  cancel: asyncio.Event | None = None, transport=None, poll_interval: float = 1.0,
                  poll_timeout: float = 30.0) -> RunRecord:
    """Send the prepared file(s); record the run; send the report mail; always remove the files."""
    from haihai_tui.core.haihai.client import send_import
    from haihai_tui.core.haihai.status import fetch_result_csv, poll_status
    from haihai_tui.core.run.report import send_report
    try:
        if prepared.blocked:
            raise RunRefused(f"pre-flight found {prepared.built.error_count} error(s); fix them first: "
                             f"{prepared.built.errors[0]}")
        if prepared.built.warnings and not accept_warnings:
            raise RunRefused(f"pre-flight found {prepared.built.warning_count} warning(s); accept them to run")
        if prepared.dangerous and not confirm_dangerous:
            raise RunRefused(f"dangerous run refused without explicit confirmation: {prepared.dangerous}")
        g = prepared.integration
        # the history is SQLite on disk: keep its writes off the event loop (the TUI stays responsive)
        history = await asyncio.to_thread(History, paths.history_db)
        rec = RunRecord(run_id=None, started_at=datetime.now().astimezone().isoformat(timespec="seconds"),
                        ended_at=None, executor=executor, integration=g.name, menu=prepared.menu.name,
                        conditions=prepared.condition_texts, memo=memo, rows=prepared.rows,
                        bytes=sum(prepared.built.bytes_per_file), requests=prepared.requests,
                        host=urlsplit(g.url).hostname or "", url=g.url.split("?")[0], http_status=None,
                        outcome=Outcome.RUNNING, code=None, message="", import_ids=[], counts=None,
                        params=dict(g.params), response_excerpt="")
        run_id = await asyncio.to_thread(history.start, rec)
        on_event(RunStarted(run_id))
        on_event(LogLine(f"run #{run_id}: {prepared.summary}"))
        results = []
        for i in range(len(prepared.built.files)):
            if cancel is not None and cancel.is_set():
                break
            req = prepared.request(i)
            on_event(StageChanged(Stage.SEND, f"request {i + 1} of {prepared.requests}"))
            res = await send_import(req, on_event=on_event, cancel=cancel, part=i + 1, parts=prepared.requests,
                                    transport=transport)
            results.append(res)
            if res.outcome is not Outcome.DONE:
                if i + 1 < prepared.requests:
                    on_event(LogLine(f"stopped after request {i + 1}: the remaining "
                                     f"{prepared.requests - i - 1} were not sent", "warning"))
                break
        final = summarize(results, prepared.requests, cancelled=bool(cancel and cancel.is_set()))
        counts, result_csv = None, None
        if final["outcome"] is Outcome.DONE and final["import_ids"]:
            on_event(StageChanged(Stage.POLL, "asking HaiHai for the row results"))
            try:
                counts, result_csv = await _collect(prepared, final["import_ids"], on_event, transport,
                                                    poll_interval, poll_timeout, poll_status, fetch_result_csv)
            except Exception as e:  # the upload was accepted: a status hiccup must not turn it into a failure
                on_event(LogLine(f"could not read the row results ({type(e).__name__}: {e}); the import itself "
                                 f"was accepted - see レポート > 一括登録・削除の処理結果 in HaiHai", "warning"))
        on_event(StageChanged(Stage.HISTORY))
        done = await asyncio.to_thread(history.finish, run_id, counts=counts, result_csv=result_csv, **final)
        on_event(StageChanged(Stage.MAIL))
        note = await asyncio.to_thread(send_report, done, g, settings, paths, on_event)
        if note:
            on_event(LogLine(note))
        on_event(StageChanged(Stage.DONE, f"{done.outcome.label} ({done.outcome.value})"))
        return done
    finally:
        prepared.discard()


def summarize(results: list, planned: int, cancelled: bool) -> dict:
    """Fold the per-request results into the history fields of the run."""
    if not results:
        return dict(outcome=Outcome.CANCELLED, code="CANCELLED", message="cancelled before anything was sent",
                    http_status=None, import_ids=[], response_excerpt="", requests=0)
    last = results[-1]
    ids = [r.import_id for r in results if r.import_id]
    used = sum(r.outcome in (Outcome.DONE, Outcome.UNKNOWN) for r in results)
    msg = last.message
    outcome = last.outcome
    if outcome is Outcome.DONE and len(results) < planned:
        outcome, msg = Outcome.CANCELLED, f"cancelled after {len(results)} of {planned} requests"
    elif outcome is not Outcome.DONE and len(results) > 1:
        msg = f"request {len(results)} of {planned}: {msg} (requests 1-{len(results) - 1} were accepted)"
    return dict(outcome=outcome, code=last.code, message=msg, http_status=last.http_status, import_ids=ids,
                response_excerpt=last.body_excerpt, requests=used)


async def _collect(prepared: Prepared, import_ids: list[str], on_event, transport, interval, timeout,
                   poll_status, fetch_result_csv):
    """Counts summed over the requests, and the row-level result file of the first; None where not offered."""
    totals: dict[str, int] = {}
    result_csv = None
    for i, iid in enumerate(import_ids):
        st = await poll_status(prepared.request(min(i, prepared.requests - 1)), iid, on_event=on_event,
                               interval=interval, timeout=timeout, transport=transport)
        if st is None:
            on_event(LogLine("HaiHai does not offer a status endpoint; see レポート > 一括登録・削除の処理結果 there"))
            return None, None
        if not st.finished:
            on_event(LogLine(f"import {iid} is still {st.status} after {timeout:.0f} s; "
                             f"the counts below are what HaiHai had processed so far", "warning"))
        for k in COUNT_KEYS:
            v = getattr(st, k, None)
            if v is not None:
                totals[k] = totals.get(k, 0) + int(v)
        if result_csv is None:
            result_csv = await fetch_result_csv(prepared.request(min(i, prepared.requests - 1)), iid,
                                                transport=transport)
    return (totals or None), result_csv
