"""The mock-only status and result endpoints (real HaiHai offers neither; a 404 is not an error).

GET {url}/{import_id} is polled for the four row categories; GET {url}/{import_id}/result.csv is the
per-row result file. The server is not trusted: answers are read up to a cap, numbers must be plain
ASCII digits, and nothing it sends makes these functions raise (fetch_result_csv raises ClientError
only, with a message saying what went wrong).
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from urllib.parse import quote

import httpx

from haihai_tui.core.events import REPORT_PLACE, EventSink, LogLine, Stage, StageChanged, ignore
from haihai_tui.core.haihai.answers import MAX_JSON_BYTES, ClientError, server_int, server_text
from haihai_tui.core.haihai.multipart import ImportRequest, human_size
from haihai_tui.core.haihai.transport import (
    Answer,
    OutOfTime,
    Scrub,
    UserCancelled,
    after,
    cause,
    guard,
    http_client,
    json_object,
    pause,
    read_capped,
    scrubbed_sink,
    ssl_context,
)

__all__ = ["MAX_RESULT_BYTES", "StatusResult", "fetch_result_csv", "poll_status"]

MAX_RESULT_BYTES = 10 * 1024 * 1024  # most of a result.csv that is read


@dataclass
class StatusResult:
    """The mock-only status endpoint's answer: status plus HaiHai's four row categories."""

    status: str  # queued | processing | completed | failed (as the server says) | unknown
    success: int | None = None  # 成功
    failure: int | None = None  # 失敗
    other: int | None = None  # その他
    stopped: int | None = None  # 配信停止
    finished: bool = False  # completed or failed was seen (False: timed out, last seen values)
    error: str = ""
    cancelled: bool = False  # the user stopped the asking (the import itself was accepted)


def _problem(req: ImportRequest) -> str | None:
    """What makes a side request unsendable (the import's own checks, less the CSV file, which may be
    gone by now); None when fine."""
    bad = req.problem()
    if bad is not None and bad[0] != "CSV_UNREADABLE":
        return bad[1]
    if req.ca_bundle:
        try:
            ssl_context(req.ca_bundle)
        except (OSError, ssl.SSLError) as e:
            return f"Cannot use the CA file {req.ca_bundle!r} ({getattr(e, 'strerror', None) or e})."
    return None


async def _get(client: httpx.AsyncClient, req: ImportRequest, url: str, limit: int) -> Answer:
    """GET url, reading at most ``limit`` bytes of the answer."""
    request = client.build_request("GET", url, headers=req.wire_headers(None))
    return await read_capped(await client.send(request, stream=True), limit)


def _sub_url(req: ImportRequest, import_id: str, tail: str = "") -> str:
    return f"{req.url.rstrip('/')}/{quote(str(import_id), safe='')}{tail}"


_COUNT_KEYS = {
    "success": ("success", "succeeded", "成功"),
    "failure": ("failure", "failed", "失敗"),
    "other": ("other", "others", "その他"),
    "stopped": ("stopped", "配信停止"),
}


def _status_of(data: dict) -> StatusResult:
    pools = [data] + [data[k] for k in ("counts", "results", "result") if isinstance(data.get(k), dict)]
    counts: dict[str, int | None] = {}
    for name, keys in _COUNT_KEYS.items():
        found = None
        for pool in reversed(pools):  # the most nested place wins
            for k in keys:
                if found is None:
                    found = server_int(pool.get(k))
        counts[name] = found
    raw = data.get("status")
    status = server_text(raw, 40) if isinstance(raw, str) and raw.strip() else "unknown"
    return StatusResult(status, **counts, finished=status in ("completed", "failed"))


async def poll_status(
    req: ImportRequest,
    import_id: str,
    *,
    on_event: EventSink = ignore,
    interval: float = 1.0,
    timeout: float | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    cancel: asyncio.Event | None = None,
) -> StatusResult | None:
    """Poll GET {url}/{import_id} until completed/failed, the total ``timeout`` (default: the
    integration's timeouts.poll), or the user's ``cancel``. Each request is bounded in total by
    timeouts.status. None when the server does not offer the endpoint (404): real HaiHai does not,
    and that is not an error. Never raises for network or server trouble: the StatusResult's
    ``error`` says what went wrong (and ``cancelled`` that the user stopped it)."""
    scrub = Scrub(req)
    emit = scrubbed_sink(on_event, scrub)
    if (problem := _problem(req)) is not None:
        return StatusResult("unknown", error=scrub(problem))
    emit(StageChanged(Stage.POLL, f"asking HaiHai for the status of import {import_id}"))
    total = req.timeouts.poll if timeout is None else timeout
    with scrub:
        return await _poll(req, import_id, emit, scrub, interval, total, transport, cancel)


async def _poll(
    req: ImportRequest,
    import_id: str,
    emit: EventSink,
    scrub: Scrub,
    interval: float,
    timeout: float,
    transport: httpx.AsyncBaseTransport | None,
    cancel: asyncio.Event | None,
) -> StatusResult | None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: StatusResult | None = None
    error, stopped = "", False
    async with http_client(req, transport) as client:
        for _ in range(100_000):  # bounded; the deadline ends it long before
            left = deadline - loop.time()
            if left <= 0:
                break
            cut_by_poll = req.timeouts.status >= left  # this request may take all the time that is left
            got = await guard(
                _get(client, req, _sub_url(req, import_id), MAX_JSON_BYTES),
                cancel=cancel,
                clock=after(min(req.timeouts.status, left), "the status request"),
            )
            if isinstance(got, UserCancelled):
                stopped = True
                break
            if isinstance(got, OutOfTime):
                if cut_by_poll:  # the whole poll's time is up: say so below
                    break
                error = f"{got} (timeouts.status); HaiHai's status answer came too slowly or not at all"
            elif isinstance(got, (httpx.HTTPError, httpx.InvalidURL, OSError)):
                error = scrub(f"status request failed ({cause(got)})")
            elif isinstance(got, BaseException):
                raise got
            else:
                ans: Answer = got
                if ans.status == 404:
                    return None
                if ans.truncated:
                    error = (
                        f"the status answer was larger than {human_size(MAX_JSON_BYTES)}, far more than a "
                        "status; stopped asking"
                    )
                    break
                data = json_object(ans.body) if 200 <= ans.status < 300 and ans.error is None else None
                if data is not None:
                    now = _status_of(data)
                    if last is None or now.status != last.status:
                        emit(LogLine(f"import {import_id}: {now.status}"))
                    last, error = now, ""
                    if now.finished:
                        return now
                elif ans.error is not None:
                    error = scrub(f"the status answer broke off ({cause(ans.error)})")
                elif 200 <= ans.status < 300:
                    error = f"status request answered HTTP {ans.status} but not with a JSON object"
                else:
                    error = f"status request answered HTTP {ans.status}"
                    if ans.status in (401, 403):
                        break
            if loop.time() + interval > deadline:
                break
            if await pause(interval, cancel):
                stopped = True
                break
    if stopped:
        out = last or StatusResult("unknown")
        out.cancelled = True
        out.error = "stopped by you before HaiHai had finished processing it"
        return out
    if last is None:
        return StatusResult("unknown", error=error or f"no status within {timeout:g} s (timeouts.poll)")
    last.error = error or f"still {last.status} after {timeout:g} s (timeouts.poll)"
    return last


async def fetch_result_csv(
    req: ImportRequest,
    import_id: str,
    transport: httpx.AsyncBaseTransport | None = None,
    *,
    max_bytes: int = MAX_RESULT_BYTES,
    cancel: asyncio.Event | None = None,
) -> bytes | None:
    """GET {url}/{import_id}/result.csv: the per-row result file; None when not offered (404).
    Bounded in total by the integration's timeouts.status, and stopped by ``cancel``. Raises
    ClientError (and nothing else) when it cannot be had, with a message saying why."""
    scrub = Scrub(req)
    if (problem := _problem(req)) is not None:
        raise ClientError(scrub(f"Cannot fetch the result file: {problem}"))
    with scrub:
        async with http_client(req, transport) as client:
            ans = await guard(
                _get(client, req, _sub_url(req, import_id, "/result.csv"), max_bytes),
                cancel=cancel,
                clock=after(req.timeouts.status, "fetching the result file"),
            )
    if isinstance(ans, UserCancelled):
        raise ClientError(f"Stopped by you: the result file was not fetched; see {REPORT_PLACE} in HaiHai instead.")
    if isinstance(ans, OutOfTime):
        raise ClientError(f"The result file was not fetched: {ans}; see {REPORT_PLACE} in HaiHai instead.")
    if isinstance(ans, (httpx.HTTPError, httpx.InvalidURL, OSError)):
        raise ClientError(scrub(f"Could not fetch the result file ({cause(ans)})."))
    if isinstance(ans, BaseException):
        raise ans
    if ans.status == 404:
        return None
    if not 200 <= ans.status < 300:
        raise ClientError(f"HaiHai answered HTTP {ans.status} for the result file.")
    if ans.error is not None:
        raise ClientError(
            scrub(
                f"The result file broke off after {len(ans.body)} bytes ({cause(ans.error)}); "
                f"see {REPORT_PLACE} in HaiHai instead."
            )
        )
    if ans.truncated:
        raise ClientError(
            f"The result file is larger than {human_size(max_bytes)}, so it was not kept; see "
            f"{REPORT_PLACE} in HaiHai instead."
        )
    return ans.body
