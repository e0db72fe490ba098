"""What came of an import request, in plain words: the result types and their classification.

How an HTTP answer, a transport failure or a cancel becomes an ImportResult (outcome, code, a message
saying what to do), per /work/shared/spec/haihai-import-api.md. Also the plumbing that the import
(client.py) and the status/result requests (status.py) share: keeping secrets out of everything that
leaves, and the TLS-verifying HTTP client.
"""

from __future__ import annotations

import email.utils
import functools
import json
import logging
import os
import re
import ssl
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone

import certifi
import httpx

from .events import EventSink, LogLine, Outcome, RunEvent, ServerResponse, StageChanged
from .model import TOKEN_HEADER
from .multipart import FileChanged, ImportRequest, MultipartStream, csv_charset
from .secret import MASK, Secret

log = logging.getLogger(__name__)

EXCERPT_CHARS = 500
JST = timezone(timedelta(hours=9), "JST")
REPORT_PLACE = "レポート > 一括登録・削除の処理結果"
UNKNOWN_ADVICE = (f"The upload may or may not have been processed: check {REPORT_PLACE} and the import "
                  "history in HaiHai before sending again. It was NOT re-sent.")


class ClientError(Exception):
    """A failure of a side request (status, result file), in plain words; never holds a secret."""


@dataclass
class ImportResult:
    outcome: Outcome
    http_status: int | None = None
    code: str | None = None
    message: str = ""
    import_id: str | None = None
    rows_received: int | None = None
    quota: dict | None = None
    warnings: list = field(default_factory=list)
    body_excerpt: str = ""
    attempts: int = 0
    bytes_sent: int = 0
    retry_after: float | None = None


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
              "httpcore.socks", f"{_PKG}.client", f"{_PKG}.answers", f"{_PKG}.status"):
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


# --- Retry-After -------------------------------------------------------------------------------

def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: a number, or an HTTP date (seconds from now, never negative)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def _reset_text(retry_after: float | None) -> str:
    if retry_after is None:
        return "The quota resets at 00:00 JST."
    at = datetime.now(JST) + timedelta(seconds=retry_after)
    h, m = divmod(int(retry_after + 59) // 60, 60)
    return f"The quota resets at {at:%Y-%m-%d %H:%M} JST (in about {h} h {m} min)."


# --- reading an answer ------------------------------------------------------------------------

@dataclass
class _Answer:
    status: int
    headers: httpx.Headers
    body: bytes
    error: Exception | None = None   # reading the body broke off


def _json(body: bytes) -> dict | None:
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _excerpt(body: bytes, ctype: str) -> str:
    charset = "utf-8"
    for piece in ctype.split(";")[1:]:
        k, _, v = piece.strip().partition("=")
        if k.lower() == "charset" and v:
            charset = v.strip('"')
    try:
        text = body[: EXCERPT_CHARS * 8].decode(charset, errors="replace")
    except LookupError:
        text = body[: EXCERPT_CHARS * 8].decode("utf-8", errors="replace")
    return " ".join(text.split())[:EXCERPT_CHARS]


def _server_error(data: dict | None) -> tuple[str | None, str]:
    """(code, message with field) from {"error": {"code", "message", "field"}} or flatter shapes."""
    if not data:
        return None, ""
    err = data.get("error")
    if isinstance(err, dict):
        code, msg, fld = err.get("code"), err.get("message"), err.get("field")
    else:
        code, msg, fld = (err if isinstance(err, str) else data.get("code")), data.get("message"), None
    text = str(msg) if msg else ""
    if fld:
        text += f" (field {fld})"
    return (str(code) if code else None), text


def _title(body: bytes) -> str:
    m = re.search(r"<title[^>]*>(.*?)</title>", body[:20000].decode("utf-8", errors="replace"), re.I | re.S)
    return " ".join(m.group(1).split())[:120] if m else ""


_STATUS_ADVICE = {
    400: "HaiHai found the request malformed; check json_name and csv_name in the integration settings "
         "(defaults import_settings and customer_list).",
    401: f"The API token was refused: it is invalid, or was regenerated or deleted in HaiHai. Check the "
         f"source of the {TOKEN_HEADER} header{{source}} and put HaiHai's current API token there.",
    403: "HaiHai refused this machine's address: add this server's public IP address to HaiHai's API "
         "IP allow-list, then send again.",
    404: "The URL was not found: check HOST and PATH in the integration URL "
         "https://HOST/PATH/api/v1/custcsv/import (both come from your HaiHai login URL).",
    413: "The upload is over HaiHai's per-request limit: lower the rows or bytes per request in the "
         "integration's limits so the run is split, then send again.",
    415: "HaiHai could not read the CSV in the declared encoding ({charset}): check csv_encoding (sjis, "
         "or utf-8 only with the multi-language option).",
    422: "HaiHai rejected the settings or the CSV; nothing was processed and no quota was used. Fix the "
         "KEY/VALUE grid or the CSV columns, then send again.",
}
_DEFAULT_CODES = {400: "BAD_REQUEST", 401: "INVALID_TOKEN", 403: "IP_NOT_ALLOWED", 404: "NOT_FOUND",
                  413: "FILE_TOO_LARGE", 415: "UNSUPPORTED_ENCODING", 422: "INVALID_PARAMETER",
                  429: "DAILY_LIMIT_EXCEEDED", 503: "SERVICE_UNAVAILABLE"}


def _token_source(req: ImportRequest) -> str:
    for k, v in req.headers.items():
        if k.lower() == TOKEN_HEADER.lower() and isinstance(v, Secret) and v.source:
            return f" ({v.source})"
    return ""


def _classify(ans: _Answer, stream: MultipartStream, req: ImportRequest) -> tuple[ImportResult, bool]:
    """The answer as an ImportResult, and whether it invites a retry (429/503 with Retry-After)."""
    st, ctype = ans.status, ans.headers.get("content-type", "").lower()
    data = _json(ans.body)
    is_html = data is None and ("html" in ctype or ans.body.lstrip()[:1] == b"<")
    code, said = _server_error(data)
    said = f" HaiHai said: {said.rstrip('.')}." if said else ""
    r = ImportResult(Outcome.ERROR, http_status=st, code=code, body_excerpt=_excerpt(ans.body, ctype),
                     retry_after=parse_retry_after(ans.headers.get("retry-after")))
    if data is not None:
        r.quota = data.get("quota") if isinstance(data.get("quota"), dict) else None
        r.warnings = list(data.get("warnings") or []) if isinstance(data.get("warnings"), list) else []
    check_first = f" Before sending again, check {REPORT_PLACE} in HaiHai to be sure nothing was imported."
    if 200 <= st < 300 and ans.error is not None:
        r.outcome, r.code = Outcome.UNKNOWN, "RESPONSE_LOST"
        r.message = f"HaiHai answered {st} but the connection broke while its answer was read. {UNKNOWN_ADVICE}"
    elif 200 <= st < 300 and data is None:
        if is_html:
            title = _title(ans.body)
            r.code = "MAINTENANCE_PAGE"
            r.message = (f"HaiHai answered {st} with a web page instead of JSON{f' ({title!r})' if title else ''}: "
                         f"HaiHai is probably in maintenance. Check HaiHai's maintenance notices.{check_first}")
        else:
            r.code = "NOT_JSON"
            r.message = (f"HaiHai answered {st} but not with JSON, so the import is not confirmed (a proxy may "
                         f"have answered instead of HaiHai).{check_first}")
    elif 200 <= st < 300 and data.get("result") == "success":
        r.outcome, r.code = Outcome.DONE, None
        r.import_id = str(data["import_id"]) if data.get("import_id") is not None else None
        rows = data.get("rows_received")
        r.rows_received = rows if isinstance(rows, int) else int(rows) if str(rows).isdigit() else None
        r.message = (f"HaiHai accepted the upload (import_id {r.import_id or '-'}, "
                     f"{r.rows_received if r.rows_received is not None else '?'} rows received). "
                     f"Per-row results appear in HaiHai under {REPORT_PLACE}.")
    elif 200 <= st < 300:
        r.code = code or "NOT_SUCCESS"
        r.message = (f"HaiHai answered {st} but result is {data.get('result')!r}, not \"success\".{said}"
                     f"{check_first}")
    elif 300 <= st < 400:
        r.code = "REDIRECTED"
        r.message = (f"HaiHai answered {st}, a redirect to {ans.headers.get('location', '?')!r}; nothing was "
                     "imported by this request. Check the integration URL (https, HOST, PATH).")
    elif st == 429 or (st == 503 and r.retry_after is not None):
        r.code = code or _DEFAULT_CODES[st]
        if r.code == "DAILY_LIMIT_EXCEEDED":
            r.message = (f"The daily import quota is used up (429 DAILY_LIMIT_EXCEEDED); nothing was imported. "
                         f"{_reset_text(r.retry_after)} Send again after that.{said}")
        else:
            wait = f" and asked to wait {r.retry_after:.0f} s" if r.retry_after is not None else ""
            r.message = f"HaiHai is busy (HTTP {st} {r.code}){wait}; nothing was imported. Try again later.{said}"
        return r, r.retry_after is not None
    elif 400 <= st < 500:
        r.code = code or _DEFAULT_CODES.get(st, f"HTTP_{st}")
        advice = _STATUS_ADVICE.get(st, "Nothing was imported.").format(
            source=_token_source(req), charset=csv_charset(req.csv_encoding))
        if st == 403 and r.code != "IP_NOT_ALLOWED":
            advice = "HaiHai refused the request (403); nothing was imported."
        r.message = f"HTTP {st} {r.code}: {advice}{said}"
    elif not stream.started:
        r.code = code or f"HTTP_{st}"
        r.message = f"HaiHai answered HTTP {st} before any of the file was sent; nothing was imported.{said}"
    else:
        r.outcome, r.code = Outcome.UNKNOWN, code or f"HTTP_{st}"
        r.message = f"HaiHai answered HTTP {st} ({r.code}) after the file was sent.{said} {UNKNOWN_ADVICE}"
    return r, False


def _cause(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


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
    why = _cause(exc)
    r = ImportResult(Outcome.ERROR)
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)) and not stream.started:
        if _tls_verify_failed(exc):
            r.code = "TLS_VERIFY_FAILED"
            r.message = (f"The TLS certificate of {host} could not be verified ({why}). Nothing was sent. If the "
                         "server uses an in-house CA, set ca_bundle in the integration to that CA file.")
            return r, False
        timed_out = isinstance(exc, httpx.ConnectTimeout)
        r.code = "CONNECT_FAILED"
        r.message = (f"Could not connect to {host}" + (f" within {req.timeouts.connect:g} s" if timed_out else "")
                     + f" ({why}). Nothing was sent; check the URL, DNS, firewall or proxy settings.")
        return r, True
    if isinstance(exc, FileChanged):
        r.code = "CSV_CHANGED"
        r.message = ("The CSV file changed while it was being sent, so the upload was cut before it completed; "
                     "HaiHai rejects incomplete uploads. Build the file again and send again.")
    elif isinstance(exc, httpx.ProxyError):
        r.code = "PROXY_FAILED"
        r.message = f"The proxy refused or failed the connection ({why}). Nothing was sent; check HTTPS_PROXY/ALL_PROXY."
    elif isinstance(exc, httpx.UnsupportedProtocol):
        r.code = "BAD_URL"
        r.message = f"The URL or proxy uses a scheme this client cannot speak ({why}). Nothing was sent."
    elif not stream.started:
        r.code = "SEND_FAILED"
        r.message = f"The request failed before any of the file was sent ({why}). Nothing was imported; it is safe to send again."
    else:
        r.outcome = Outcome.UNKNOWN
        where = ("after the whole file was sent" if stream.all_handed
                 else f"while sending, after {stream.handed} of {stream.total} bytes")
        if isinstance(exc, httpx.ReadTimeout) and stream.all_handed:
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
        return ImportResult(Outcome.CANCELLED, code="CANCELLED",
                            message="Stopped by you before anything was sent; nothing was imported.")
    if not stream.all_handed:
        return ImportResult(Outcome.CANCELLED, code="CANCELLED_DURING_SEND", bytes_sent=stream.handed,
                            message=(f"Stopped by you: the upload was cut before it completed ({stream.handed} of "
                                     f"{stream.total} bytes); HaiHai rejects incomplete uploads, so nothing was imported."))
    return ImportResult(Outcome.UNKNOWN, code="CANCELLED_AFTER_SEND", bytes_sent=stream.handed,
                        message=f"You stopped waiting after the whole file was sent. {UNKNOWN_ADVICE}")


def _summary(r: ImportResult) -> str:
    head = f"{r.http_status}" if r.http_status is not None else "no answer"
    if r.outcome is Outcome.DONE:
        return f"{head} success import_id={r.import_id or '-'} rows={r.rows_received if r.rows_received is not None else '?'}"
    tail = " (outcome unknown)" if r.outcome is Outcome.UNKNOWN else ""
    return f"{head} {r.code or ''}{tail}".rstrip()
