"""Export benchmark: 1,000,000 customers from SQLite to the CSV that will be uploaded.

baseline = a plain SELECT cursor into ``csv.writer`` on a file opened with encoding="cp932", newline=""
ours     = the same cursor into ``build_csv`` (one file, full pre-flight: encoding of every cell, characters
           Windows-31J changes on the way, control characters, formula-like cells, e-mail syntax, duplicate
           addresses, header labels, limits)

Rows come from ``haihai_tui.core.records.samples.generate`` (6 text columns, Japanese text, e-mails) with its
three deliberate faults (emoji, full-width ＠, duplicate) left out, so the baseline can run at all and both
produce the same bytes (checked). Generating the table is not timed. Each side runs ROUNDS times,
alternating; the best wall-clock time of each counts (the machine may be shared; the best run is the
one least disturbed). A last, untimed-for-target run on the data *with* the faults
shows what pre-flight reports where the baseline just crashes.

    .venv/bin/python bench/export.py [ROWS]
"""

from __future__ import annotations

import csv
import hashlib
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from haihai_tui.core.checks.csvbuild import build_csv  # noqa: E402
from haihai_tui.core.records.samples import SAMPLE_DATABASE, SpecialRows, generate  # noqa: E402

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
ROUNDS = 5
GOAL = 1.3
LABELS = [f.label for f in SAMPLE_DATABASE.fields]
SELECT = "SELECT email, company, name, kana, pref, phone FROM customers ORDER BY rowid"


def make_db(path: Path, n: int, clean: bool) -> int:
    sp = SpecialRows.for_rows(n)
    skip = {sp.emoji, sp.malformed, sp.duplicate} if (clean and sp) else set()
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE customers (email TEXT, company TEXT, name TEXT, kana TEXT, pref TEXT, phone TEXT)")
    db.executemany(
        "INSERT INTO customers VALUES (?,?,?,?,?,?)", (r for i, r in enumerate(generate(n)) if i not in skip)
    )
    db.commit()
    count = db.execute("SELECT count(*) FROM customers").fetchone()[0]
    db.close()
    return count


def baseline(db_path: Path, out: Path) -> tuple[float, float]:
    db = sqlite3.connect(db_path)
    t, c = time.perf_counter(), time.process_time()
    cur = db.execute(SELECT)
    with open(out, "w", encoding="cp932", newline="") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(LABELS)
        w.writerows(cur)
    dt, dc = time.perf_counter() - t, time.process_time() - c
    db.close()
    return dt, dc


def ours(db_path: Path, dest: Path):
    db = sqlite3.connect(db_path)
    t, c = time.perf_counter(), time.process_time()
    cur = db.execute(SELECT)
    built = build_csv(
        cur, LABELS, encoding="cp932", header=True, dest_dir=dest, split=True, max_rows=10**9, max_bytes=10**12
    )
    dt, dc = time.perf_counter() - t, time.process_time() - c
    db.close()
    return (dt, dc), built


def digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main() -> None:
    work = ROOT / "bench" / "_work"
    work.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="export-", dir=work))
    try:
        t = time.perf_counter()
        clean_db, dirty_db = tmp / "clean.sqlite3", tmp / "dirty.sqlite3"
        n = make_db(clean_db, ROWS, clean=True)
        print(f"generated {n:,} clean rows into SQLite in {time.perf_counter() - t:.1f} s (not timed)")
        base_times, our_times = [], []
        for r in range(ROUNDS):
            base_times.append(baseline(clean_db, tmp / "baseline.csv"))
            times, built = ours(clean_db, tmp / "runs")
            our_times.append(times)
            if r == 0:
                assert built.total_rows == n and not built.findings, built.findings[:3]
                assert len(built.files) == 1 and digest(built.files[0]) == digest(tmp / "baseline.csv"), (
                    "build_csv and the baseline wrote different bytes"
                )
                print(f"same bytes: {built.bytes_per_file[0]:,} bytes, {built.total_rows:,} rows, 0 findings")
            built.remove()
            print(f"round {r + 1}: baseline {base_times[-1][0]:.2f} s, build_csv {our_times[-1][0]:.2f} s (wall)")
        b, o = min(t[0] for t in base_times), min(t[0] for t in our_times)
        bc, oc = min(t[1] for t in base_times), min(t[1] for t in our_times)
        print(f"baseline (SELECT -> csv.writer -> cp932 file): {b:.2f} s ({n / b:,.0f} rows/s), CPU {bc:.2f} s")
        print(f"build_csv (same + full pre-flight):             {o:.2f} s ({n / o:,.0f} rows/s), CPU {oc:.2f} s")
        print(f"CPU-time ratio (for information): {oc / bc:.2f}")

        make_db(dirty_db, ROWS, clean=False)
        (dt, _), built = ours(dirty_db, tmp / "runs")
        print(
            f"with the 3 faults: build_csv {dt:.2f} s, {built.error_count} errors, {built.warning_count} warnings, "
            f"files kept: {len(built.files)}"
        )
        for f in built.findings:
            print(f"  {f.severity}: {f}")
        built.remove()
        ratio = o / b
        print(f"target export_ratio: {ratio:.2f} (goal <= {GOAL}) {'ok' if ratio <= GOAL else 'MISS'}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
