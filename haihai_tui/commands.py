"""The small commands: tui, check, db import, history, mock-server."""

from __future__ import annotations

import json
import os
import sys

from .cli import paths_of
from .core import store
from .core.context import AppContext
from .core.problems import Problem


def check_report(ctx: AppContext) -> list[Problem]:
    """Every problem of the settings folder, folder permission warnings included."""
    problems = list(ctx.loaded.problems)
    warn = store.check_folder(ctx.paths.config_dir) if ctx.paths.config_dir.exists() else None
    if warn:
        problems.append(Problem(str(ctx.paths.config_dir), None, warn, "warning"))
    return problems


def cmd_check(args) -> int:
    paths = paths_of(args)
    if not paths.config_dir.exists():
        print(f"{paths.config_dir}: no settings folder; copy the samples: "
              f"mkdir -p {paths.config_dir} && cp config/*.toml {paths.config_dir}/", file=sys.stderr)
        return 1
    ctx = AppContext(paths)
    problems = check_report(ctx)
    for p in problems:
        print(p)
    errors = sum(p.is_error for p in problems)
    warnings = len(problems) - errors
    s = ctx.settings
    summary = (f"{errors} error(s), {warnings} warning(s) in {paths.config_dir} - {len(s.users)} users, "
               f"{len(s.databases)} databases, {len(s.integrations)} integrations, {len(s.menus)} menus")
    print(summary, file=sys.stderr if problems else sys.stdout)
    return 1 if errors else 0


def cmd_db_import(args) -> int:
    from .core.records import RecordImportError, RecordStore
    paths = paths_of(args)
    ctx = AppContext(paths)
    db = ctx.settings.database(args.database)
    if db is None:
        known = ", ".join(d.id for d in ctx.settings.databases) or "(none: add [[databases]] to db.toml)"
        print(f"no database {args.database!r} in {paths.db}; databases: {known}", file=sys.stderr)
        return 2
    if not args.file.is_file():
        print(f"{args.file}: no such file", file=sys.stderr)
        return 2
    rs = RecordStore.open(paths.records_dir, db)
    try:
        res = rs.import_csv(args.file, replace=args.replace)
        total = rs.count()
    except RecordImportError as e:
        print(f"{args.file}: {e}\nnothing was imported", file=sys.stderr)
        return 1
    finally:
        rs.close()
    print(f"imported {res.rows:,} records into {db.name} ({db.id}) from {args.file} "
          f"({res.encoding}); the database now holds {total:,}")
    return 0


def cmd_history(args) -> int:
    from .core.history import History, format_table, to_json
    paths = paths_of(args)
    h = History(paths.history_db)
    h.mark_interrupted()
    recs = h.list(limit=args.limit)
    if args.json:
        for r in recs:
            print(json.dumps(to_json(r), ensure_ascii=False))
    elif not recs:
        print("no runs yet")
    else:
        width = os.get_terminal_size().columns if sys.stdout.isatty() else 120
        print(format_table(recs, width=width))
    return 0


def cmd_mock_server(args) -> int:
    from .mock.config import MockConfig, load_mock_config
    from .mock.server import serve
    if args.config:
        config = load_mock_config(args.config)
    else:
        token = os.environ.get("HAIHAI_MOCK_TOKEN")
        if not token:
            print("set HAIHAI_MOCK_TOKEN to the token the mock should accept, or pass --config FILE",
                  file=sys.stderr)
            return 2
        config = MockConfig.demo(token)
    serve(config, args.host, args.port)
    return 0


def cmd_tui(args) -> int:
    from .tui import run_tui
    paths = paths_of(args)
    return run_tui(AppContext(paths))
