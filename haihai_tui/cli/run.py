"""`haihai-tui run`: one run without screens, through the same core.run path as the TUI."""

from __future__ import annotations

import asyncio
import signal
import sys

from haihai_tui.cli.args import paths_of
from haihai_tui.core.settings.context import AppContext
from haihai_tui.core.events import (BytesProgress, LogLine, Outcome, RowsProgress, RunEvent, ServerResponse, Stage,
                          StageChanged)
from haihai_tui.core.records.query import ConditionError, parse_condition
from haihai_tui.core.run.pipeline import RunRefused, Target, execute, prepare

EXIT = {Outcome.DONE: 0, Outcome.ERROR: 1, Outcome.CANCELLED: 1, Outcome.UNKNOWN: 3}


class Printer:
    """Progress to stderr: stage changes, log lines and a byte count every 10 %; never a secret."""

    def __init__(self, out=None):
        self._out = out
        self.last_pct = -1

    @property
    def out(self):
        return self._out or sys.stderr

    def __call__(self, ev: RunEvent) -> None:
        if isinstance(ev, StageChanged) and ev.stage is not Stage.DONE:
            print(f"[{ev.stage.value}] {ev.message}".rstrip(), file=self.out)
        elif isinstance(ev, LogLine):
            print(f"{ev.level}: {ev.text}" if ev.level != "info" else ev.text, file=self.out)
        elif isinstance(ev, BytesProgress) and ev.total:
            pct = ev.sent * 100 // ev.total
            if pct // 10 != self.last_pct // 10 or ev.sent == ev.total:
                self.last_pct = pct
                part = f" (request {ev.part}/{ev.parts})" if ev.parts > 1 else ""
                print(f"  sent {ev.sent:,} of {ev.total:,} bytes, {pct}%{part}", file=self.out)
        elif isinstance(ev, ServerResponse):
            print(f"  server: {ev.summary}", file=self.out)
        elif isinstance(ev, RowsProgress) and ev.total and ev.done == ev.total:
            print(f"  {ev.done:,} rows read", file=self.out)


def cmd_run(args) -> int:
    paths = paths_of(args)
    if not paths.config_dir.is_dir():
        print(f"no settings folder {paths.config_dir}; pass --config-dir or see `haihai-tui check`", file=sys.stderr)
        return 2
    ctx = AppContext(paths)
    s = ctx.settings
    menu = s.menu(args.menu)
    if menu is None and s.load_errors:
        print(f"no menu {args.menu!r}, and the settings have errors: {s.load_errors[0]} "
              f"(run `haihai-tui check`)", file=sys.stderr)
        return 1
    if menu is None:
        print(f"no menu {args.menu!r}; menus: {', '.join(m.name for m in s.menus) or '(none)'}", file=sys.stderr)
        return 2
    db = s.database(menu.database)
    try:
        conds = tuple(parse_condition(w, db.pairs()) for w in args.where) if db else ()
    except ConditionError as e:
        print(e, file=sys.stderr)
        return 2
    target = Target(args.menu, args.integration, conds, args.search)
    printer = Printer()
    try:
        prepared = prepare(s, ctx.paths, target, environ=ctx.environ, split=args.split, on_event=printer)
    except RunRefused as e:
        print(f"refused: {e}", file=sys.stderr)
        return 2 if "not attached" in str(e) or "no menu" in str(e) else 1
    try:
        for f in prepared.built.findings:
            print(f"{f.severity}: {f}", file=sys.stderr)
        print(f"{prepared.summary}; {prepared.requests} request(s), daily quota left "
              f"{prepared.quota_left} of {prepared.integration.limits.daily_quota}", file=sys.stderr)
        if prepared.blocked:
            hint = " (or --split to send several requests)" if any(
                f.code in ("over_rows", "over_bytes") for f in prepared.built.errors) else ""
            print(f"not sent: pre-flight found {prepared.built.error_count} error(s){hint}", file=sys.stderr)
            return 1
        if args.dry_run:
            print(prepared.preview())
            print("dry run: nothing was sent", file=sys.stderr)
            return 0
        if prepared.built.warnings and not args.allow_warnings:
            print(f"not sent: pre-flight found {prepared.built.warning_count} warning(s); "
                  f"re-run with --allow-warnings to send anyway", file=sys.stderr)
            return 1
        if prepared.dangerous and not args.yes:
            print(f"refused: {prepared.dangerous}. This is a dangerous run; add --yes to confirm it.",
                  file=sys.stderr)
            return 1
        if prepared.requests > prepared.quota_left:
            print(f"not sent: {prepared.requests} request(s) needed, {prepared.quota_left} left of today's quota",
                  file=sys.stderr)
            return 1
        return asyncio.run(_execute(prepared, ctx, args, printer))
    finally:
        prepared.discard()


async def _execute(prepared, ctx: AppContext, args, printer: Printer) -> int:
    cancel = asyncio.Event()
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGTERM, cancel.set)
    except (NotImplementedError, RuntimeError):
        pass
    try:
        rec = await execute(prepared, ctx.paths, ctx.settings, executor=ctx.login, memo=args.memo,
                            confirm_dangerous=args.yes, accept_warnings=args.allow_warnings,
                            on_event=printer, cancel=cancel)
    except RunRefused as e:
        print(f"refused: {e}", file=sys.stderr)
        return 1
    counts = ""
    if rec.counts:
        counts = " - " + ", ".join(f"{k} {v:,}" for k, v in rec.counts.items())
    ids = f" import_id {', '.join(rec.import_ids)}" if rec.import_ids else ""
    status = f" HTTP {rec.http_status}" if rec.http_status else ""
    print(f"{rec.outcome.label} ({rec.outcome.value}): run #{rec.run_id}, {rec.rows:,} rows{status}{ids}{counts}")
    if rec.outcome is not Outcome.DONE and rec.message:
        print(rec.message, file=sys.stderr)
    return EXIT.get(rec.outcome, 1)
