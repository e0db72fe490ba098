"""Executing a prepared run: multipart POST per file -> outcome -> status poll -> history -> report mail.

HaiHai's answer is journalled before anything else is recorded, so a busy history never turns an
accepted upload into a failure. Temp files are removed after every run, also after an error or a
cancel. Progress goes to an ``EventSink``; nothing here knows who listens.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from haihai_tui.core.events import (
    REPORT_PLACE,
    EventSink,
    LogLine,
    Outcome,
    RunStarted,
    Stage,
    StageChanged,
    ignore,
)
from haihai_tui.core.paths import Paths
from haihai_tui.core.run.history import (
    History,
    HistoryBusy,
    HistoryError,
    QuotaExceeded,
    RunRecord,
    now_iso,
)
from haihai_tui.core.run.prepare import COUNT_KEYS, HISTORY_ATTEMPTS, Prepared, RunRefused
from haihai_tui.core.run.report import send_report
from haihai_tui.core.run.state import open_history, open_sync_store
from haihai_tui.core.run.sync import confirm_run, target_words
from haihai_tui.core.settings.model import Settings


async def execute(
    prepared: Prepared,
    paths: Paths,
    settings: Settings,
    *,
    executor: str,
    memo: str = "",
    confirm_dangerous: bool = False,
    confirm_removal: bool = False,
    accept_warnings: bool = True,
    on_event: EventSink = ignore,
    cancel: asyncio.Event | None = None,
    transport=None,
    poll_interval: float = 1.0,
    poll_timeout: float | None = None,
) -> RunRecord:
    """Send the prepared file(s); record the run; send the report mail; always remove the files and let
    the integration's run lock go.

    A mirror run with removals (``prepared.removal``) needs ``confirm_removal``; its removal request is
    sent after the main part ended 完了 (or had nothing to send), as a run of its own in the history
    (``sync["removal_of"]``), and the main run's ``sync["removal_run"]`` names it. What HaiHai confirmed
    is written to the sync state (core/run/syncstate.py) as each part ends."""
    kw = dict(
        executor=executor,
        memo=memo,
        confirm_dangerous=confirm_dangerous,
        accept_warnings=accept_warnings,
        on_event=on_event,
        cancel=cancel,
        transport=transport,
        poll_interval=poll_interval,
        poll_timeout=poll_timeout,
    )
    try:
        removal = prepared.removal
        if removal is not None and not confirm_removal:
            raise RunRefused(
                f"this mirror run removes {removal.rows:,} customer(s) from "
                f"{target_words(prepared.sync.target) if prepared.sync else 'the group'}; confirm the removal "
                f"(--yes on the command line) to run it"
            )
        done = await _execute_one(prepared, paths, settings, **kw)
        if removal is None:
            return done
        if done.outcome is not Outcome.DONE:
            on_event(
                LogLine(
                    f"the {removal.rows:,} removal(s) were not sent because run #{done.run_id} did not end 完了",
                    "warning",
                )
            )
            return done
        if removal.sync is not None:
            removal.sync.removal_of = done.run_id
        rdone = await _execute_one(removal, paths, settings, **kw)
        sync = dict(done.sync or {}, removal_run=rdone.run_id, removal_outcome=rdone.outcome.value)
        done = await asyncio.to_thread(
            _record,
            open_history(paths, settings),
            done,
            {"sync": sync, "ended_at": done.ended_at},
            on_event,
        )
        if rdone.outcome is not Outcome.DONE:
            done = dataclasses.replace(
                done, outcome=rdone.outcome, message=f"removal run #{rdone.run_id}: {rdone.message}"
            )
        return done
    finally:
        prepared.discard()


async def _execute_one(
    prepared: Prepared,
    paths: Paths,
    settings: Settings,
    *,
    executor: str,
    memo: str = "",
    confirm_dangerous: bool = False,
    accept_warnings: bool = True,
    on_event: EventSink = ignore,
    cancel: asyncio.Event | None = None,
    transport=None,
    poll_interval: float = 1.0,
    poll_timeout: float | None = None,
) -> RunRecord:
    """One part of a run (one history row): send, record, confirm the sync state, mail.

    Starting the run reserves its requests of the daily quota atomically (several runs at once never
    send more than the quota). Once HaiHai has answered, its answer decides what is returned: the
    answer is written to the journal first, then to the history (tried again while busy); local
    bookkeeping that fails is a warning, never a failure of an import HaiHai accepted."""
    # lazy for start-up speed: the client loads httpx, which the TUI does not need until the first send
    from haihai_tui.core.haihai.client import send_import
    from haihai_tui.core.haihai.status import fetch_result_csv, poll_status

    history: History | None = None
    run_id: int | None = None
    results: list = []
    sending = recorded = False
    try:
        if prepared.blocked:
            raise RunRefused(
                f"pre-flight found {prepared.built.error_count} error(s); fix them first: {prepared.built.errors[0]}"
            )
        if prepared.built.warnings and not accept_warnings:
            raise RunRefused(f"pre-flight found {prepared.built.warning_count} warning(s); accept them to run")
        if prepared.dangerous and not confirm_dangerous:
            raise RunRefused(f"dangerous run refused without explicit confirmation: {prepared.dangerous}")
        g = prepared.integration
        # the history is SQLite on disk: keep its writes off the event loop (the TUI stays responsive)
        history = await asyncio.to_thread(open_history, paths, settings)
        rec = RunRecord(
            run_id=None,
            started_at=datetime.now().astimezone().isoformat(timespec="seconds"),
            ended_at=None,
            executor=executor,
            integration=g.name,
            menu=prepared.menu.name,
            conditions=prepared.condition_texts,
            memo=memo,
            rows=prepared.rows,
            bytes=sum(prepared.built.bytes_per_file),
            requests=prepared.requests,
            host=urlsplit(g.url).hostname or "",
            url=g.url.split("?")[0],
            http_status=None,
            outcome=Outcome.RUNNING,
            code=None,
            message="",
            import_ids=[],
            counts=None,
            params=dict(g.params),
            response_excerpt="",
            sync=prepared.sync.counts() if prepared.sync is not None else None,
        )
        try:  # counts today's requests and reserves this run's in one transaction
            run_id = await asyncio.to_thread(history.start, rec, daily_quota=g.limits.daily_quota)
        except QuotaExceeded as e:
            raise RunRefused(str(e)) from None
        on_event(RunStarted(run_id))
        on_event(LogLine(f"run #{run_id}: {prepared.summary}"))
        if prepared.nothing_to_send and not prepared.built.files:  # changes/mirror: nothing changed, no request
            assert prepared.sync is not None
            note = prepared.summary
            done = await asyncio.to_thread(
                _record,
                history,
                rec,
                dict(outcome=Outcome.DONE, code="NOTHING_TO_SEND", message=note, requests=0, ended_at=now_iso()),
                on_event,
            )
            recorded = True
            on_event(StageChanged(Stage.DONE, note))
            return done
        for i in range(len(prepared.built.files)):
            if cancel is not None and cancel.is_set():
                break
            req = prepared.request(i)
            on_event(StageChanged(Stage.SEND, f"request {i + 1} of {prepared.requests}"))
            sending = True
            res = await send_import(
                req, on_event=on_event, cancel=cancel, part=i + 1, parts=prepared.requests, transport=transport
            )
            sending = False
            results.append(res)
            if res.outcome is not Outcome.DONE:
                if i + 1 < prepared.requests:
                    on_event(
                        LogLine(
                            f"stopped after request {i + 1}: the remaining {prepared.requests - i - 1} were not sent",
                            "warning",
                        )
                    )
                break
        final = summarize(results, prepared.requests, cancelled=bool(cancel and cancel.is_set()))
        changes = dict(final, ended_at=now_iso())
        if results:  # HaiHai has answered: its answer is kept before anything else can fail
            await asyncio.to_thread(_journal, history, rec, changes, on_event)
        counts, result_csv, unfetched = None, None, ""
        rows = RowResults()
        if final["outcome"] is Outcome.DONE and final["import_ids"]:
            on_event(StageChanged(Stage.POLL, "asking HaiHai for the row results"))
            try:
                counts, result_csv, unfetched = await _collect(
                    prepared,
                    final["import_ids"],
                    on_event,
                    transport,
                    poll_interval,
                    poll_timeout,
                    poll_status,
                    fetch_result_csv,
                    cancel=cancel,
                    rows=rows,
                )
            except Exception as e:  # the upload was accepted: a status hiccup must not turn it into a failure
                unfetched = f"{type(e).__name__}: {e}"
                on_event(
                    LogLine(
                        f"could not read the row results ({type(e).__name__}: {e}); the import itself "
                        f"was accepted - see {REPORT_PLACE} in HaiHai",
                        "warning",
                    )
                )
        on_event(StageChanged(Stage.HISTORY))
        if unfetched:  # the import stands (完了, its import_id kept); only its row results are missing
            changes["message"] = f"{changes['message']} Row results were not fetched ({unfetched})."
            await asyncio.to_thread(_journal, history, rec, {"message": changes["message"]}, on_event)
        done = await asyncio.to_thread(
            _record, history, rec, dict(changes, counts=counts, result_csv=result_csv), on_event
        )
        recorded = True
        if prepared.sync is not None and prepared.sync.sent is not None:
            note = await asyncio.to_thread(_confirm, paths, prepared, done, rows, bool(unfetched), settings)
            on_event(LogLine(note, "info" if "nothing" not in note else "warning"))
        on_event(StageChanged(Stage.MAIL))
        note = await asyncio.to_thread(send_report, done, g, settings, paths, on_event)
        if note:
            on_event(LogLine(note))
        on_event(StageChanged(Stage.DONE, f"{done.outcome.label} ({done.outcome.value})"))
        return done
    except BaseException:
        if history is not None and run_id is not None and not recorded and not sending and not results:
            try:  # stopped before anything was sent: release the quota this run reserved
                history.finish(
                    run_id,
                    outcome=Outcome.CANCELLED,
                    code="CANCELLED",
                    requests=0,
                    message="stopped before anything was sent",
                )
            except HistoryError:
                pass
        raise


@dataclass
class RowResults:
    """HaiHai's row-level results of one run part, as fetched: one result file per request (None: not offered)."""

    offered: bool = True  # False: no status endpoint (real HaiHai): every row of a 完了 request counts
    files: list = field(default_factory=list)
    failed_status: str = ""  # a status other than completed (failed): nothing is confirmed


def _confirm(
    paths: Paths, prepared: Prepared, done: RunRecord, rows: RowResults, unfetched: bool, settings=None
) -> str:
    """Write what HaiHai confirmed of this run part into the sync state; the words say what was kept."""
    try:
        return confirm_run(
            open_sync_store(paths, settings),
            done.run_id or 0,
            prepared.integration.name,
            prepared.sync,  # type: ignore[arg-type]
            done=done.outcome is Outcome.DONE,
            offered=rows.offered,
            files=rows.files,
            complete=not unfetched and not rows.failed_status and len(rows.files) == prepared.requests,
            outcome_word=done.outcome.label,
            rows_per_file=prepared.built.rows_per_file,
        )
    except HistoryBusy:
        return "could not write the sync state (the history stayed busy); the next changes run sends these rows again"
    except HistoryError as e:
        return f"could not write the sync state ({e}); the next changes run sends these rows again"


def _journal(history: History, rec: RunRecord, changes: dict, on_event: EventSink) -> bool:
    """HaiHai's answer into the journal (fsync'd); False, with a warning, when that fails."""
    try:
        history.journal_outcome(rec.run_id, rec.started_at, changes)  # type: ignore[arg-type]
        return True
    except OSError as e:
        on_event(LogLine(f"could not write the run journal {history.journal} ({e.strerror or e})", "warning"))
        return False


def _record(history: History, rec: RunRecord, changes: dict, on_event: EventSink) -> RunRecord:
    """The finished run into the history, tried again while it is busy. When it cannot be written, the
    outcome stays as HaiHai answered (from the journal it reaches the history at the next start)."""
    problem = ""
    for _ in range(HISTORY_ATTEMPTS):
        try:
            return history.finish(rec.run_id, **changes)  # type: ignore[arg-type]
        except HistoryBusy:
            problem = "another haihai-tui held it locked"
        except HistoryError as e:
            problem = str(e)
            break
    done = dataclasses.replace(rec, **changes)
    kept = _journal(history, rec, {k: v for k, v in changes.items() if k != "result_csv"}, on_event)
    later = (
        f"the answer is kept in {history.journal} and goes into the history at the next start of haihai-tui"
        if kept
        else "note the answer from here"
    )
    on_event(
        LogLine(
            f"could not write run #{rec.run_id} into the history {history.path} ({problem}); "
            f"HaiHai's answer stands: {done.outcome.label} ({done.outcome.value}); {later}",
            "warning",
        )
    )
    return done


def summarize(results: list, planned: int, cancelled: bool) -> dict:
    """Fold the per-request results into the history fields of the run."""
    if not results:
        return dict(
            outcome=Outcome.CANCELLED,
            code="CANCELLED",
            message="cancelled before anything was sent",
            http_status=None,
            import_ids=[],
            response_excerpt="",
            requests=0,
        )
    last = results[-1]
    ids = [r.import_id for r in results if r.import_id]
    used = sum(r.outcome in (Outcome.DONE, Outcome.UNKNOWN) for r in results)
    msg = last.message
    outcome = last.outcome
    if outcome is Outcome.DONE and len(results) < planned:
        outcome, msg = Outcome.CANCELLED, f"cancelled after {len(results)} of {planned} requests"
    elif outcome is not Outcome.DONE and len(results) > 1:
        msg = f"request {len(results)} of {planned}: {msg} (requests 1-{len(results) - 1} were accepted)"
    return dict(
        outcome=outcome,
        code=last.code,
        message=msg,
        http_status=last.http_status,
        import_ids=ids,
        response_excerpt=last.body_excerpt,
        requests=used,
    )


async def _collect(
    prepared: Prepared,
    import_ids: list[str],
    on_event,
    transport,
    interval,
    timeout,
    poll_status,
    fetch_result_csv,
    cancel: asyncio.Event | None = None,
    rows: RowResults | None = None,
):
    """Counts summed over the requests, the row-level result file of the first (None where not offered),
    and why the row results were not all fetched ("" when they were). The poll is bounded by the
    integration's timeouts (``timeout`` None) and stops on ``cancel``; the accepted import stands."""
    totals: dict[str, int] = {}
    result_csv = None
    for i, iid in enumerate(import_ids):
        st = await poll_status(
            prepared.request(min(i, prepared.requests - 1)),
            iid,
            on_event=on_event,
            interval=interval,
            timeout=timeout,
            transport=transport,
            cancel=cancel,
        )
        if st is not None and st.cancelled:
            on_event(
                LogLine(
                    f"import {iid}: {st.error}; its row results were not fetched (the import itself was accepted)",
                    "warning",
                )
            )
            return (totals or None), result_csv, st.error
        if st is None:
            on_event(LogLine("HaiHai does not offer a status endpoint; see レポート > 一括登録・削除の処理結果 there"))
            if rows is not None:
                rows.offered = False
            return None, None, ""
        if rows is not None and st.status != "completed":
            rows.failed_status = st.status
        if not st.finished:
            on_event(
                LogLine(f"import {iid}: {st.error}; the counts below are what HaiHai had processed so far", "warning")
            )
        for k in COUNT_KEYS:
            v = getattr(st, k, None)
            if v is not None:
                totals[k] = totals.get(k, 0) + int(v)
        if not st.finished:  # out of time: the row results are not ready, the import stands
            return (totals or None), result_csv, st.error
        if result_csv is None or rows is not None:
            got = await fetch_result_csv(
                prepared.request(min(i, prepared.requests - 1)), iid, transport=transport, cancel=cancel
            )
            if rows is not None:
                rows.files.append(got)
            if result_csv is None:
                result_csv = got
    return (totals or None), result_csv, ""
