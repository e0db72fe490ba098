"""A small misbehaving HTTP/1.1 server on 127.0.0.1 for fault-injection tests (not the project's mock).

It speaks just enough HTTP with asyncio streams, on its own event loop in a daemon thread, so a test
can drive it from synchronous code, from an async test, or from a ``haihai-tui run`` subprocess.

Behaviours, chosen per endpoint with :class:`Script`:

* ``import_mode`` for ``POST .../import``: ``"ok"`` answers a success with :data:`IMPORT_ID`;
  ``"drip"`` reads the whole upload, then sends its answer one byte per ``drip_interval`` seconds
  (the head too), so no single read ever waits long; ``"hostile"`` answers ``error_status`` with an
  error text full of terminal escapes and Rich/Textual markup (:data:`HOSTILE_TEXT`).
* ``status_mode`` for ``GET .../import/{id}``: ``"drip"`` drips a status answer;
  ``"processing"`` answers "processing" at once, every time; ``"404"`` says the endpoint is not offered.

Every loop is bounded: a drip sends at most ``drip_bytes`` bytes and stops after ``max_seconds``;
a connection serves at most ``max_requests`` requests; a closed client ends the drip at once.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field

IMPORT_ID = "FAULT-20261201-0042"
#: what a hostile server says: ANSI colour, OSC 52 (set the clipboard), BEL, NUL, a window title, markup
HOSTILE_TEXT = (
    "bad\x1b[31mRED\x1b[0m \x1b]52;c;ZWNobyBwd25lZA==\x07 bell\x07 nul\x00 "
    "\x1b]0;pwned-title\x07 [bold]loud[/bold] [@click=app.quit]quit[/] [link=https://evil.example]x[/link]"
)
#: raw bytes that must never reach a terminal
RAW_ESCAPES = ("\x1b", "\x07", "\x00", "\x9b")


@dataclass
class Script:
    import_mode: str = "ok"  # ok | drip | hostile
    status_mode: str = "processing"  # processing | drip | 404
    drip_interval: float = 0.05  # seconds between two bytes of a dripped answer
    drip_bytes: int = 4000  # a dripped answer is this long (then it ends, if nobody stopped first)
    error_status: int = 422
    max_seconds: float = 60.0  # no connection lives longer
    max_requests: int = 50  # per connection


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body_bytes: int


@dataclass
class Stats:
    requests: list[Seen] = field(default_factory=list)
    dripped: int = 0  # bytes sent by drips so far
    drips_cut: int = 0  # drips that ended before all their bytes were sent (client hung up)

    def count(self, method: str, status: bool | None = None) -> int:
        return sum(
            1
            for r in self.requests
            if r.method == method and (status is None or r.path.rstrip("/").endswith("/import") is not status)
        )


def _response(status: int, body: bytes, ctype: str = "application/json; charset=utf-8") -> bytes:
    reason = {
        200: "OK",
        404: "Not Found",
        422: "Unprocessable Entity",
        500: "Internal Server Error",
        503: "Service Unavailable",
    }.get(status, "Status")
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
        f"Connection: keep-alive\r\n\r\n"
    )
    return head.encode("ascii") + body


def _padded(data: dict, size: int) -> bytes:
    """A JSON answer padded with spaces (still valid JSON) to ``size`` bytes, so a drip lasts."""
    body = json.dumps(data).encode()
    return body + b" " * max(0, size - len(body))


class FaultServer:
    """``with FaultServer(Script(...)) as srv: srv.import_url`` — the server runs until the block ends."""

    def __init__(self, script: Script | None = None) -> None:
        self.script = script or Script()
        self.stats = Stats()
        self.port = 0
        self.status_asked = threading.Event()  # set at the first GET of a status endpoint
        self.import_seen = threading.Event()  # set once an import POST was read in full
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopping: asyncio.Event | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def import_url(self) -> str:
        return f"{self.base}/demo/api/v1/custcsv/import"

    # --- life ---------------------------------------------------------------------------------

    def __enter__(self) -> FaultServer:
        self._thread = threading.Thread(target=self._run, name="fault-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fault server did not start within 10 s")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        async with self._server:
            await self._stopping.wait()
            self._server.close()
            for task in asyncio.all_tasks() - {asyncio.current_task()}:
                task.cancel()

    # --- one connection -----------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await asyncio.wait_for(self._requests(reader, writer), self.script.max_seconds)
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def _requests(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(self.script.max_requests):
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _version = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
            size = int(headers.get("content-length", "0") or 0)
            if size:
                await reader.readexactly(size)
            with self._lock:
                self.stats.requests.append(Seen(method, path, headers, size))
            if not await self._answer(method, path, reader, writer):
                return

    async def _answer(self, method: str, path: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; False when the connection is to be closed."""
        s = self.script
        if method == "POST":
            self.import_seen.set()
            if s.import_mode == "drip":
                return await self._drip(
                    reader,
                    writer,
                    _response(
                        200, _padded({"result": "success", "import_id": IMPORT_ID, "rows_received": 4}, s.drip_bytes)
                    ),
                )
            if s.import_mode == "hostile":
                body = json.dumps(
                    {
                        "result": "error",
                        "error": {"code": "INVALID_PARAMETER", "message": HOSTILE_TEXT, "field": HOSTILE_TEXT},
                    }
                )
                writer.write(_response(s.error_status, body.encode()))
            else:
                writer.write(
                    _response(
                        200, json.dumps({"result": "success", "import_id": IMPORT_ID, "rows_received": 4}).encode()
                    )
                )
            await writer.drain()
            return True
        self.status_asked.set()
        if s.status_mode == "404":
            writer.write(_response(404, b'{"error": {"code": "NOT_FOUND"}}'))
        elif s.status_mode == "drip":
            return await self._drip(
                reader, writer, _response(200, _padded({"status": "completed", "success": 4}, s.drip_bytes))
            )
        else:
            writer.write(_response(200, json.dumps({"status": "processing", "success": 1}).encode()))
        await writer.drain()
        return True

    async def _drip(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes) -> bool:
        """Send ``data`` one byte per interval (at most drip_bytes bytes, for at most max_seconds); stop
        as soon as the client hangs up. Always closes the connection afterwards (returns False)."""
        s = self.script
        end = time.monotonic() + s.max_seconds
        for i in range(min(len(data), s.drip_bytes)):
            if time.monotonic() > end:
                break
            writer.write(data[i : i + 1])
            try:
                await writer.drain()
            except ConnectionError:
                break
            if reader.at_eof() or writer.transport.is_closing():  # the client hung up
                break
            with self._lock:
                self.stats.dripped += 1
            await asyncio.sleep(s.drip_interval)
        else:
            return False
        with self._lock:
            self.stats.drips_cut += 1
        return False
