"""Sync benchmark: what a `changes` run sends, worked out over 1,000,000 records with 1% changed.

baseline = today's full run from the query to the finished file: the record store's rows of the menu
           streamed through ``build_csv`` (full pre-flight, one file of every row)
ours     = ``prepare(..., sync="changes")``, the whole path a `run --sync changes` takes before it sends:
           settings, the integration's lock, the scope's confirmed state loaded from the history
           database (one query), the same query, an 8-byte digest of every row compared in memory, and
           ``build_csv`` of only the rows that changed

Setup (not timed): sample settings in a scratch folder (limits raised so 1M rows fit one request),
``samples.generate`` rows without their three deliberate faults, a first `changes` prepare whose rows
are all new, recorded as confirmed by HaiHai exactly as a finished 完了 run records them
(``sync.confirm_run``), then 1% of the records edited (every 100th row's company). The history file is
checkpointed and measured before and after that confirmed state is written: that is what the state
costs on disk. Each side runs ROUNDS times, alternating; the best wall-clock time of each counts.

    .venv/bin/python bench/sync.py [ROWS]
"""

from __future__ import annotations

import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from haihai_tui.core.checks.csvbuild import build_csv  # noqa: E402
from haihai_tui.core.paths import Paths, ensure_private_dir  # noqa: E402
from haihai_tui.core.records.query import Query  # noqa: E402
from haihai_tui.core.records.samples import SAMPLE_DATABASE, SpecialRows, generate  # noqa: E402
from haihai_tui.core.records.store import RecordStore  # noqa: E402
from haihai_tui.core.run.prepare import Target, prepare  # noqa: E402
from haihai_tui.core.run.sync import confirm_run  # noqa: E402
from haihai_tui.core.run.syncstate import SyncStore  # noqa: E402
from haihai_tui.core.settings import store as settings_store  # noqa: E402
from haihai_tui.core.settings.context import AppContext  # noqa: E402

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
ROUNDS = 3
GOAL_RATIO = 1.5
GOAL_MB = 100
MENU, INTEG = "顧客一覧", "配配メール 顧客登録"


def settings_folder(base: Path) -> Paths:
    cfg, data = base / "config", base / "data"
    cfg.mkdir(mode=0o700)
    data.mkdir(mode=0o700)
    for name in ("admin.toml", "db.toml", "tui.toml"):
        shutil.copyfile(ROOT / "haihai_tui" / "samples" / name, cfg / name)
    sec = cfg / "secrets.toml"
    sec.write_text(f'[tokens]\n"{INTEG}" = "bench-token"\n', encoding="utf-8")
    sec.chmod(0o600)
    paths = Paths(cfg, data)

    def roomy(doc):  # one request for every row: the bench measures building, not splitting
        lim = doc["integrations"][0]["limits"]
        lim["max_rows"], lim["max_bytes"] = 10**8, 10**11

    settings_store.update(paths.db, roomy)
    return paths


def load_records(paths: Paths, n: int) -> int:
    sp = SpecialRows.for_rows(n)
    skip = {sp.emoji, sp.malformed, sp.duplicate} if sp else set()
    rs = RecordStore.open(paths.records_dir, SAMPLE_DATABASE)
    rs.insert_rows((r for i, r in enumerate(generate(n)) if i not in skip), [f.id for f in SAMPLE_DATABASE.fields])
    count = rs.count()
    rs.close()
    return count


def file_size(db_path: Path) -> int:
    db = sqlite3.connect(db_path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return db_path.stat().st_size


def baseline(ctx: AppContext) -> float:
    """The full CSV of the same rows, as prepare() builds it (before sync modes)."""
    menu = ctx.settings.menu(MENU)
    integ = ctx.settings.integration(INTEG)
    db = ctx.settings.database(menu.database)
    labels = [db.field(c).label for c in menu.columns]
    t = time.perf_counter()
    store = RecordStore.open(ctx.paths.records_dir, db)
    try:
        query = Query(search_fields=tuple(menu.columns))
        built = build_csv(
            store.iter_rows(query, menu.columns),
            labels,
            encoding=integ.python_encoding,
            header=integ.csv_header,
            dest_dir=ensure_private_dir(ctx.paths.runs_dir),
            max_rows=integ.limits.max_rows,
            max_bytes=integ.limits.max_bytes,
            daily_quota=integ.limits.daily_quota,
        )
    finally:
        store.close()
    dt = time.perf_counter() - t
    assert built.total_rows == ROWS_LOADED and not built.errors, built.errors[:3]
    built.remove()
    return dt


def changes(ctx: AppContext) -> float:
    t = time.perf_counter()
    p = prepare(ctx.settings, ctx.paths, Target(MENU, INTEG), environ={}, sync="changes")
    dt = time.perf_counter() - t
    try:
        plan = p.sync
        assert plan is not None and plan.changed == EXPECTED_CHANGED and plan.new == 0, plan
        assert p.rows == EXPECTED_CHANGED and plan.unchanged == ROWS_LOADED - EXPECTED_CHANGED
    finally:
        p.discard()
    return dt


ROWS_LOADED = 0
EXPECTED_CHANGED = 0


def main() -> None:
    global ROWS_LOADED, EXPECTED_CHANGED
    work = ROOT / "bench" / "_work"
    work.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="sync-", dir=work))
    try:
        t = time.perf_counter()
        paths = settings_folder(tmp)
        ROWS_LOADED = load_records(paths, ROWS)
        ctx = AppContext(paths)
        print(f"generated {ROWS_LOADED:,} records in {time.perf_counter() - t:.1f} s (not timed)")

        t = time.perf_counter()
        first = prepare(ctx.settings, paths, Target(MENU, INTEG), environ={}, sync="changes")
        plan = first.sync
        assert plan is not None and plan.new == ROWS_LOADED, plan
        first.discard()
        state = SyncStore(paths.history_db)
        before = file_size(paths.history_db)
        note = confirm_run(
            state,
            1,
            INTEG,
            plan,
            done=True,
            offered=False,
            files=[],
            complete=True,
            outcome_word="完了",
            rows_per_file=first.built.rows_per_file,
        )
        after = file_size(paths.history_db)
        print(f"first run: {note} ({time.perf_counter() - t:.1f} s, not timed)")
        state_mb = (after - before) / 1e6 * (1_000_000 / ROWS_LOADED)
        print(f"confirmed state: {after - before:,} bytes for {ROWS_LOADED:,} keys in {paths.history_db.name}")

        db = sqlite3.connect(paths.records_dir / "customers.sqlite3")
        with db:
            EXPECTED_CHANGED = db.execute(
                "UPDATE records SET f_company = f_company || '（改）' WHERE rid % 100 = 0"
            ).rowcount
        db.close()
        print(f"edited {EXPECTED_CHANGED:,} records (1%)")

        base_times, our_times = [], []
        for r in range(ROUNDS):
            base_times.append(baseline(ctx))
            our_times.append(changes(ctx))
            print(f"round {r + 1}: full CSV {base_times[-1]:.2f} s, changes {our_times[-1]:.2f} s (wall)")
        b, o = min(base_times), min(our_times)
        print(f"full CSV of {ROWS_LOADED:,} rows (query -> build_csv):                 {b:.2f} s")
        print(f"changes: {EXPECTED_CHANGED:,} rows to send (state + query + digests + build_csv): {o:.2f} s")
        ratio = o / b
        print(f"target changes_ratio: {ratio:.2f} (goal <= {GOAL_RATIO}) {'ok' if ratio <= GOAL_RATIO else 'MISS'}")
        print(f"target state_mb_per_1m: {state_mb:.1f} (goal <= {GOAL_MB}) {'ok' if state_mb <= GOAL_MB else 'MISS'}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
