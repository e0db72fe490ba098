"""`haihai-tui run`: one run without screens, through the same core.run path as the TUI.

SIGINT (ctrl+c) and SIGTERM (cron's timeout, systemd, kill) stop a run the way the TUI's cancel
does: before anything is sent the pre-flight stops and nothing is sent; while sending or waiting
the core's cancel event is set, so the upload is cut or the wait ends, and the run is recorded as
it stands. An upload HaiHai accepted stays 完了 with its import_id, in the history and in the
output, even when asking for its row results was stopped or ran out of time.

Everything printed that came from outside (record values, names from the settings, the memo, what
the server said) goes through core.text safe/one_line: escapes are shown, never acted on.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from haihai_tui.cli.args import paths_of
from haihai_tui.core.checks.csvbuild import BuildCancelled
from haihai_tui.core.events import (
    BytesProgress,
    LogLine,
    Outcome,
    RowsProgress,
    RunEvent,
    ServerResponse,
    Stage,
    StageChanged,
)
from haihai_tui.core.records.query import ConditionError, parse_condition
from haihai_tui.core.run.execute import execute
from haihai_tui.core.run.history_text import sync_words
from haihai_tui.core.run.prepare import RunBusy, RunRefused, Target, prepare
from haihai_tui.core.settings.context import AppContext
from haihai_tui.core.text import one_line, safe

EXIT = {Outcome.DONE: 0, Outcome.ERROR: 1, Outcome.CANCELLED: 1, Outcome.UNKNOWN: 3}
EXIT_BUSY = 4  # another run of this integration holds the lock
SHOWN_ADDRESSES = 10  # removals / skipped keys listed before "... and N more"
#: the signals that stop a run like the TUI's cancel
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def err(text: str) -> None:
    """One line to stderr; ``text`` must already be made safe where it holds outside text."""
    print(text, file=sys.stderr)


class Printer:
    """Progress to stderr: stage changes, log lines and a byte count every 10 %; never a secret,
    never a raw control character (the events carry the server's and the records' text)."""

    def __init__(self, out=None):
        self._out = out
        self.last_pct = -1

    @property
    def out(self):
        return self._out or sys.stderr

    def __call__(self, ev: RunEvent) -> None:
        if isinstance(ev, StageChanged) and ev.stage is not Stage.DONE:
            print(f"[{ev.stage.value}] {one_line(ev.message)}".rstrip(), file=self.out)
        elif isinstance(ev, LogLine):
            text = one_line(ev.text)
            print(f"{ev.level}: {text}" if ev.level != "info" else text, file=self.out)
        elif isinstance(ev, BytesProgress) and ev.total:
            pct = ev.sent * 100 // ev.total
            if pct // 10 != self.last_pct // 10 or ev.sent == ev.total:
                self.last_pct = pct
                part = f" (request {ev.part}/{ev.parts})" if ev.parts > 1 else ""
                print(f"  sent {ev.sent:,} of {ev.total:,} bytes, {pct}%{part}", file=self.out)
        elif isinstance(ev, ServerResponse):
            print(f"  server: {one_line(ev.summary)}", file=self.out)
        elif isinstance(ev, RowsProgress) and ev.total and ev.done == ev.total:
            print(f"  {ev.done:,} rows read", file=self.out)


@contextmanager
def _stop_on_signals(stop: Callable[[], None]) -> Iterator[None]:
    """While inside, SIGINT and SIGTERM call ``stop`` (once each time) instead of ending the process."""
    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        yield
        return
    before = {s: signal.getsignal(s) for s in STOP_SIGNALS}
    try:
        for s in STOP_SIGNALS:
            signal.signal(s, lambda signum, frame: stop())
        yield
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)


def cmd_run(args) -> int:
    paths = paths_of(args)
    if not paths.config_dir.is_dir():
        err(f"no settings folder {one_line(paths.config_dir)}; pass --config-dir or see `haihai-tui check`")
        return 2
    ctx = AppContext(paths)
    s = ctx.settings
    menu = s.menu(args.menu)
    if menu is None and s.load_errors:
        err(
            f"no menu {one_line(repr(args.menu))}, and the settings have errors: {one_line(s.load_errors[0])} "
            f"(run `haihai-tui check`)"
        )
        return 1
    if menu is None:
        err(f"no menu {one_line(repr(args.menu))}; menus: {one_line(', '.join(m.name for m in s.menus)) or '(none)'}")
        return 2
    db = s.database(menu.database)
    try:
        conds = tuple(parse_condition(w, db.pairs()) for w in args.where) if db else ()
    except ConditionError as e:
        err(one_line(e))
        return 2
    if getattr(args, "retry_failed", None) is not None and (args.where or args.search or args.sync):
        err(
            f"--retry-failed sends exactly the rows HaiHai reported 失敗 in run #{args.retry_failed}, wherever "
            "they are now; leave out --where, --search and --sync"
        )
        return 2
    target = Target(args.menu, args.integration, conds, args.search)
    printer = Printer()
    stopped = threading.Event()  # set by SIGINT/SIGTERM during pre-flight: the build stops, nothing is sent
    try:
        with _stop_on_signals(stopped.set):
            prepared = prepare(
                s,
                ctx.paths,
                target,
                environ=ctx.environ,
                split=args.split,
                on_event=printer,
                cancel=stopped,
                sync=getattr(args, "sync", None),
                retry_run=getattr(args, "retry_failed", None),
                login=ctx.login,
            )
    except BuildCancelled:
        err("stopped before anything was sent: pre-flight was interrupted; nothing was sent")
        return 1
    except RunBusy as e:
        err(f"refused: {one_line(e)}")
        return EXIT_BUSY
    except RunRefused as e:
        err(f"refused: {one_line(e)}")
        return 2 if "not attached" in str(e) or "no menu" in str(e) else 1
    try:
        if stopped.is_set():
            err("stopped before anything was sent; nothing was sent")
            return 1
        for f in prepared.built.findings:
            err(f"{f.severity}: {one_line(f)}")
        err(
            f"{one_line(prepared.summary)}; {prepared.total_requests} request(s), daily quota left "
            f"{prepared.quota_left} of {prepared.integration.limits.daily_quota}"
        )
        plan = prepared.sync
        if plan is not None and plan.missing:
            err(f"skipped: {len(plan.missing):,} key(s) of run #{plan.retry_of} are no longer in the database:")
            _list(plan.missing)
        if prepared.removal is not None:
            rem = prepared.removal
            err(f"mirror: {rem.rows:,} customer(s) left the result and are removed ({one_line(rem.summary)}):")
            _list(plan.removals if plan else [])
        if prepared.blocked:
            hint = (
                " (or --split to send several requests)"
                if any(f.code in ("over_rows", "over_bytes") for f in prepared.built.errors)
                else ""
            )
            err(f"not sent: pre-flight found {prepared.built.error_count} error(s){hint}")
            return 1
        if args.dry_run:
            if plan is not None:
                print(safe(plan.describe(), multiline=True))
            if not prepared.nothing_to_send:
                print(safe(prepared.preview(), multiline=True))
            if prepared.removal is not None:
                print(safe(prepared.removal.preview(), multiline=True))
            err("dry run: nothing was sent")
            return 0
        if prepared.built.warnings and not args.allow_warnings:
            err(
                f"not sent: pre-flight found {prepared.built.warning_count} warning(s); "
                f"re-run with --allow-warnings to send anyway"
            )
            return 1
        if prepared.dangerous and not args.yes:
            err(f"refused: {one_line(prepared.dangerous)}. This is a dangerous run; add --yes to confirm it.")
            return 1
        if prepared.removal is not None and not args.yes:
            err(
                f"not sent: this mirror run removes {prepared.removal.rows:,} customer(s) (listed above); "
                "add --yes to confirm the removal"
            )
            return 1
        if prepared.total_requests > prepared.quota_left:
            err(f"not sent: {prepared.total_requests} request(s) needed, {prepared.quota_left} left of today's quota")
            return 1
        return asyncio.run(_execute(prepared, ctx, args, printer))
    finally:
        prepared.discard()


def _list(addresses: list[str]) -> None:
    for a in addresses[:SHOWN_ADDRESSES]:
        err(f"  {one_line(a)}")
    if len(addresses) > SHOWN_ADDRESSES:
        err(f"  ... and {len(addresses) - SHOWN_ADDRESSES:,} more")


async def _execute(prepared, ctx: AppContext, args, printer: Printer) -> int:
    cancel = asyncio.Event()
    loop = asyncio.get_running_loop()
    told = []

    def stop(signum: int) -> None:
        if not told:
            told.append(signum)
            err(
                f"{signal.Signals(signum).name}: stopping the run like the TUI's cancel; "
                "waiting for the current step to end (it is recorded as it stands)"
            )
        cancel.set()

    installed = []
    for s in STOP_SIGNALS:
        try:
            loop.add_signal_handler(s, stop, s)
            installed.append(s)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals here
            pass
    try:
        rec = await execute(
            prepared,
            ctx.paths,
            ctx.settings,
            executor=ctx.login,
            memo=args.memo,
            confirm_dangerous=args.yes,
            confirm_removal=args.yes,
            accept_warnings=args.allow_warnings,
            on_event=printer,
            cancel=cancel,
        )
    except RunRefused as e:
        err(f"refused: {one_line(e)}")
        return 1
    finally:
        for s in installed:
            loop.remove_signal_handler(s)
    counts = ""
    if rec.counts:
        counts = " - " + ", ".join(f"{one_line(k)} {v:,}" for k, v in rec.counts.items())
    ids = f" import_id {one_line(', '.join(rec.import_ids))}" if rec.import_ids else ""
    status = f" HTTP {rec.http_status}" if rec.http_status else ""
    print(f"{rec.outcome.label} ({rec.outcome.value}): run #{rec.run_id}, {rec.rows:,} rows{status}{ids}{counts}")
    if rec.sync:
        print(f"  {one_line(sync_words(rec.sync))}")
    if rec.message:  # what came of it in words (an accepted upload: where its row results are, or why not fetched)
        err(safe(rec.message, multiline=True))
    return EXIT.get(rec.outcome, 1)
