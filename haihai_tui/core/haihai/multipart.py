"""The HaiHai import request as bytes: URL rule, headers, and the multipart/form-data body
(a JSON part, then the CSV file part), plus its --dry-run preview. No network here (client.py).

The body is laid out up front (so its Content-Length is known) and streamed: the small preamble,
the CSV file in fixed-size chunks read as the connection consumes them, then the closing boundary.
Memory stays flat whatever the file size; progress is counted in bytes; cancel is checked between
chunks. A stream can be iterated once only, so a body can never be replayed by accident.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from haihai_tui import __version__
from haihai_tui.core.encodings import mime_charset, normalize_encoding
from haihai_tui.core.secret import MASK, Secret, is_secret_header
from haihai_tui.core.settings.model import TOKEN_HEADER, Timeouts
from haihai_tui.core.urls import URL_SHAPE, split_url

#: bytes read from the CSV file per chunk handed to the connection (tuned with bench/upload.py)
CHUNK_SIZE = 1024 * 1024
#: at most this many progress callbacks per second (the first and the last always go out)
PROGRESS_INTERVAL = 0.05

_OWN_HEADERS = {"content-type", "content-length", "transfer-encoding", "host"}


def check_url(url: str) -> str | None:
    """Error text unless the URL is https://, or http:// to this machine (the rule in core/urls.py).

    The rule reads the URL with the standard library; the URL is then read again the way it will be
    sent (httpx), and refused unless both agree on the scheme and host."""
    parts, bad = split_url(url)
    if bad is not None:
        return bad
    try:
        u = httpx.URL(url)
    except Exception:
        return f"{url!r} is not a URL: use {URL_SHAPE}"
    if u.scheme != parts.scheme.lower() or u.host.lower().strip("[]") != (parts.hostname or "").lower():
        return f"{url!r} is read differently by different URL parsers: write it plainly as {URL_SHAPE}"
    return None


def is_secret_name(name: str) -> bool:
    """A header whose value is never shown (the token header and every name in core/secret.py)."""
    return name.lower() == TOKEN_HEADER.lower() or is_secret_header(name)


class UploadCancelled(Exception):
    """The user cancelled while the body was being sent."""


class FileChanged(Exception):
    """The CSV file changed size while it was being sent."""


def new_boundary() -> str:
    return "haihai-tui-" + secrets.token_hex(16)


def _param(value: str) -> str:
    """A Content-Disposition parameter value, quoted the way browsers (HTML5) do it."""
    return value.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


@dataclass(frozen=True)
class Layout:
    """Every byte of the body except the CSV file's content."""

    boundary: str
    json_head: bytes  # boundary line + part headers + blank line
    json_body: bytes
    csv_head: bytes  # CRLF after the JSON, boundary line + part headers + blank line
    csv_size: int
    epilogue: bytes  # CRLF + closing boundary

    @property
    def preamble(self) -> bytes:
        return self.json_head + self.json_body + self.csv_head

    @property
    def total(self) -> int:
        return len(self.json_head) + len(self.json_body) + len(self.csv_head) + self.csv_size + len(self.epilogue)

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"


def build_layout(
    *,
    boundary: str,
    json_name: str,
    params: dict[str, str],
    csv_name: str,
    csv_filename: str,
    csv_encoding: str,
    csv_size: int,
) -> Layout:
    b = boundary
    json_body = json.dumps(params, ensure_ascii=False).encode("utf-8")
    json_head = (
        f"--{b}\r\n"
        f'Content-Disposition: form-data; name="{_param(json_name)}"\r\n'
        f"Content-Type: application/json; charset=UTF-8\r\n\r\n"
    ).encode()
    csv_head = (
        f"\r\n--{b}\r\n"
        f'Content-Disposition: form-data; name="{_param(csv_name)}"; '
        f'filename="{_param(csv_filename)}"\r\n'
        f"Content-Type: text/csv; charset={mime_charset(csv_encoding)}\r\n\r\n"
    ).encode()
    return Layout(b, json_head, json_body, csv_head, csv_size, f"\r\n--{b}--\r\n".encode("ascii"))


class MultipartStream:
    """An async iterable body for httpx: preamble, the CSV file chunk by chunk, epilogue.

    ``handed`` counts bytes given to the connection (anything above 0 means the server may have
    seen part of the body); ``finished`` is set once the connection asked past the last byte.
    """

    def __init__(
        self,
        layout: Layout,
        path: Path,
        *,
        chunk_size: int = CHUNK_SIZE,
        on_progress: Callable[[int, int], None] | None = None,
        on_finished: Callable[[], None] | None = None,
        cancel: asyncio.Event | None = None,
    ) -> None:
        self.layout = layout
        self.path = Path(path)
        self.chunk_size = chunk_size
        self.total = layout.total
        self.handed = 0
        self.finished = False
        self._on_progress = on_progress
        self._on_finished = on_finished
        self._cancel = cancel
        self._used = False
        self._last_progress = 0.0

    @property
    def started(self) -> bool:
        return self.handed > 0

    @property
    def all_handed(self) -> bool:
        return self.handed >= self.total

    def __aiter__(self) -> AsyncIterator[bytes]:
        if self._used:
            raise RuntimeError("an upload body is sent once only; build a new request to send again")
        self._used = True
        return self._chunks()

    def _progress(self, force: bool = False) -> None:
        if self._on_progress is None:
            return
        now = time.monotonic()
        if force or now - self._last_progress >= PROGRESS_INTERVAL:
            self._last_progress = now
            self._on_progress(self.handed, self.total)

    def _check_cancel(self) -> None:
        if self._cancel is not None and self._cancel.is_set():
            raise UploadCancelled()

    async def _chunks(self) -> AsyncIterator[bytes]:
        self._check_cancel()
        self._progress(force=True)
        size = self.layout.csv_size
        with open(self.path, "rb", buffering=0) as f:
            first = f.read(min(self.chunk_size, size)) if size else b""
            left = size - len(first)
            if size and not first:
                raise FileChanged()
            chunk = self.layout.preamble + first
            while True:
                self.handed += len(chunk)
                yield chunk
                self._progress()
                if left <= 0:
                    break
                self._check_cancel()
                chunk = f.read(min(self.chunk_size, left))
                if not chunk:
                    raise FileChanged()
                left -= len(chunk)
            if os.fstat(f.fileno()).st_size != size:
                raise FileChanged()
        self._check_cancel()
        self.handed += len(self.layout.epilogue)
        yield self.layout.epilogue
        self.finished = True
        self._progress(force=True)
        if self._on_finished is not None:
            self._on_finished()


def human_size(n: float) -> str:
    """1234567 -> '1.2 MiB'."""
    if n < 1024:
        return f"{int(n)} bytes"
    for unit in ("KiB", "MiB", "GiB"):
        n /= 1024
        if n < 1024 or unit == "GiB":
            break
    return f"{n:.1f} {unit}"


def csv_head_and_count(path: Path, codec: str, head: int = 5) -> tuple[list[str], int]:
    """The first ``head`` lines of the file decoded, and how many lines the file has (streamed)."""
    lines: list[str] = []
    count = 0
    with open(path, "rb") as f:
        for raw in f:
            if len(lines) < head:
                lines.append(raw.decode(codec, errors="replace").rstrip("\r\n"))
            count += 1
    return lines, count


def render_preview(
    *,
    method: str,
    url: str,
    headers: list[tuple[str, str]],
    layout: Layout,
    json_name: str,
    csv_name: str,
    csv_path: Path,
    codec: str,
) -> str:
    """The request as text (headers must already be masked): what --dry-run shows."""
    out = [f"{method} {url}"]
    out += [f"{k}: {v}" for k, v in headers]
    out.append("")
    out += layout.preamble.decode("utf-8").replace("\r\n", "\n").split("\n")[:-1]
    shown, count = csv_head_and_count(csv_path, codec)
    out += shown
    if count > len(shown):
        out.append(f"... {count - len(shown)} more lines")
    out.append(layout.epilogue.decode("ascii").strip("\r\n"))
    out.append("")
    json_part = len(layout.json_head) + len(layout.json_body)
    csv_part = len(layout.csv_head) + layout.csv_size
    out.append(f"part {json_name!r}: {json_part} bytes (JSON {len(layout.json_body)} bytes)")
    out.append(f"part {csv_name!r}: {csv_part} bytes (CSV file {layout.csv_size} bytes, {count} lines)")
    big = f" ({human_size(layout.total)})" if layout.total >= 1024 else ""
    out.append(f"body total: {layout.total} bytes{big}")
    return "\n".join(out)


@dataclass(repr=False)
class ImportRequest:
    """One import POST. ``csv_path`` is the file built by pre-flight; it is streamed, never read whole."""

    url: str
    headers: dict[str, str | Secret]
    params: dict[str, str]
    csv_path: Path
    json_name: str = "import_settings"
    csv_name: str = "customer_list"
    csv_encoding: str = "cp932"  # "cp932" (also "sjis") -> Shift_JIS; "utf-8" -> UTF-8
    csv_filename: str = "customer_list.csv"
    timeouts: Timeouts = field(default_factory=Timeouts)
    ca_bundle: str = ""  # an extra CA file; verification is always on
    boundary: str = field(default_factory=new_boundary)

    def __repr__(self) -> str:
        return (
            f"ImportRequest(url={self.url!r}, headers={dict(self.masked_headers())!r}, csv_path={str(self.csv_path)!r})"
        )

    def layout(self) -> Layout:
        return build_layout(
            boundary=self.boundary,
            json_name=self.json_name,
            params=self.params,
            csv_name=self.csv_name,
            csv_filename=self.csv_filename,
            csv_encoding=self.csv_encoding,
            csv_size=os.stat(self.csv_path).st_size,
        )

    def _headers(self, reveal: bool, layout: Layout | None) -> list[tuple[str, str]]:
        user = [(k, v) for k, v in self.headers.items() if k.lower() not in _OWN_HEADERS]
        names = {k.lower() for k, _ in user}
        own = (
            ("User-Agent", f"haihai-tui/{__version__}"),
            ("Accept", "application/json"),
            ("Accept-Encoding", "gzip, deflate"),
            ("Connection", "keep-alive"),
        )
        out = [(k, v) for k, v in own if k.lower() not in names]
        for k, v in user:
            if isinstance(v, Secret):
                out.append((k, v.reveal() if reveal else MASK))
            else:
                out.append((k, v if reveal or not is_secret_name(k) else MASK))
        if layout is not None:
            out += [("Content-Type", layout.content_type), ("Content-Length", str(layout.total))]
        return out

    def masked_headers(self, layout: Layout | None = None) -> list[tuple[str, str]]:
        return self._headers(False, layout)

    def wire_headers(self, layout: Layout | None) -> list[tuple[str, str]]:
        """The headers with the token revealed: the one place it goes onto the wire."""
        return self._headers(True, layout)

    def secret_values(self) -> list[str]:
        vals = [
            v.reveal() if isinstance(v, Secret) else v
            for k, v in self.headers.items()
            if isinstance(v, Secret) or is_secret_name(k)
        ]
        return sorted((v for v in vals if len(v) >= 4), key=len, reverse=True)

    def problem(self) -> tuple[str, str] | None:
        """(code, message) for what makes this request unsendable before any connection; None if fine."""
        if (bad := check_url(self.url)) is not None:
            return "BAD_URL", f"The integration URL is not usable: {bad}."
        try:
            mime_charset(self.csv_encoding)
        except ValueError as e:
            return "BAD_ENCODING", f"{e}."
        for name, value in self.headers.items():
            raw = value.reveal() if isinstance(value, Secret) else value
            where = f" (from {value.source})" if isinstance(value, Secret) and value.source else ""
            if not name or not name.isascii() or any(c in name for c in " :\r\n\t"):
                return "BAD_HEADER", (
                    f"The header name {name!r} is not valid in HTTP: fix it in the integration's headers."
                )
            if not raw and (isinstance(value, Secret) or name.lower() == TOKEN_HEADER.lower()):
                return "TOKEN_MISSING", f"The {name} header is empty{where}: set the API token from HaiHai there."
            if not raw.isascii() or any(c in raw for c in "\r\n\0"):
                secret = isinstance(value, Secret) or is_secret_name(name)
                shown = "its value is secret and not shown" if secret else f"value {raw!r}"
                return "BAD_HEADER", (
                    f"The {name} header holds a line break or a non-ASCII character ({shown})"
                    f"{where}: fix the value in the settings."
                )
        try:
            with open(self.csv_path, "rb"):
                pass
        except OSError as e:
            return "CSV_UNREADABLE", f"Cannot read the CSV file {str(self.csv_path)!r}: {e.strerror or e}."
        return None

    def preview(self) -> str:
        """The exact request as text for --dry-run, with the token masked."""
        layout = self.layout()
        host = [("Host", httpx.URL(self.url).netloc.decode("ascii", "replace"))]
        return render_preview(
            method="POST",
            url=self.url,
            headers=host + self.masked_headers(layout),
            layout=layout,
            json_name=self.json_name,
            csv_name=self.csv_name,
            csv_path=Path(self.csv_path),
            codec=normalize_encoding(self.csv_encoding),
        )
