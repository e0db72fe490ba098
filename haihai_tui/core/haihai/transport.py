"""The HTTP plumbing shared by the import (client.py) and the status/result requests (status.py).

Keeping secrets out of everything that leaves (events, results, exception texts and the HTTP
libraries' log records), the TLS-verifying HTTP client, and reading an answer up to a cap. What an
answer means is decided in answers.py; this module imports nothing of the three above, so each of
them can import it.
"""

from __future__ import annotations

import functools
import logging
import os
import ssl
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import certifi
import httpx

from haihai_tui.core.events import EventSink, LogLine, RunEvent, ServerResponse, StageChanged
from haihai_tui.core.haihai.multipart import ImportRequest
from haihai_tui.core.secret import MASK

if TYPE_CHECKING:
    from haihai_tui.core.haihai.answers import ImportResult

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
        if values:
            text = record.getMessage()
            if any(v in text for v in values):
                for v in values:
                    text = text.replace(v, MASK)
                record.msg, record.args = text, None
        return True


_LOG_SCRUB = _LogScrub()
_PKG = __name__.rpartition(".")[0]
for _name in ("httpx", "httpcore.connection", "httpcore.http11", "httpcore.http2", "httpcore.proxy",
              "httpcore.socks", f"{_PKG}.client", f"{_PKG}.answers", f"{_PKG}.status", f"{_PKG}.transport"):
    logging.getLogger(_name).addFilter(_LOG_SCRUB)


class _Scrub:
    """Removes the request's secret values from any text that leaves the client; while in use as
    a context manager, also from the HTTP libraries' log records."""

    def __init__(self, req: ImportRequest) -> None:
        self.values = req._secret_values()

    def __enter__(self) -> "_Scrub":
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

    def result(self, r: ImportResult) -> ImportResult:
        return replace(r, message=self(r.message), body_excerpt=self(r.body_excerpt),
                       code=self(r.code) if r.code else r.code)


def _sink(on_event: EventSink, scrub: _Scrub) -> EventSink:
    def emit(ev: RunEvent) -> None:
        try:
            on_event(scrub.event(ev))
        except Exception:  # a broken listener must not break an upload half-way
            log.warning("event listener failed on %s", type(ev).__name__, exc_info=True)
    return emit


def _cause(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# --- the HTTP client ---------------------------------------------------------------------------

@functools.lru_cache(maxsize=8)
def _ssl_context(ca_bundle: str, _mtime: float) -> ssl.SSLContext:
    ctx = ssl.create_default_context()          # system store (honours SSL_CERT_FILE / SSL_CERT_DIR)
    ctx.load_verify_locations(cafile=certifi.where())
    if ca_bundle:
        ctx.load_verify_locations(cafile=ca_bundle)
    return ctx


def ssl_context(ca_bundle: str = "") -> ssl.SSLContext:
    """Verification always on: system CAs + certifi + the integration's extra CA file."""
    mtime = os.stat(ca_bundle).st_mtime if ca_bundle else 0.0
    return _ssl_context(ca_bundle, mtime)


def _client(req: ImportRequest, transport: httpx.AsyncBaseTransport | None) -> httpx.AsyncClient:
    t = req.timeouts
    timeout = httpx.Timeout(connect=t.connect, read=t.read, write=t.write, pool=t.pool)
    verify = ssl_context(req.ca_bundle) if transport is None else True
    return httpx.AsyncClient(verify=verify, trust_env=True, timeout=timeout, transport=transport,
                             follow_redirects=False)


# --- reading an answer ------------------------------------------------------------------------

@dataclass
class _Answer:
    status: int
    headers: httpx.Headers
    body: bytes
    error: Exception | None = None   # reading the body broke off
    truncated: bool = False          # the body was longer than the cap; only its head was read


async def read_capped(resp: httpx.Response, limit: int) -> _Answer:
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
    return _Answer(resp.status_code, resp.headers, bytes(body), error, over)
