"""Executing a prepared run: multipart POST per file -> outcome -> status poll -> history -> report mail.

HaiHai's answer is journalled before anything else is recorded, so a busy history never turns an
accepted upload into a failure. Temp files are removed after every run, also after an error or a
cancel. Progress goes to an ``EventSink``; nothing here knows who listens.
"""

from __future__ import annotations

import asyncio
import dataclasses
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
from haihai_tui.core.settings.model import Settings


async def execute(
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
    """Send the prepared file(s); record the run; send the report mail; always remove the files.

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
        history = await asyncio.to_thread(History, paths.history_db, paths.history_journal)
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
        )
        try:  # counts today's requests and reserves this run's in one transaction
            run_id = await asyncio.to_thread(history.start, rec, daily_quota=g.limits.daily_quota)
        except QuotaExceeded as e:
            raise RunRefused(str(e)) from None
        on_event(RunStarted(run_id))
        on_event(LogLine(f"run #{run_id}: {prepared.summary}"))
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
    finally:
        prepared.discard()


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
            return None, None, ""
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
        if result_csv is None:
            result_csv = await fetch_result_csv(
                prepared.request(min(i, prepared.requests - 1)), iid, transport=transport, cancel=cancel
            )
    return (totals or None), result_csv, ""
