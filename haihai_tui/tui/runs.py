"""The one integration run that may be going, owned by the App so it outlives any screen.

``RunService.start()`` launches the async ``core.run.execute`` as an app-level worker, turns its
core events into a live :class:`RunState` (stage, rows, bytes, rate, log lines, the server's answer,
the outcome) and publishes every change on ``RunService.changed`` (a Textual ``Signal``); the
App receives :class:`RunFinished` when a run ends and announces it (:func:`announcement`). A screen
opened later reads ``state`` and sees everything so far. Only one run at a time: ``busy`` is true
while one is going.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from textual.message import Message
from textual.signal import Signal

from haihai_tui.core.events import (
    STAGE_WORDS,
    UNKNOWN_ADVICE_LINES,
    BytesProgress,
    LogLine,
    Outcome,
    RowsProgress,
    RunEvent,
    RunStarted,
    ServerResponse,
    Stage,
    StageChanged,
)
from haihai_tui.core.run.execute import execute
from haihai_tui.core.run.prepare import Prepared, RunRefused, Target, prepare
from haihai_tui.core.run.sync import target_words
from haihai_tui.core.settings.context import AppContext
from haihai_tui.core.text import one_line

if TYPE_CHECKING:
    from textual.app import App
    from textual.notifications import SeverityLevel

    from haihai_tui.core.run.history import RunRecord

MAX_LOG = 500  # log lines kept in memory for the progress panel
PUBLISH_EVERY = 0.1  # seconds between progress publications (stage, log and the end are immediate)


@dataclass
class RunState:
    """Everything known about the current (or last) run; mutated only on the event loop."""

    number: int
    menu: str
    integration: str
    summary: str
    memo: str
    rows: int
    requests: int
    dangerous: str | None
    started: float = field(default_factory=time.monotonic)
    started_at: str = field(default_factory=lambda: datetime.now().strftime("%H:%M:%S"))
    ended: float | None = None
    stage: Stage = Stage.SEND
    stage_text: str = ""
    rows_done: int = 0
    rows_total: int | None = None
    bytes_sent: int = 0
    bytes_total: int = 0
    part: int = 1
    parts: int = 1
    log: list[tuple[str, str, str]] = field(default_factory=list)  # (HH:MM:SS, level, text)
    log_seq: int = 0  # lines ever added (the list keeps the last MAX_LOG)
    response: ServerResponse | None = None
    outcome: Outcome = Outcome.RUNNING
    record: RunRecord | None = None
    error: str | None = None  # a refusal or crash, in plain words
    cancel_requested: bool = False
    run_id_hint: int | None = None  # the history's run number, as soon as execute() logs it
    _send_start: float = 0.0
    rate: float = 0.0  # bytes per second of the current request

    @property
    def running(self) -> bool:
        return self.ended is None

    @property
    def elapsed(self) -> float:
        return (self.ended or time.monotonic()) - self.started

    @property
    def percent(self) -> float | None:
        """Upload progress over all requests, 0-100."""
        if self.bytes_total <= 0:
            return None
        done = (self.part - 1) / self.parts + (self.bytes_sent / self.bytes_total) / self.parts
        return max(0.0, min(100.0, done * 100))

    @property
    def run_id(self) -> int | None:
        return self.record.run_id if self.record else self.run_id_hint

    def add_log(self, text: str, level: str = "info") -> None:
        self.log.append((datetime.now().strftime("%H:%M:%S"), level, text))
        self.log_seq += 1
        if len(self.log) > MAX_LOG:
            del self.log[: len(self.log) - MAX_LOG]


def prepare_for_run(
    ctx,
    target: Target,
    *,
    split: bool = False,
    on_event=None,
    cancel: threading.Event | None = None,
    sync: str | None = None,
    retry_run: int | None = None,
) -> Prepared:
    """``core.run.prepare`` plus the warm-up the send needs. Blocking: call it from a thread worker.

    ``sync`` overrides the integration's sync mode; ``retry_run`` re-sends exactly the rows HaiHai
    reported 失敗 in that history run (core/run/sync.py).

    The warm-up imports the HTTP client and builds its TLS context here, in the thread, so that
    the first upload does not spend ~0.1 s of the event loop on imports and certificate loading.
    """
    kwargs: dict = {"on_event": on_event} if on_event is not None else {}
    if sync is not None:
        kwargs["sync"] = sync
    if retry_run is not None:
        kwargs["retry_run"] = retry_run
    p = prepare(ctx.settings, ctx.paths, target, environ=ctx.environ, split=split, cancel=cancel, **kwargs)
    warm_up(p.integration.ca_bundle)
    return p


#: what a run imports lazily on its first use (the client, httpx's transport, the report mail)
WARM_MODULES = (
    "haihai_tui.core.haihai.client",
    "haihai_tui.core.run.report",
    "httpcore",
    "h11",
    "anyio",
    "anyio._backends._asyncio",
    "email.generator",
    "smtplib",
)


def warm_up(ca_bundle: str = "") -> None:
    """Import what the send needs and fill the TLS-context cache (blocking: call from a thread)."""
    import importlib

    for name in WARM_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    try:
        from haihai_tui.core.haihai.transport import ssl_context

        ssl_context(ca_bundle)
    except Exception:  # an unreadable CA file is reported by the send itself, in plain words
        pass


class RunFinished(Message):
    """Posted to the App when a run ends (any outcome); the App announces it."""

    def __init__(self, state: RunState) -> None:
        super().__init__()
        self.state = state


def announcement(state: RunState, progress_key: str = "F6") -> tuple[str, str, SeverityLevel, float]:
    """(text, title, severity, seconds) of the notification when ``state``'s run ended; outside text made safe."""
    text = f"{one_line(state.integration)}: {state.outcome.label}"
    if state.record and state.record.run_id:
        text = f"run #{state.record.run_id} {text}"
    if state.outcome is Outcome.DONE:
        return f"{text} - {state.rows:,} rows sent", "run finished", "information", 5
    if state.outcome is Outcome.UNKNOWN:
        return (
            f"{text}: check HaiHai before doing anything else ({progress_key} shows what to check)",
            "outcome unknown",
            "warning",
            15,
        )
    if state.outcome is Outcome.CANCELLED:
        return (f"{text}: nothing was sent" if not state.bytes_sent else text), "run cancelled", "information", 5
    why = state.error or (state.record.message if state.record else "")
    return f"{text}: {one_line(why)}"[:300], "run failed", "error", 10


class RunService:
    """Start, watch and cancel the App's one integration run."""

    def __init__(self, app: App, ctx: AppContext, *, key_hint: Callable[[str], str] | None = None) -> None:
        self.app = app
        self.ctx = ctx
        self.state: RunState | None = None
        self.changed: Signal[RunState] = Signal(app, "run-changed")
        #: extra keyword arguments for ``execute`` (tests and the demo may shorten polling)
        self.execute_options: dict = {}
        self._key_hint = key_hint
        self._cancel: asyncio.Event | None = None
        self._done: asyncio.Event | None = None
        self._count = 0
        self._last_publish = 0.0
        self._publish_scheduled = False
        self._loop_thread: int | None = None

    @property
    def busy(self) -> bool:
        return self.state is not None and self.state.running

    def busy_text(self) -> str:
        s = self.state
        if s is None or not s.running:
            return ""
        return (
            f"a run is going: {one_line(s.integration)} ({STAGE_WORDS.get(s.stage, s.stage.value)}); "
            f"{self.progress_key()} shows it"
        )

    def progress_key(self) -> str:
        """The key(s) of the global 'progress' binding (remappable in tui.toml), for hints."""
        return self._key_hint("progress") if self._key_hint else "F6"

    # -- starting --------------------------------------------------------------------------------

    def start(
        self,
        prepared: Prepared,
        *,
        memo: str = "",
        confirm_dangerous: bool = False,
        accept_warnings: bool = False,
        executor: str | None = None,
        confirm_removal: bool = False,
    ) -> RunState:
        """Begin sending ``prepared``; raises RunRefused when a run is already going (then it is discarded).

        ``confirm_removal``: the user typed the confirmation of a mirror run's removals (``prepared.removal``)."""
        if self.busy:
            prepared.discard()
            raise RunRefused(self.busy_text() + "; wait for it to end, or cancel it first")
        ctx = self.ctx
        self._count += 1
        summary = prepared.summary
        if prepared.removal is not None and prepared.sync is not None:  # a mirror run's second request
            summary += (
                f"; then removes {prepared.sync.removed:,} customer(s) from "
                f"{target_words(prepared.sync.target) or 'the group'} (a second request, import_type 1)"
            )
        state = RunState(
            self._count,
            prepared.menu.name,
            prepared.integration.name,
            summary,
            memo,
            prepared.rows,
            prepared.requests,
            prepared.dangerous,
            parts=max(prepared.requests, 1),
        )
        self.state = state
        self._cancel = asyncio.Event()
        self._done = asyncio.Event()
        self._loop_thread = threading.get_ident()
        self.app.run_worker(
            self._run(
                state, prepared, ctx, memo, confirm_dangerous, accept_warnings, executor or ctx.login, confirm_removal
            ),
            name=f"run #{state.number}",
            group="integration-run",
            exit_on_error=False,
        )
        self._publish(force=True)
        return state

    async def _run(
        self,
        state: RunState,
        prepared: Prepared,
        ctx,
        memo: str,
        confirm_dangerous: bool,
        accept_warnings: bool,
        executor: str,
        confirm_removal: bool = False,
    ) -> None:
        cancel, done = self._cancel, self._done
        try:
            rec = await execute(
                prepared,
                ctx.paths,
                ctx.settings,
                executor=executor,
                memo=memo,
                confirm_dangerous=confirm_dangerous,
                confirm_removal=confirm_removal,
                accept_warnings=accept_warnings,
                on_event=lambda ev: self._on_event(state, ev),
                cancel=cancel,
                **self.execute_options,
            )
            state.record = rec
            state.outcome = rec.outcome
            if rec.http_status is not None and state.response is None:
                state.response = ServerResponse(
                    rec.http_status, f"{rec.http_status} {rec.code or ''} {rec.message}", rec.response_excerpt
                )
        except RunRefused as e:
            state.error = str(e)
            state.outcome = Outcome.ERROR
            state.add_log(str(e), "error")
        except asyncio.CancelledError:  # the app is closing
            state.outcome = Outcome.UNKNOWN if state.bytes_sent else Outcome.CANCELLED
            state.add_log("the program is closing; the run was interrupted", "warning")
            raise
        except Exception as e:  # a bug must still end the run visibly, without a traceback on screen
            state.error = f"the run stopped unexpectedly: {type(e).__name__}: {e}"
            state.outcome = Outcome.UNKNOWN if state.bytes_sent else Outcome.ERROR
            state.add_log(state.error, "error")
        finally:
            state.ended = time.monotonic()
            state.stage = Stage.DONE
            if state.outcome is Outcome.UNKNOWN:
                for line in UNKNOWN_ADVICE_LINES:
                    state.add_log(line, "warning")
            self._publish(force=True)
            if done is not None:
                done.set()
            self._announce(state)

    def _announce(self, state: RunState) -> None:
        self.app.post_message(RunFinished(state))

    # -- cancel / wait ---------------------------------------------------------------------------

    def cancel(self) -> bool:
        """Ask the run to stop (before the body is sent it is 中止; after, the answer is still awaited)."""
        if not self.busy or self._cancel is None or self.state is None:
            return False
        if not self.state.cancel_requested:
            self.state.cancel_requested = True
            self.state.add_log("cancel requested", "warning")
            self._cancel.set()
            self._publish(force=True)
        return True

    async def wait(self) -> RunState | None:
        """Wait until the current run (if any) has ended; returns its state."""
        if self._done is not None:
            await self._done.wait()
        return self.state

    # -- core events -> state --------------------------------------------------------------------

    def _on_event(self, state: RunState, ev: RunEvent) -> None:
        if self._loop_thread is not None and threading.get_ident() != self._loop_thread:
            self.app.call_from_thread(self._on_event, state, ev)
            return
        force = True
        if isinstance(ev, StageChanged):
            state.stage = ev.stage
            state.stage_text = ev.message
            state.add_log(f"[{ev.stage.value}] {ev.message or STAGE_WORDS.get(ev.stage, '')}".rstrip())
        elif isinstance(ev, BytesProgress):
            now = time.monotonic()
            if ev.part != state.part or not state._send_start or ev.sent == 0:
                state._send_start = now
            state.part, state.parts = ev.part, ev.parts
            state.bytes_sent, state.bytes_total = ev.sent, ev.total
            if now - state._send_start >= 0.2:
                state.rate = ev.sent / (now - state._send_start)
            force = ev.sent >= ev.total
        elif isinstance(ev, RowsProgress):
            state.rows_done, state.rows_total = ev.done, ev.total
            force = False
        elif isinstance(ev, LogLine):
            state.add_log(ev.text, ev.level)
        elif isinstance(ev, RunStarted):
            state.run_id_hint = ev.run_id
        elif isinstance(ev, ServerResponse):
            state.response = ev
            state.add_log(f"server: {ev.summary}")
        self._publish(force=force)

    def _publish(self, force: bool = False) -> None:
        """Tell subscribers; progress updates are coalesced to one per PUBLISH_EVERY."""
        if self.state is None:
            return
        now = time.monotonic()
        if force or now - self._last_publish >= PUBLISH_EVERY:
            self._last_publish = now
            self.changed.publish(self.state)
        elif not self._publish_scheduled:
            self._publish_scheduled = True

            def later() -> None:
                self._publish_scheduled = False
                self._publish(force=True)

            self.app.set_timer(PUBLISH_EVERY, later)
