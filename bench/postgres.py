"""PostgreSQL record database benchmark: 1,000,000 customers in the test suite's own server (tests/pg/server.py).

    .venv/bin/python bench/postgres.py [ROWS]

1. pg_first_paint_s: the TUI's record list (headless HaiHaiApp, 80x24) from pushing the screen to the first data
   row painted, median of 3 fresh apps (connecting included).
2. pg_deep_page_ratio: ``rows_at`` at row 900,000 (0.9 N) and 900,500 ÷ the first page (``page()``), 100 rows,
   median of 7, anchors already built (their one-off build time is printed); worst of import (key) order and a
   sort by e-mail (indexed in code-point order, as `haihai-tui check` advises).
3. pg_export_ratio: the run's export, ``csv_lines`` (the server writes each row's CSV line, streamed through a
   server-side cursor) into ``build_csv_from_lines`` (the checked Windows-31J CSV, full pre-flight) ÷ a bare
   ``COPY (SELECT ...) TO STDOUT`` piped into Python's cp932 encoder into a file, same columns and order; best of
   ROUNDS rounds each, alternating (the machine may be shared: the least disturbed round counts). The first
   round's file is also compared byte for byte with ``iter_rows`` into ``build_csv`` (the rows path, as from
   SQLite; not timed, its time printed), and the same export through a full-mode sync plan is timed once for
   information (a run in a sync mode keeps every row's key and digest).

Loading the rows (COPY, the sample customers without their three deliberate faults) is not timed.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from haihai_tui.cli.demo import lay_demo  # noqa: E402
from haihai_tui.core.checks.csvbuild import build_csv  # noqa: E402
from haihai_tui.core.checks.csvlines import build_csv_from_lines  # noqa: E402
from haihai_tui.core.records.engines import open_records  # noqa: E402
from haihai_tui.core.records.query import Query  # noqa: E402
from haihai_tui.core.records.samples import FIELD_IDS, SAMPLE_DATABASE, SpecialRows, generate  # noqa: E402
from haihai_tui.core.run.lineplan import planned_lines  # noqa: E402
from haihai_tui.core.run.sync import Planner, ScopeView, SyncPlan  # noqa: E402
from haihai_tui.core.settings.context import AppContext  # noqa: E402
from haihai_tui.core.settings.permissions import current_login  # noqa: E402
from pg import server  # noqa: E402

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
MENU = "顧客一覧"
TABLE = "sales.customers"
COLS = list(FIELD_IDS)
LABELS = [f.label for f in SAMPLE_DATABASE.fields]
ROUNDS = 4  # export rounds (each side); the whole run stays well under 5 minutes


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def load(srv, n: int) -> int:
    sp = SpecialRows.for_rows(n + 3)
    skip = {sp.emoji, sp.malformed, sp.duplicate} if sp else set()
    with srv.connect() as c:
        c.execute("CREATE SCHEMA IF NOT EXISTS sales")
        got = server.load_table(c, TABLE, COLS, (r for i, r in enumerate(generate(n + 3)) if i not in skip))
        c.execute(f'CREATE INDEX ON {TABLE} (email COLLATE "C", id)')
        c.execute(f"ANALYZE {TABLE}")
    return got


async def first_paint(paths) -> float:
    from haihai_tui.tui.app import HaiHaiApp
    from haihai_tui.tui.screens.record_list import RecordListScreen

    app = HaiHaiApp(AppContext(paths, login=current_login()))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.3)
        t0 = time.perf_counter()
        screen = RecordListScreen(MENU)
        await app.push_screen(screen)
        table = screen.table
        end = time.perf_counter() + 60
        while table.first_paint_at is None:
            if time.perf_counter() > end:
                raise TimeoutError("the record list never painted a row")
            await asyncio.sleep(0.002)
        return table.first_paint_at - t0


def baseline_export(srv, out: Path) -> None:
    """COPY ... TO STDOUT (CSV) -> cp932 -> file: the bare minimum an export can cost."""
    dec = codecs.getincrementaldecoder("utf-8")()
    sql = f"COPY (SELECT {', '.join(COLS)} FROM {TABLE} ORDER BY id) TO STDOUT (FORMAT csv)"
    with srv.connect() as c, open(out, "wb") as f, c.cursor() as cur, cur.copy(sql) as cp:
        f.write((",".join(LABELS) + "\r\n").encode("cp932"))
        buf: list = []
        for data in cp:
            buf.append(data)
            if len(buf) >= 2048:
                f.write(dec.decode(b"".join(buf)).encode("cp932"))
                buf.clear()
        f.write(dec.decode(b"".join(buf), final=True).encode("cp932"))


def rows_of(path: Path) -> list[list[str]]:
    """The cells of a cp932 CSV (COPY ends lines with LF, the upload with CRLF: compared as cells)."""
    with open(path, encoding="cp932", newline="") as f:
        return list(csv.reader(f))


def our_export(store, dest: Path):
    return build_csv_from_lines(
        store.csv_lines(Query(), COLS, 0),
        LABELS,
        column=0,
        encoding="cp932",
        header=True,
        dest_dir=dest,
        split=True,
        max_rows=10**9,
        max_bytes=10**12,
    )


def synced_export(store, dest: Path):
    """The export as a run in sync mode full does it: a Planner (empty state) keeps every row's key and digest."""
    view = ScopeView(None, "bench", 1, {})
    planner = Planner(SyncPlan("full", 1, None, key_label=LABELS[0]), 0, view, None)
    return build_csv_from_lines(
        planned_lines(planner, store.csv_lines(Query(), COLS, 0)),
        LABELS,
        column=0,
        encoding="cp932",
        header=True,
        dest_dir=dest,
        split=True,
        max_rows=10**9,
        max_bytes=10**12,
    )


def rows_export(store, dest: Path):
    return build_csv(
        store.iter_rows(Query(), COLS),
        LABELS,
        encoding="cp932",
        header=True,
        dest_dir=dest,
        split=True,
        max_rows=10**9,
        max_bytes=10**12,
    )


def main() -> int:
    work = ROOT / "bench" / "_work"
    work.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="postgres-", dir=work))
    try:
        srv = server.start()
    except BaseException as e:  # pytest's skip / fail outcome outside pytest
        print(f"cannot start the suite's PostgreSQL server: {e}")
        return 1
    try:
        t, n = timed(lambda: load(srv, ROWS))
        print(f"loaded {n:,} customers with COPY in {t:.1f}s (not timed)")
        paths = lay_demo(
            tmp / "demo", login=current_login(), token="bench-token", mock_url="http://127.0.0.1:9/", rows=0
        )
        server.to_postgres(paths, srv.dsn(), TABLE)
        ctx = AppContext(paths)
        assert not ctx.loaded.errors, ctx.loaded.errors[:3]
        db = ctx.settings.database("customers")

        paints = [asyncio.run(first_paint(paths)) for _ in range(3)]
        paint = statistics.median(paints)
        print(f"first paint: {', '.join(f'{p:.3f}' for p in paints)} s (median {paint:.3f} s)")

        deep_at = int(n * 0.9)
        ratios = []
        with open_records(paths, db, ctx.settings) as store:
            for label, q in (("key order", Query()), ("sorted by email", Query(sort_field="email"))):
                t_anchor, _ = timed(lambda: store.rows_at(q, COLS, deep_at, 100))  # anchors, once
                first = statistics.median(timed(lambda: store.page(q, COLS, limit=100))[0] for _ in range(7))
                deeps = [
                    statistics.median(timed(lambda: store.rows_at(q, COLS, at, 100))[0] for _ in range(7))
                    for at in (deep_at, deep_at + 500)
                ]
                ratios.append(max(deeps) / first)
                print(
                    f"paging ({label}): first page {first * 1e3:.2f} ms; rows_at {deep_at:,} {deeps[0] * 1e3:.2f} ms, "
                    f"{deep_at + 500:,} {deeps[1] * 1e3:.2f} ms (ratio {ratios[-1]:.2f}); anchors {t_anchor:.2f}s"
                )

            base_t, ours_t = [], []
            for r in range(ROUNDS):
                bt, _ = timed(lambda: baseline_export(srv, tmp / "baseline.csv"))
                ot, built = timed(lambda: our_export(store, tmp / "runs"))
                base_t.append(bt)
                ours_t.append(ot)
                if r == 0:
                    assert built.total_rows == n and not built.findings, built.findings[:3]
                    same = rows_of(tmp / "baseline.csv") == rows_of(built.files[0])
                    print(f"export: {built.bytes_per_file[0]:,} bytes, {n:,} rows, 0 findings, same cells: {same}")
                    assert same, "the export and the baseline hold different cells"
                    rt, by_rows = timed(lambda: rows_export(store, tmp / "rows"))
                    identical = built.files[0].read_bytes() == by_rows.files[0].read_bytes()
                    print(f"rows path (iter_rows -> build_csv, untimed) {rt:.2f} s, same bytes: {identical}")
                    by_rows.remove()
                    assert identical, "the server's lines and the rows path wrote different bytes"
                    st, synced = timed(lambda: synced_export(store, tmp / "sync"))
                    print(f"with a full-mode sync plan (every row's digest kept, as a run does; untimed) {st:.2f} s")
                    synced.remove()
                built.remove()
                print(f"round {r + 1}: COPY -> cp932 {bt:.2f} s, csv_lines -> build_csv_from_lines {ot:.2f} s")
        export_ratio = min(ours_t) / min(base_t)

        targets = [
            ("pg_first_paint_s", paint, 0.5),
            ("pg_deep_page_ratio", max(ratios), 3.0),
            ("pg_export_ratio", export_ratio, 1.5),
        ]
        for name, value, goal in targets:
            print(f"target {name}: {value:.2f} (goal <= {goal:g}) {'ok' if value <= goal else 'MISS'}")
        return 0
    finally:
        server.stop(srv)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
