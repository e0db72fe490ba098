"""The HTTP plumbing shared by the import (client.py) and the status/result requests (status.py).

Keeping secrets out of everything that leaves (events, results, exception texts and the HTTP
libraries' log records), the TLS-verifying HTTP client, reading an answer up to a cap, and waiting
for a request with a TOTAL deadline and the user's cancel. httpx's timeouts are per read, so a
server that drips one byte per interval never trips them; :func:`guard` bounds the whole wait.
What an answer means is decided in answers.py and status.py; this module imports neither, so
each of them can import it.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import ssl
from collections.abc import Awaitable
from dataclasses import dataclass, replace
from typing import Any

import certifi
import httpx

from haihai_tui.core.events import EventSink, LogLine, RunEvent, ServerResponse, StageChanged
from haihai_tui.core.haihai.multipart import ImportRequest
from haihai_tui.core.secret import MASK
from haihai_tui.core.text import safe

log = logging.getLogger(__name__)


# --- keeping secrets out of what leaves --------------------------------------------------------


class _LogScrub(logging.Filter):
    """Masks the secrets of requests in flight in httpx/httpcore log records (httpcore logs
    response headers at DEBUG, and a server could echo the token in one)."""

    def __init__(self) -> None:
        super().__init__()
        self.active: dict[str, int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        values = tuple(self.active)
        text = record.getMessage()
        clean = text
        for v in values:
            clean = clean.replace(v, MASK)
        # what a server says (headers, reasons) may carry terminal escapes: a log shows them, never acts on them
        clean = safe(clean, multiline=True)
        if clean != text:
            record.msg, record.args = clean, None
        return True


_LOG_SCRUB = _LogScrub()
_PKG = __name__.rpartition(".")[0]
for _name in (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
    f"{_PKG}.client",
    f"{_PKG}.answers",
    f"{_PKG}.status",
    f"{_PKG}.transport",
):
    logging.getLogger(_name).addFilter(_LOG_SCRUB)


class Scrub:
    """Removes the request's secret values from any text that leaves the client; while in use as
    a context manager, also from the HTTP libraries' log records."""

    def __init__(self, req: ImportRequest) -> None:
        self.values = req.secret_values()

    def __enter__(self) -> Scrub:
        for v in self.values:
            _LOG_SCRUB.active[v] = _LOG_SCRUB.active.get(v, 0) + 1
        return self

    def __exit__(self, *exc: object) -> None:
        for v in self.values:
            if _LOG_SCRUB.active.get(v, 0) <= 1:
                _LOG_SCRUB.active.pop(v, None)
            else:
                _LOG_SCRUB.active[v] -= 1

    def __call__(self, text: str) -> str:
        for v in self.values:
            if v in text:
                text = text.replace(v, MASK)
        return text

    def event(self, ev: RunEvent) -> RunEvent:
        if isinstance(ev, LogLine):
            return replace(ev, text=self(ev.text))
        if isinstance(ev, ServerResponse):
            return replace(ev, summary=self(ev.summary), body_excerpt=self(ev.body_excerpt))
        if isinstance(ev, StageChanged):
            return replace(ev, message=self(ev.message))
        return ev


def scrubbed_sink(on_event: EventSink, scrub: Scrub) -> EventSink:
    """``on_event`` behind the scrub; a listener that raises is logged, never breaks the request."""

    def emit(ev: RunEvent) -> None:
        try:
            on_event(scrub.event(ev))
        except Exception:  # a broken listener must not break an upload half-way
            log.warning("event listener failed on %s", type(ev).__name__, exc_info=True)

    return emit


def cause(exc: BaseException) -> str:
    """An exception as one short text: its type and message (scrub it before it leaves)."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# --- the HTTP client ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _ssl_context(ca_bundle: str, _mtime: float) -> ssl.SSLContext:
    ctx = ssl.create_default_context()  # system store (honours SSL_CERT_FILE / SSL_CERT_DIR)
    ctx.load_verify_locations(cafile=certifi.where())
    if ca_bundle:
        ctx.load_verify_locations(cafile=ca_bundle)
    return ctx


def ssl_context(ca_bundle: str = "") -> ssl.SSLContext:
    """Verification always on: system CAs + certifi + the integration's extra CA file."""
    mtime = os.stat(ca_bundle).st_mtime if ca_bundle else 0.0
    return _ssl_context(ca_bundle, mtime)


def http_client(req: ImportRequest, transport: httpx.AsyncBaseTransport | None) -> httpx.AsyncClient:
    """An httpx client with the integration's per-operation timeouts; TLS always verified, no redirects."""
    t = req.timeouts
    timeout = httpx.Timeout(connect=t.connect, read=t.read, write=t.write, pool=t.pool)
    verify = ssl_context(req.ca_bundle) if transport is None else True
    return httpx.AsyncClient(
        verify=verify, trust_env=True, timeout=timeout, transport=transport, follow_redirects=False
    )


# --- reading an answer ------------------------------------------------------------------------


@dataclass
class Answer:
    """An HTTP answer as read (the body possibly cut at a cap)."""

    status: int
    headers: httpx.Headers
    body: bytes
    error: Exception | None = None  # reading the body broke off
    truncated: bool = False  # the body was longer than the cap; only its head was read


async def read_capped(resp: httpx.Response, limit: int) -> Answer:
    """Read at most ``limit`` bytes of a streamed response, then close it."""
    body, error, over = bytearray(), None, False
    try:
        async for chunk in resp.aiter_bytes():
            if len(chunk) > limit - len(body):
                body += chunk[: limit - len(body)]
                over = True
                break
            body += chunk
    except httpx.HTTPError as e:
        error = e
    finally:
        await resp.aclose()
    return Answer(resp.status_code, resp.headers, bytes(body), error, over)


def json_object(body: bytes) -> dict | None:
    """The body as a JSON object, or None (not JSON, not an object, not UTF-8, nested absurdly deep)."""
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: "[[[[..." nested deep
        return None
    return data if isinstance(data, dict) else None


# --- waiting: total deadlines and the user's cancel -------------------------------------------


class UserCancelled(Exception):
    """The user's cancel event was set while a request was waited for."""


class OutOfTime(Exception):
    """A total deadline ran out while a request was waited for (however lively the server looked)."""

    def __init__(self, seconds: float, what: str) -> None:
        super().__init__(f"{what} took longer than {seconds:g} s in total")
        self.seconds = seconds
        self.what = what


async def after(seconds: float, what: str) -> OutOfTime:
    """A clock for :func:`guard`: ends after ``seconds`` with the OutOfTime to report."""
    await asyncio.sleep(max(0.0, seconds))
    return OutOfTime(seconds, what)


async def guard(
    work: Awaitable[Any], *, cancel: asyncio.Event | None = None, clock: Awaitable[OutOfTime] | None = None
) -> Any:
    """Wait for ``work`` until it ends, the user cancels, or ``clock`` ends, whichever comes first.

    Returns what ``work`` returned, or the exception that ended it, or :class:`UserCancelled`, or
    the clock's :class:`OutOfTime` (returned, not raised, so the caller classifies them together).
    ``work`` is cancelled and awaited before this returns, so no request outlives the wait. If the
    caller itself is cancelled, so is ``work``, and the cancellation goes on.
    """
    task = asyncio.ensure_future(work)
    waiter = asyncio.ensure_future(cancel.wait()) if cancel is not None else None
    timer = asyncio.ensure_future(clock) if clock is not None else None
    others = {t for t in (waiter, timer) if t is not None}
    try:
        await asyncio.wait({task} | others, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in others:
            t.cancel()
        if not task.done():
            task.cancel()
            await asyncio.wait({task})
        if others:
            await asyncio.wait(others)
    if task.done() and not task.cancelled():
        return task.exception() or task.result()
    if cancel is not None and cancel.is_set():
        return UserCancelled()
    if timer is not None and timer.done() and not timer.cancelled() and timer.exception() is None:
        return timer.result()
    return UserCancelled()


async def pause(seconds: float, cancel: asyncio.Event | None) -> bool:
    """Wait ``seconds``; True as soon as cancel is set (then the wait is cut short)."""
    if cancel is None:
        await asyncio.sleep(seconds)
        return False
    if cancel.is_set():
        return True
    try:
        await asyncio.wait_for(cancel.wait(), seconds)
        return True
    except TimeoutError:
        return False
