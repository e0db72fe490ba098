"""The sync side of preparing a run: which rows a sync mode reads and how it decides (the Planner over the
scope's confirmed state), and the CSV of a mirror run's removal request. prepare.py calls these."""

from __future__ import annotations

from haihai_tui.core.checks.csvbuild import build_csv
from haihai_tui.core.paths import ensure_private_dir
from haihai_tui.core.records.query import Query
from haihai_tui.core.run.refused import RunRefused
from haihai_tui.core.run.state import open_history, open_sync_store
from haihai_tui.core.run.sync import Planner, Scope, ScopeView, SyncPlan
from haihai_tui.core.run.syncstate import row_key


def sync_planner(paths, target, menu, integ, db, query, mode, retry_run, key_ix, settings=None):
    """The Planner of this run, its state store, and the query it reads (a retry reads the whole database)."""
    state = open_sync_store(paths, settings)
    scope = Scope.of(integ, menu, target.conditions, target.search)
    retry = None
    if mode == "retry":
        rec = open_history(paths, settings).get(retry_run)
        if rec is None:
            raise RunRefused(f"there is no run #{retry_run} in the history (see `haihai-tui history`)")
        if rec.integration != integ.name:
            raise RunRefused(
                f"run #{retry_run} was a run of integration {rec.integration!r}, not {integ.name!r}; "
                f"retry it with --integration {rec.integration!r}"
            )
        if (rec.sync or {}).get("mode") == "removal":
            raise RunRefused(
                f"run #{retry_run} removed customers (a mirror run's removal); run the mirror again instead, "
                "it removes whoever is still to go"
            )
        failures = state.failures(retry_run)
        if not failures:
            raise RunRefused(
                f"HaiHai reported no 失敗 row in run #{retry_run} (or its row results were not fetched); "
                "nothing to retry"
            )
        retry = {k: a for k, a, _r in failures}
        scope_id = (rec.sync or {}).get("scope") or state.scope_id(integ.name, scope.ident(), scope.describe())
        query = Query(search_fields=tuple(menu.columns))  # the failed keys, wherever they are now
        view = ScopeView(None, integ.name, scope_id, {})
    else:
        scope_id = state.scope_id(integ.name, scope.ident(), scope.describe())
        view = ScopeView(state, integ.name, scope_id)
    label = db.field(menu.columns[key_ix]).label  # type: ignore[union-attr]
    plan = SyncPlan(mode, scope_id, state.last_run(scope_id), target=scope.target, retry_of=retry_run, key_label=label)
    return Planner(plan, key_ix, view, retry), state, query


def removal_csv(paths, integ, plan: SyncPlan, key_label: str):
    """A mirror run's removal: (import_settings, BuiltCsv, SyncPlan). The removed addresses under the key
    column only, import_type 1 with the same login_id, gid/spid and report option (no overwrite keys)."""
    params = {k: v for k, v in integ.params.items() if k not in ("is_overwrite", "overwrite_type")}
    params["import_type"] = "1"
    built = build_csv(
        ((a,) for a in plan.removals),
        [key_label],
        encoding=integ.python_encoding,
        header=integ.csv_header,
        dest_dir=ensure_private_dir(paths.runs_dir),
        max_rows=integ.limits.max_rows,
        max_bytes=integ.limits.max_bytes,
        split=True,  # many removals are sent in as many requests as the limits need
        daily_quota=integ.limits.daily_quota,
    )
    rplan = SyncPlan(
        "removal", plan.scope_id, plan.since_run, removed=plan.removed, target=plan.target, key_label=key_label
    )
    rplan.examples["removed"] = plan.examples["removed"]
    rplan.sent = [(row_key(a), b"", a) for a in plan.removals]
    return params, built, rplan
