"""Building, starting and stopping the mock HaiHai Mail server (aiohttp, loopback by default).

- ``create_app(config)`` — the ``web.Application``;
- ``await start(config, host, port)`` -> :class:`RunningMock` (``.url``, ``.port``, ``await .stop()``);
- ``MockServerThread(config)`` — the same in a daemon thread with its own loop, for sync code;
- ``serve(config, host, port)`` — blocking, for ``haihai-tui mock-server``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from haihai_tui.core.text import one_line
from haihai_tui.mock.config import MockConfig
from haihai_tui.mock.controls import add_control_routes
from haihai_tui.mock.errors import ApiError
from haihai_tui.mock.routes import STATE, add_api_routes
from haihai_tui.mock.state import ServerState, now_jst

log = logging.getLogger("haihai_tui.mock")
SHUTDOWN_TIMEOUT = 1.0


@web.middleware
async def _guard(request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
    """JSON 404/405 for the API, 500 INTERNAL_ERROR for a bug; one log line per request (no headers)."""
    try:
        resp = await handler(request)
    except web.HTTPException as exc:
        if request.path.startswith("/_mock/") or exc.status not in (404, 405):
            raise
        code = "NOT_FOUND" if exc.status == 404 else "METHOD_NOT_ALLOWED"
        resp = ApiError(exc.status, code, f"{request.method} {request.path} is not an API endpoint").response()
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("mock: internal error on %s %s", one_line(request.method), one_line(request.path))
        resp = ApiError(500, "INTERNAL_ERROR", "the mock server hit an internal error").response()
    transport = request.transport
    outcome = "connection aborted" if transport is None or transport.is_closing() else resp.status
    log.info("mock: %s %s -> %s", one_line(request.method), one_line(request.path), outcome)
    return resp


async def _cancel_jobs(app: web.Application) -> None:
    tasks = [j.task for j in app[STATE].jobs.values() if j.task is not None and not j.task.done()]
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


def create_app(config: MockConfig, clock: Callable[[], Any] = now_jst) -> web.Application:
    """The mock server as an aiohttp application (state in ``app[STATE]``)."""
    app = web.Application(middlewares=[_guard])
    app[STATE] = ServerState(config, clock)
    add_api_routes(app)
    add_control_routes(app)
    app.on_cleanup.append(_cancel_jobs)
    return app


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@dataclass
class RunningMock:
    """A started mock server; ``url`` is the base (``http://127.0.0.1:PORT``), without PATH."""

    app: web.Application
    runner: web.AppRunner
    host: str
    port: int

    @property
    def url(self) -> str:
        return _url(self.host, self.port)

    @property
    def state(self) -> ServerState:
        return self.app[STATE]

    def import_url(self, path: str = "demo") -> str:
        return f"{self.url}/{path}/api/v1/custcsv/import"

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start(config: MockConfig, host: str = "127.0.0.1", port: int = 0) -> RunningMock:
    """Start listening on ``host:port`` (port 0 = a free port) and return at once."""
    app = create_app(config)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound = runner.addresses[0][1]
    return RunningMock(app, runner, host, bound)


class MockServerThread:
    """The mock server on its own event loop in a daemon thread: ``with MockServerThread(cfg) as m: m.url``."""

    def __init__(self, config: MockConfig, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config
        self.host = host
        self.port = port
        self.running: RunningMock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        if self.running is None:
            raise RuntimeError("the mock server is not running; call start() first")
        return self.running.url

    @property
    def state(self) -> ServerState:
        if self.running is None:
            raise RuntimeError("the mock server is not running; call start() first")
        return self.running.state

    def import_url(self, path: str = "demo") -> str:
        return f"{self.url}/{path}/api/v1/custcsv/import"

    def start(self) -> MockServerThread:
        if self._thread is not None:
            return self
        self._thread = threading.Thread(target=self._run, name="haihai-mock", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            err, self._error, self._thread = self._error, None, None
            raise err
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            running = loop.run_until_complete(start(self.config, self.host, self.port))
            self.running, self.port = running, running.port
        except BaseException as exc:  # reported to start()'s caller
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(running.stop())
            loop.close()

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if not loop.is_closed():
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        self._thread = None
        self._loop = None
        self.running = None
        self._ready.clear()

    def __enter__(self) -> MockServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(config: MockConfig, host: str = "127.0.0.1", port: int = 8787) -> None:
    """Run until interrupted (Ctrl+C); prints one line with the address and account PATHs, never a token."""

    async def main() -> None:
        running = await start(config, host, port)
        names = ", ".join(a.path for a in config.accounts) or "none"
        print(f"mock HaiHai server on {running.url} (accounts: {names})", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await running.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
