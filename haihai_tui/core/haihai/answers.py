"""What came of an import request, in plain words: the result types and their classification.

How an HTTP answer becomes an ImportResult (outcome, code, a message saying what to do), per
docs/haihai-api.md, with the retry rule; server values are cleaned, never trusted. (A request that
got no answer, or was cancelled, is classified in client.py; the HTTP plumbing shared with
status.py, secret scrubbing, the TLS client and reading an answer, is in transport.py.)
"""

from __future__ import annotations

import email.utils
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone

from haihai_tui.core.encodings import mime_charset
from haihai_tui.core.events import REPORT_PLACE, UNKNOWN_ADVICE, Outcome
from haihai_tui.core.haihai.multipart import ImportRequest, MultipartStream, human_size
from haihai_tui.core.haihai.transport import Answer, json_object
from haihai_tui.core.secret import Secret
from haihai_tui.core.settings.model import TOKEN_HEADER

__all__ = [
    "EXCERPT_CHARS",
    "JST",
    "MAX_COUNT",
    "MAX_JSON_BYTES",
    "MAX_RETRY_AFTER",
    "ClientError",
    "ImportResult",
    "classify",
    "parse_retry_after",
    "server_int",
    "server_text",
]

EXCERPT_CHARS = 500
MAX_JSON_BYTES = 1024 * 1024  # most of a JSON answer (import, status) that is read
MAX_COUNT = 10**12  # a count or quota above this is a lie, not a number
MAX_RETRY_AFTER = 366 * 24 * 3600.0  # a longer Retry-After is capped to this
JST = timezone(timedelta(hours=9), "JST")


class ClientError(Exception):
    """A failure of a side request (status, result file), in plain words; never holds a secret."""


@dataclass
class ImportResult:
    """What came of one import POST. Server-supplied fields are cleaned: ``rows_received`` and the
    ``quota`` values (keys limit/used/remaining) are non-negative ints or absent, ``warnings`` short
    strings, ``import_id`` a short printable string or None."""

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

    def scrubbed(self, scrub: Callable[[str], str]) -> ImportResult:
        """A copy with ``scrub`` (transport.Scrub: the request's secrets masked) applied to every text."""
        return replace(
            self,
            message=scrub(self.message),
            body_excerpt=scrub(self.body_excerpt),
            code=scrub(self.code) if self.code else self.code,
        )


# --- Retry-After -------------------------------------------------------------------------------


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: a number, or an HTTP date (seconds from now, never negative)."""
    if not value or len(value) > 100:
        return None
    value = value.strip()
    if re.fullmatch(r"[0-9]{1,12}(?:\.[0-9]{1,6})?", value):  # ASCII digits only: no "inf", "٣", "1e9"
        return min(float(value), MAX_RETRY_AFTER)
    if not value.isascii():
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return min(max(0.0, seconds), MAX_RETRY_AFTER) if math.isfinite(seconds) else None


def _reset_text(retry_after: float | None) -> str:
    if retry_after is None:
        return "The quota resets at 00:00 JST."
    at = datetime.now(JST) + timedelta(seconds=retry_after)
    h, m = divmod(int(retry_after + 59) // 60, 60)
    return f"The quota resets at {at:%Y-%m-%d %H:%M} JST (in about {h} h {m} min)."


# --- values a server sent: never trusted, never a reason to raise --------------------------------


def server_int(value: object) -> int | None:
    """A non-negative count from the server: a JSON integer, or a string of ASCII digits; anything
    else (bool, float, "²", "٣", "-1", "1e3", absurdly large) is None. Never raises."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= MAX_COUNT else None
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,13}", value.strip(" \t")):  # [0-9]: ASCII only
        n = int(value.strip(" \t"))
        return n if n <= MAX_COUNT else None
    return None


def server_text(value: object, limit: int = 200) -> str:
    """A server value as one short line for a message (strings as they are, others as JSON-ish repr)."""
    try:
        text = value if isinstance(value, str) else repr(value)
    except RecursionError:
        text = f"<{type(value).__name__}>"
    text = " ".join(text[: limit * 4].split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _import_id(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    text = value.strip() if isinstance(value, str) else str(value) if abs(value) < 10**30 else ""
    return text if 0 < len(text) <= 100 and text.isprintable() else None


def _quota(value: object) -> dict | None:
    if not isinstance(value, dict):
        return None
    q = {k: n for k in ("limit", "used", "remaining") if (n := server_int(value.get(k))) is not None}
    return q or None


def _warnings(value: object) -> list:
    if not isinstance(value, list):
        return []
    return [server_text(w.get("message", w) if isinstance(w, dict) else w, 300) for w in value[:100]]


# --- reading an answer ------------------------------------------------------------------------


def _excerpt(body: bytes, ctype: str) -> str:
    charset = "utf-8"
    for piece in ctype.split(";")[1:]:
        k, _, v = piece.strip().partition("=")
        if k.lower() == "charset" and v:
            charset = v.strip('"')
    try:
        text = body[: EXCERPT_CHARS * 8].decode(charset, errors="replace")
    except (LookupError, ValueError):  # unknown charset, or one like idna that refuses errors="replace"
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
    text = server_text(msg, 300) if msg else ""
    if fld:
        text += f" (field {server_text(fld, 60)})"
    code = server_text(code, 60) if isinstance(code, (str, int)) and not isinstance(code, bool) else None
    return code or None, text


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
_DEFAULT_CODES = {
    400: "BAD_REQUEST",
    401: "INVALID_TOKEN",
    403: "IP_NOT_ALLOWED",
    404: "NOT_FOUND",
    413: "FILE_TOO_LARGE",
    415: "UNSUPPORTED_ENCODING",
    422: "INVALID_PARAMETER",
    429: "DAILY_LIMIT_EXCEEDED",
    503: "SERVICE_UNAVAILABLE",
}


def _token_source(req: ImportRequest) -> str:
    for k, v in req.headers.items():
        if k.lower() == TOKEN_HEADER.lower() and isinstance(v, Secret) and v.source:
            return f" ({v.source})"
    return ""


def _status_label(st: int, code: str | None) -> str:
    return f"HTTP {st}" if code in (None, f"HTTP_{st}") else f"HTTP {st} ({code})"


# The retry rule (contract, "Retry policy"). An import POST is not idempotent and spends quota, so an
# answer may lead to sending the same file again only when the server cannot have processed it:
#  * 429 (DAILY_LIMIT_EXCEEDED or another rate limit) is a refusal: nothing processed, no quota used,
#    however much of the body went out. Retried only when its Retry-After fits the waiting budget.
#  * 503 with Retry-After is retried only when the whole body had NOT been handed to the connection
#    (not stream.all_handed): then the server answered without the complete upload, and HaiHai does
#    not import an incomplete one. ``handed`` counts bytes given to the connection, never fewer than
#    reached the server, so "not all handed" is proof and not a guess. Any other 5xx that came before
#    the whole body was handed is likewise an ERROR (nothing imported), just not retried.
#  * Any 5xx once the whole body was handed is UNKNOWN (結果不明), Retry-After or not: the server may
#    have read and processed the file before failing, and a server that answered "early" without
#    reading it looks the same from here (httpcore keeps writing the body until a write fails, so a
#    small upload is usually all handed). Never replayed; the user checks HaiHai and decides.
def classify(ans: Answer, stream: MultipartStream, req: ImportRequest) -> tuple[ImportResult, bool]:
    """The answer as an ImportResult, and whether it invites a retry (see the retry rule above)."""
    st, ctype = ans.status, ans.headers.get("content-type", "").lower()
    data = None if ans.truncated else json_object(ans.body)
    is_html = data is None and ("html" in ctype or ans.body.lstrip()[:1] == b"<")
    code, said = _server_error(data)
    said = f" HaiHai said: {said.rstrip('.')}." if said else ""
    r = ImportResult(
        Outcome.ERROR,
        http_status=st,
        code=code,
        body_excerpt=_excerpt(ans.body, ctype),
        retry_after=parse_retry_after(ans.headers.get("retry-after")),
    )
    if data is not None:
        r.quota, r.warnings = _quota(data.get("quota")), _warnings(data.get("warnings"))
    check_first = f" Before sending again, check {REPORT_PLACE} in HaiHai to be sure nothing was imported."
    if 200 <= st < 300 and ans.error is not None:
        r.outcome, r.code = Outcome.UNKNOWN, "RESPONSE_LOST"
        r.message = f"HaiHai answered {st} but the connection broke while its answer was read. {UNKNOWN_ADVICE}"
    elif 200 <= st < 300 and ans.truncated:
        r.code = "ANSWER_TOO_LARGE"
        r.message = (
            f"HaiHai answered {st} with more than {human_size(len(ans.body))}, far more than an import "
            f"answer; it was not read in full, so the import is not confirmed.{check_first}"
        )
    elif 200 <= st < 300 and data is None:
        if is_html:
            title = _title(ans.body)
            r.code = "MAINTENANCE_PAGE"
            r.message = (
                f"HaiHai answered {st} with a web page instead of JSON{f' ({title!r})' if title else ''}: "
                f"HaiHai is probably in maintenance. Check HaiHai's maintenance notices.{check_first}"
            )
        else:
            r.code = "NOT_JSON"
            r.message = (
                f"HaiHai answered {st} but not with JSON, so the import is not confirmed (a proxy may "
                f"have answered instead of HaiHai).{check_first}"
            )
    elif 200 <= st < 300 and data.get("result") == "success":
        r.outcome, r.code = Outcome.DONE, None
        r.import_id = _import_id(data.get("import_id"))
        r.rows_received = server_int(data.get("rows_received"))
        r.message = (
            f"HaiHai accepted the upload (import_id {r.import_id or '-'}, "
            f"{r.rows_received if r.rows_received is not None else '?'} rows received). "
            f"Per-row results appear in HaiHai under {REPORT_PLACE}."
        )
    elif 200 <= st < 300:
        r.code = code or "NOT_SUCCESS"
        r.message = (
            f"HaiHai answered {st} but result is {server_text(data.get('result'), 60)!r}, not "
            f'"success".{said}{check_first}'
        )
    elif 300 <= st < 400:
        r.code = "REDIRECTED"
        r.message = (
            f"HaiHai answered {st}, a redirect to {server_text(ans.headers.get('location', '?'))!r}; "
            "nothing was imported by this request. Check the integration URL (https, HOST, PATH)."
        )
    elif st == 429 or (st == 503 and r.retry_after is not None and not stream.all_handed):
        r.code = code or _DEFAULT_CODES[st]
        if r.code == "DAILY_LIMIT_EXCEEDED":
            r.message = (
                f"The daily import quota is used up (429 DAILY_LIMIT_EXCEEDED); nothing was imported. "
                f"{_reset_text(r.retry_after)} Send again after that.{said}"
            )
        else:
            wait = f" and asked to wait {r.retry_after:.0f} s" if r.retry_after is not None else ""
            r.message = f"HaiHai is busy (HTTP {st} {r.code}){wait}; nothing was imported. Try again later.{said}"
        return r, r.retry_after is not None
    elif 400 <= st < 500:
        r.code = code or _DEFAULT_CODES.get(st, f"HTTP_{st}")
        advice = _STATUS_ADVICE.get(st, "Nothing was imported.").format(
            source=_token_source(req), charset=mime_charset(req.csv_encoding)
        )
        if st == 403 and r.code != "IP_NOT_ALLOWED":
            advice = "HaiHai refused the request (403); nothing was imported."
        r.message = f"HTTP {st} {r.code}: {advice}{said}"
    elif not stream.all_handed:
        r.code = code or _DEFAULT_CODES.get(st, f"HTTP_{st}")
        when = (
            "before any of the file was sent"
            if not stream.started
            else f"before the whole file was sent ({stream.handed} of {stream.total} bytes; HaiHai does not "
            "import an incomplete upload)"
        )
        r.message = f"HaiHai answered {_status_label(st, r.code)} {when}; nothing was imported.{said}"
    else:
        r.outcome, r.code = Outcome.UNKNOWN, code or _DEFAULT_CODES.get(st, f"HTTP_{st}")
        asked = (
            f" It asked to try again in {r.retry_after:.0f} s, but sending the file again could import it twice."
            if r.retry_after is not None
            else ""
        )
        r.message = (
            f"HaiHai answered {_status_label(st, r.code)} after the file was sent.{said}{asked} {UNKNOWN_ADVICE}"
        )
    return r, False
