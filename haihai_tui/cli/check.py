"""haihai-tui check: every problem of the settings folder as file:line: message."""

from __future__ import annotations

import sys

from haihai_tui.cli.args import paths_of
from haihai_tui.core.problems import Problem
from haihai_tui.core.settings import store
from haihai_tui.core.settings.context import AppContext


def check_report(ctx: AppContext) -> list[Problem]:
    """Every problem of the settings folder, folder permission warnings included."""
    problems = list(ctx.loaded.problems)
    warn = store.check_folder(ctx.paths.config_dir) if ctx.paths.config_dir.exists() else None
    if warn:
        problems.append(Problem(str(ctx.paths.config_dir), None, warn, "warning"))
    return problems


def source_report(ctx: AppContext) -> list[Problem]:
    """engine = "postgresql" databases: connect (short timeout) and compare the table with db.toml, as file:line."""
    from haihai_tui.core.settings.loaded import Ctx

    dbs = [(i, d) for i, d in enumerate(ctx.settings.databases) if d.engine == "postgresql"]
    found: list[Problem] = []
    tf = ctx.loaded.files.get("db")
    where = Ctx(ctx.paths.db.name, tf.text if tf else "", found)
    for i, d in dbs:
        if any(p.is_error and f"database {d.id!r}" in p.message for p in ctx.loaded.problems):
            continue  # its settings are wrong already: connecting would only repeat that
        from haihai_tui.core.records.pgcheck import check_source

        for suffix, severity, message in check_source(d, ctx.settings):
            where.add(("databases", i) + suffix, f"database {d.id!r}: {message}", severity)
    return found


def state_report(ctx: AppContext) -> list[Problem]:
    """admin.toml [state] backend = "postgresql": connect (short timeout, nothing changed) and say what is wrong."""
    from haihai_tui.core.run.history import StateUnavailable
    from haihai_tui.core.run.state import shared_state
    from haihai_tui.core.settings.loaded import Ctx

    st = ctx.settings.state
    if st.backend != "postgresql" or st.problem:
        return []  # the default, or its settings are wrong already (load reported it)
    found: list[Problem] = []
    tf = ctx.loaded.files.get("admin")
    where = Ctx(ctx.paths.admin.name, tf.text if tf else "", found)
    try:
        state = shared_state(ctx.settings, ctx.environ)
        why = state.probe() if state is not None else None
    except StateUnavailable as e:
        why = str(e)
    if why:
        where.add(("state", "dsn"), why)
    return found


def cmd_check(args) -> int:
    paths = paths_of(args)
    if not paths.config_dir.exists():
        print(
            f"{paths.config_dir}: no settings folder; write the commented samples there with: "
            f"haihai-tui init --config-dir {paths.config_dir}",
            file=sys.stderr,
        )
        return 1
    ctx = AppContext(paths)
    problems = check_report(ctx) + source_report(ctx) + state_report(ctx)
    for p in problems:
        print(p)
    errors = sum(p.is_error for p in problems)
    warnings = len(problems) - errors
    s = ctx.settings
    summary = (
        f"{errors} error(s), {warnings} warning(s) in {paths.config_dir} - {len(s.users)} users, "
        f"{len(s.databases)} databases, {len(s.integrations)} integrations, {len(s.menus)} menus"
    )
    print(summary, file=sys.stderr if problems else sys.stdout)
    return 1 if errors else 0
