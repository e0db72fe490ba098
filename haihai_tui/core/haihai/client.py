"""The HaiHai Mail import request: build it, send it once, say plainly what came of it.

Contract: docs/haihai-api.md. Only a 2xx JSON answer with result "success" is DONE. Automatic
retries happen only where the server cannot have processed the request: the connection failed
before anything was sent; a 429 (a refusal, nothing processed); or a 503 with Retry-After that came
before the whole body had been handed over. Each waits no longer than the budget allows. A 5xx or a
lost connection once the body was sent is UNKNOWN and is never re-sent. The rule in full sits above
``classify`` in answers.py; ``_failure`` below applies it to requests that got no answer.

Once the whole file is sent, HaiHai's answer must arrive complete within timeouts.answer in total
(httpx's read timeout is per read: a server dripping a byte a second would never trip it); past
that the outcome is UNKNOWN, the one POST is never repeated.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from pathlib import Path

import httpx

from haihai_tui.core.events import (
    UNKNOWN_ADVICE,
    BytesProgress,
    EventSink,
    LogLine,
    Outcome,
    ServerResponse,
    Stage,
    StageChanged,
    ignore,
)
from haihai_tui.core.haihai.answers import MAX_JSON_BYTES, ImportResult, classify
from haihai_tui.core.haihai.multipart import (
    CHUNK_SIZE,
    FileChanged,
    ImportRequest,
    MultipartStream,
    UploadCancelled,
    human_size,
)
from haihai_tui.core.haihai.transport import (
    Answer,
    OutOfTime,
    Scrub,
    UserCancelled,
    cause,
    guard,
    http_client,
    pause,
    read_capped,
    scrubbed_sink,
    ssl_context,
)

__all__ = ["MAX_RESPONSE_BYTES", "send_import"]

log = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = MAX_JSON_BYTES  # most of an import answer that is read


def _precheck(req: ImportRequest) -> ImportResult | None:
    """Everything that can be wrong before a connection is opened."""
    bad = req.problem()
    if bad is None and req.ca_bundle:
        try:
            ssl_context(req.ca_bundle)
        except (OSError, ssl.SSLError) as e:
            bad = (
                "CA_BUNDLE",
                (
                    f"Cannot use the CA file {req.ca_bundle!r} ({getattr(e, 'strerror', None) or e}): "
                    "fix ca_bundle in the integration settings."
                ),
            )
    return None if bad is None else ImportResult(Outcome.ERROR, code=bad[0], message=bad[1] + " Nothing was sent.")


# --- no answer: a failure or a cancel ---------------------------------------------------------


def _tls_verify_failed(exc: BaseException) -> bool:
    seen = 0
    e: BaseException | None = exc
    while e is not None and seen < 10:
        if isinstance(e, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(e):
            return True
        e, seen = e.__cause__ or e.__context__, seen + 1
    return False


def _failure(exc: BaseException, stream: MultipartStream, req: ImportRequest) -> tuple[ImportResult, bool]:
    """A request that got no answer, and whether it may be retried (connect failed, nothing sent)."""
    host = httpx.URL(req.url).host
    why = cause(exc)
    r = ImportResult(Outcome.ERROR)
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)) and not stream.started:
        if _tls_verify_failed(exc):
            r.code = "TLS_VERIFY_FAILED"
            r.message = (
                f"The TLS certificate of {host} could not be verified ({why}). Nothing was sent. If the "
                "server uses an in-house CA, set ca_bundle in the integration to that CA file."
            )
            return r, False
        timed_out = isinstance(exc, httpx.ConnectTimeout)
        r.code = "CONNECT_FAILED"
        r.message = (
            f"Could not connect to {host}"
            + (f" within {req.timeouts.connect:g} s" if timed_out else "")
            + f" ({why}). Nothing was sent; check the URL, DNS, firewall or proxy settings."
        )
        return r, True
    if isinstance(exc, FileChanged):
        r.code = "CSV_CHANGED"
        r.message = (
            "The CSV file changed while it was being sent, so the upload was cut before it completed; "
            "HaiHai rejects incomplete uploads. Build the file again and send again."
        )
    elif isinstance(exc, httpx.ProxyError):
        r.code = "PROXY_FAILED"
        r.message = (
            f"The proxy refused or failed the connection ({why}). Nothing was sent; check HTTPS_PROXY/ALL_PROXY."
        )
    elif isinstance(exc, httpx.UnsupportedProtocol):
        r.code = "BAD_URL"
        r.message = f"The URL or proxy uses a scheme this client cannot speak ({why}). Nothing was sent."
    elif not stream.started:
        r.code = "SEND_FAILED"
        r.message = (
            f"The request failed before any of the file was sent ({why}). Nothing was imported; "
            "it is safe to send again."
        )
    else:
        r.outcome = Outcome.UNKNOWN
        where = (
            "after the whole file was sent"
            if stream.all_handed
            else f"while sending, after {stream.handed} of {stream.total} bytes"
        )
        if isinstance(exc, OutOfTime) and stream.all_handed:
            r.code = "TIMEOUT_AFTER_SEND"
            r.message = (
                f"HaiHai's answer did not arrive complete within {exc.seconds:g} s {where} (timeouts.answer; "
                f"it came too slowly or not at all). {UNKNOWN_ADVICE}"
            )
        elif isinstance(exc, httpx.ReadTimeout) and stream.all_handed:
            r.code = "TIMEOUT_AFTER_SEND"
            r.message = f"HaiHai did not answer within {req.timeouts.read:g} s {where}. {UNKNOWN_ADVICE}"
        elif isinstance(exc, httpx.TimeoutException):
            r.code = "TIMEOUT_DURING_SEND"
            r.message = f"The upload stalled {where} ({why}). {UNKNOWN_ADVICE}"
        else:
            r.code = "CONNECTION_LOST"
            r.message = f"The connection broke {where} ({why}). {UNKNOWN_ADVICE}"
    return r, False


def _cancelled(stream: MultipartStream | None) -> ImportResult:
    if stream is None or not stream.started:
        return ImportResult(
            Outcome.CANCELLED,
            code="CANCELLED",
            message="Stopped by you before anything was sent; nothing was imported.",
        )
    if not stream.all_handed:
        return ImportResult(
            Outcome.CANCELLED,
            code="CANCELLED_DURING_SEND",
            bytes_sent=stream.handed,
            message=(
                f"Stopped by you: the upload was cut before it completed ({stream.handed} of "
                f"{stream.total} bytes); HaiHai rejects incomplete uploads, so nothing was "
                "imported."
            ),
        )
    return ImportResult(
        Outcome.UNKNOWN,
        code="CANCELLED_AFTER_SEND",
        bytes_sent=stream.handed,
        message=f"You stopped waiting after the whole file was sent. {UNKNOWN_ADVICE}",
    )


def _summary(r: ImportResult) -> str:
    head = f"{r.http_status}" if r.http_status is not None else "no answer"
    if r.outcome is Outcome.DONE:
        rows = r.rows_received if r.rows_received is not None else "?"
        return f"{head} success import_id={r.import_id or '-'} rows={rows}"
    tail = " (outcome unknown)" if r.outcome is Outcome.UNKNOWN else ""
    return f"{head} {r.code or ''}{tail}".rstrip()


# --- sending ----------------------------------------------------------------------------------


async def _exchange(client: httpx.AsyncClient, request: httpx.Request) -> Answer:
    return await read_capped(await client.send(request, stream=True), MAX_RESPONSE_BYTES)


async def _answer_clock(sent: asyncio.Event, seconds: float) -> OutOfTime:
    """Starts once the whole file was sent; ends ``seconds`` later (timeouts.answer)."""
    await sent.wait()
    await asyncio.sleep(seconds)
    return OutOfTime(seconds, "HaiHai's answer")


async def _attempt(
    client: httpx.AsyncClient,
    request: httpx.Request,
    sent: asyncio.Event,
    answer_total: float,
    cancel: asyncio.Event | None,
) -> Answer | BaseException:
    """One request/answer: the answer, or the exception that ended it (UserCancelled on cancel,
    OutOfTime when the answer did not arrive complete within ``answer_total`` after the file was sent)."""
    return await guard(_exchange(client, request), cancel=cancel, clock=_answer_clock(sent, answer_total))


async def send_import(
    req: ImportRequest,
    *,
    on_event: EventSink = ignore,
    cancel: asyncio.Event | None = None,
    part: int = 1,
    parts: int = 1,
    max_tries: int = 3,
    max_wait: float = 60.0,
    transport: httpx.AsyncBaseTransport | None = None,
    backoff: float = 1.0,
    chunk_size: int = CHUNK_SIZE,
) -> ImportResult:
    """POST the import once (retrying only where that is safe) and classify the outcome. Never raises
    for network or server trouble; the result's message says what happened and what to do."""
    scrub = Scrub(req)
    emit = scrubbed_sink(on_event, scrub)
    with scrub:
        result = (
            await _send(req, emit, cancel, part, parts, max_tries, max_wait, transport, backoff, chunk_size)
        ).scrubbed(scrub)
    log.debug("import %s/%s: %s %s", part, parts, result.outcome.value, _summary(result))
    return result


async def _send(
    req: ImportRequest,
    emit: EventSink,
    cancel: asyncio.Event | None,
    part: int,
    parts: int,
    max_tries: int,
    max_wait: float,
    transport: httpx.AsyncBaseTransport | None,
    backoff: float,
    chunk_size: int,
) -> ImportResult:
    if (bad := _precheck(req)) is not None:
        emit(LogLine(bad.message, "error"))
        return bad
    if cancel is not None and cancel.is_set():
        return _cancelled(None)
    layout = req.layout()
    wire = req.wire_headers(layout)
    host = httpx.URL(req.url).host
    waited, tries = 0.0, 0
    async with http_client(req, transport) as client:
        for _ in range(max(1, max_tries)):
            tries += 1
            sent = asyncio.Event()

            def finished(sent: asyncio.Event = sent) -> None:
                sent.set()
                emit(StageChanged(Stage.RESPONSE, "file sent; waiting for HaiHai's answer"))

            stream = MultipartStream(
                layout,
                Path(req.csv_path),
                chunk_size=chunk_size,
                cancel=cancel,
                on_progress=lambda done, total: emit(BytesProgress(done, total, part, parts)),
                on_finished=finished,
            )
            note = f" (try {tries} of {max_tries})" if tries > 1 else ""
            emit(StageChanged(Stage.SEND, f"sending {human_size(layout.total)} to {host}{note}"))
            request = client.build_request("POST", req.url, headers=wire, content=stream)
            got = await _attempt(client, request, sent, req.timeouts.answer, cancel)
            if isinstance(got, (UploadCancelled, UserCancelled)):
                r = _cancelled(stream)
                r.attempts = tries
                return r
            if isinstance(got, Answer):
                r, again = classify(got, stream, req)
                emit(ServerResponse(got.status, _summary(r), r.body_excerpt))
            elif isinstance(got, Exception):
                r, again = _failure(got, stream, req)
                if stream.started:
                    emit(ServerResponse(None, _summary(r), ""))
            else:  # KeyboardInterrupt and friends are not ours to swallow
                raise got
            r.attempts, r.bytes_sent = tries, stream.handed
            # `again` is True only where the request cannot have been processed (the retry rule
            # above classify in answers.py, and _failure above); a new request gets a fresh body stream.
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
            emit(
                LogLine(
                    f"{_summary(r)}: nothing was imported; trying again in {wait:.1f} s "
                    f"(try {tries + 1} of {max_tries})",
                    "warning",
                )
            )
            if await pause(wait, cancel):
                c = _cancelled(None)
                c.attempts = tries
                return c
            waited += wait
    return r  # not reached: the last try returns above
