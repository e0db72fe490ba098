"""The HaiHai Mail import request: build it, send it once, say plainly what came of it.

Contract: /work/shared/spec/haihai-import-api.md. Only a 2xx JSON answer with result "success" is
DONE. Once any byte of the body has left, a failure is UNKNOWN and nothing is re-sent; automatic
retries happen only when the connection failed before anything was sent, or when the server
answered 429/503 with a Retry-After that fits in the waiting budget.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from pathlib import Path

import httpx

from .answers import (ClientError, ImportResult, _Answer, _cancelled, _classify, _client, _failure,
                      _Scrub, _sink, _summary, parse_retry_after, ssl_context)
from .events import BytesProgress, EventSink, LogLine, Outcome, ServerResponse, Stage, StageChanged, ignore
from .multipart import CHUNK_SIZE, ImportRequest, MultipartStream, UploadCancelled, check_url, human_size
from .status import StatusResult, fetch_result_csv, poll_status

__all__ = ["ClientError", "ImportRequest", "ImportResult", "StatusResult", "check_url", "fetch_result_csv",
           "parse_retry_after", "poll_status", "send_import", "ssl_context"]

log = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 1_000_000


def _precheck(req: ImportRequest) -> ImportResult | None:
    """Everything that can be wrong before a connection is opened."""
    bad = req.problem()
    if bad is None and req.ca_bundle:
        try:
            ssl_context(req.ca_bundle)
        except (OSError, ssl.SSLError) as e:
            bad = "CA_BUNDLE", (f"Cannot use the CA file {req.ca_bundle!r} ({getattr(e, 'strerror', None) or e}): "
                                "fix ca_bundle in the integration settings.")
    return None if bad is None else ImportResult(Outcome.ERROR, code=bad[0], message=bad[1] + " Nothing was sent.")



# --- sending ----------------------------------------------------------------------------------

async def _exchange(client: httpx.AsyncClient, request: httpx.Request) -> _Answer:
    resp = await client.send(request, stream=True)
    body, error = bytearray(), None
    try:
        async for chunk in resp.aiter_bytes():
            body += chunk[: MAX_RESPONSE_BYTES - len(body)]
            if len(body) >= MAX_RESPONSE_BYTES:
                break
    except httpx.HTTPError as e:
        error = e
    finally:
        await resp.aclose()
    return _Answer(resp.status_code, resp.headers, bytes(body), error)


async def _attempt(client: httpx.AsyncClient, request: httpx.Request,
                   cancel: asyncio.Event | None) -> _Answer | BaseException:
    """One request/answer; the answer, or the exception that ended it (UploadCancelled on cancel)."""
    task = asyncio.ensure_future(_exchange(client, request))
    waiter = asyncio.ensure_future(cancel.wait()) if cancel is not None else None
    try:
        await asyncio.wait({task} | ({waiter} if waiter else set()), return_when=asyncio.FIRST_COMPLETED)
    finally:
        if waiter is not None:
            waiter.cancel()
        if not task.done():       # cancelled by the user, or this coroutine itself was cancelled
            task.cancel()
            await asyncio.wait({task})
    if task.cancelled():
        return UploadCancelled()
    return task.exception() or task.result()


async def _pause(seconds: float, cancel: asyncio.Event | None) -> bool:
    """Wait; True when cancel was set meanwhile."""
    if cancel is None:
        await asyncio.sleep(seconds)
        return False
    try:
        await asyncio.wait_for(cancel.wait(), seconds)
        return True
    except TimeoutError:
        return False


async def send_import(req: ImportRequest, *, on_event: EventSink = ignore, cancel: asyncio.Event | None = None,
                      part: int = 1, parts: int = 1, max_tries: int = 3, max_wait: float = 60.0,
                      transport: httpx.AsyncBaseTransport | None = None, backoff: float = 1.0,
                      chunk_size: int = CHUNK_SIZE) -> ImportResult:
    """POST the import once (retrying only where that is safe) and classify the outcome. Never raises
    for network or server trouble; the result's message says what happened and what to do."""
    scrub = _Scrub(req)
    emit = _sink(on_event, scrub)
    with scrub:
        result = scrub.result(await _send(req, emit, cancel, part, parts, max_tries, max_wait, transport,
                                          backoff, chunk_size))
    log.debug("import %s/%s: %s %s", part, parts, result.outcome.value, _summary(result))
    return result


async def _send(req: ImportRequest, emit: EventSink, cancel: asyncio.Event | None, part: int, parts: int,
                max_tries: int, max_wait: float, transport: httpx.AsyncBaseTransport | None,
                backoff: float, chunk_size: int) -> ImportResult:
    if (bad := _precheck(req)) is not None:
        emit(LogLine(bad.message, "error"))
        return bad
    if cancel is not None and cancel.is_set():
        return _cancelled(None)
    layout = req.layout()
    wire = req._wire_headers(layout)
    host = httpx.URL(req.url).host
    waited, tries = 0.0, 0
    async with _client(req, transport) as client:
        while True:
            tries += 1
            stream = MultipartStream(
                layout, Path(req.csv_path), chunk_size=chunk_size, cancel=cancel,
                on_progress=lambda sent, total: emit(BytesProgress(sent, total, part, parts)),
                on_finished=lambda: emit(StageChanged(Stage.RESPONSE, "file sent; waiting for HaiHai's answer")))
            note = f" (try {tries} of {max_tries})" if tries > 1 else ""
            emit(StageChanged(Stage.SEND, f"sending {human_size(layout.total)} to {host}{note}"))
            request = client.build_request("POST", req.url, headers=wire, content=stream)
            got = await _attempt(client, request, cancel)
            if isinstance(got, UploadCancelled):
                r = _cancelled(stream)
                r.attempts = tries
                return r
            if isinstance(got, _Answer):
                r, again = _classify(got, stream, req)
                emit(ServerResponse(got.status, _summary(r), r.body_excerpt))
            elif isinstance(got, Exception):
                r, again = _failure(got, stream, req)
                if stream.started:
                    emit(ServerResponse(None, _summary(r), ""))
            else:  # KeyboardInterrupt and friends are not ours to swallow
                raise got
            r.attempts, r.bytes_sent = tries, stream.handed
            if not again:
                return r
            left = max_wait - waited
            wait = r.retry_after if r.retry_after is not None else min(backoff * 2 ** (tries - 1), left)
            if tries >= max_tries:
                r.message += f" Gave up after {tries} tries."
                return r
            if wait > left or (r.retry_after is None and left <= 0):
                if r.retry_after is not None and r.code != "DAILY_LIMIT_EXCEEDED":
                    r.message += f" That is more than the {max(left, 0):.0f} s this run may wait, so it stopped."
                return r
            emit(LogLine(f"{_summary(r)}: nothing was imported; trying again in {wait:.1f} s "
                         f"(try {tries + 1} of {max_tries})", "warning"))
            if await _pause(wait, cancel):
                c = _cancelled(None)
                c.attempts = tries
                return c
            waited += wait
