"""Record database benchmark: import, deep paging and a filtered count over N sample customers.

    .venv/bin/python bench/records.py [--rows 1000000] [--keep]

1. import_ratio: our ``import_csv`` into a fresh store ÷ a bare baseline (csv.reader + executemany
   into a plain table in a fresh SQLite file, one transaction), same cp932 file, median of 3 each.
2. deep_page_ratio: ``rows_at`` at row 900,000 (0.9 N) and 900,500 ÷ the first page (``page()``),
   100 rows, median of 7, anchors already built (their one-off build time is printed); worst of
   import order, a sort by e-mail and a descending sort by prefecture (tie groups of 100,000+ rows).
3. filtered_count_s: ``count()`` with LABEL~TEXT (contains) over all rows, uncached; worst of three.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from haihai_tui.core.records.query import Query, parse_condition  # noqa: E402
from haihai_tui.core.records.samples import FIELD_IDS, SAMPLE_DATABASE, write_csv  # noqa: E402
from haihai_tui.core.records.store import RecordStore  # noqa: E402


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def baseline_import(csv_path: Path, db_path: Path) -> int:
    conn = sqlite3.connect(db_path)
    conn.execute(f"CREATE TABLE t ({', '.join(FIELD_IDS)})")
    with open(csv_path, encoding="cp932", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        conn.executemany(f"INSERT INTO t VALUES ({', '.join('?' * len(FIELD_IDS))})", reader)
    conn.commit()
    n = conn.execute("SELECT count(*) FROM t").fetchone()[0]
    conn.close()
    return n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = ap.parse_args()
    n = args.rows
    work = Path(__file__).resolve().parent / "_work"
    work.mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="records-", dir=work))
    try:
        src = tmp / "customers.csv"
        t, res = timed(lambda: write_csv(src, n, "cp932"))
        print(
            f"generated {res.rows:,} rows ({src.stat().st_size / 1e6:.0f} MB cp932, "
            f"{len(res.skipped)} skipped) in {t:.1f}s (not timed)"
        )

        base_t, ours_t = [], []
        for i in range(3):
            t, got = timed(lambda: baseline_import(src, tmp / f"base{i}.sqlite3"))
            assert got == res.rows, got
            base_t.append(t)
            store = RecordStore.open(tmp / f"rec{i}", SAMPLE_DATABASE)
            t, imp = timed(lambda: store.import_csv(src))
            assert imp.rows == res.rows, imp.rows
            ours_t.append(t)
            if i < 2:
                store.close()
        b, o = statistics.median(base_t), statistics.median(ours_t)
        print(
            f"import: baseline {b:.2f}s  ours {o:.2f}s  (runs: baseline "
            f"{', '.join(f'{x:.2f}' for x in base_t)}; ours {', '.join(f'{x:.2f}' for x in ours_t)})"
        )
        import_ratio = o / b

        cols = list(FIELD_IDS)
        deep_at = int(n * 0.9)
        ratios = []
        cases = (
            ("import order", Query()),
            ("sorted by email", Query(sort_field="email")),
            ("sorted by pref desc, big ties", Query(sort_field="pref", descending=True)),
        )
        for label, q in cases:
            t_anchor, _ = timed(lambda: store.rows_at(q, cols, deep_at, 100))  # index + anchors, once
            first = statistics.median(timed(lambda: store.page(q, cols, limit=100))[0] for _ in range(7))
            deeps = [
                statistics.median(timed(lambda: store.rows_at(q, cols, at, 100))[0] for _ in range(7))
                for at in (deep_at, deep_at + 500)
            ]
            ratios.append(max(deeps) / first)
            print(
                f"paging ({label}): first page {first * 1e3:.2f} ms; rows_at {deep_at:,} {deeps[0] * 1e3:.2f} ms, "
                f"{deep_at + 500:,} {deeps[1] * 1e3:.2f} ms (ratio {ratios[-1]:.2f}); "
                f"first call incl. index+anchors {t_anchor:.2f}s"
            )

        counts = []
        pairs = SAMPLE_DATABASE.pairs()
        for text in ("会社名~商事", "お名前~髙橋", "メールアドレス~YAMADA"):
            t, c = timed(lambda: store.count(Query(conditions=(parse_condition(text, pairs),))))
            counts.append(t)
            print(f"count {text}: {c:,} of {res.rows:,} in {t:.3f}s")
        store.close()

        targets = [
            ("import_ratio", import_ratio, 1.5),
            ("deep_page_ratio", max(ratios), 3.0),
            ("filtered_count_s", max(counts), 1.0),
        ]
        for name, value, goal in targets:
            print(f"target {name}: {value:.2f} (goal <= {goal:g}) {'ok' if value <= goal else 'MISS'}")
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
