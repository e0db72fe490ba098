"""Record-editor benchmark: open a record and save an edit in a 1,000,000-record database, in the TUI.

One headless HaiHaiApp (80x24) on a record list of ROWS sample customers (SQLite, WAL, as the app makes
it). Keys only, as a user would:

- record_open_ms: from pressing Enter on a row of the list to every field's value on screen in the
  record editor (``RecordEditorScreen.opened_at``): the store opened in a thread worker, the record read
  by its id, the form filled. Measured on rows spread over the whole million (first, middle, last ...).
- record_save_ms: from pressing F2 after an edit to "Saved" on screen (``saved_at``): the value checks,
  then in a thread worker one write transaction (BEGIN IMMEDIATE, the row compared with the values
  the editor loaded, UPDATE, COMMIT).

Each open starts from a settled list (its rows and count shown again after the previous save). The
value of each target is the median of REPEATS measurements; the worst one (the first open, which builds
the form) is printed too. The
baseline, measured in the same run on the same file, is what SQLite needs by itself: a bare
``SELECT ... WHERE rid = ?`` (open) and a bare ``BEGIN IMMEDIATE; UPDATE ... WHERE rid = ?; COMMIT`` (save)
on a fresh connection; the ratio lines say how much the app adds on top. Building the database
(samplegen + insert_rows) is not timed.

    .venv/bin/python bench/tui_records.py [ROWS]
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from haihai_tui.cli.demo import lay_demo  # noqa: E402
from haihai_tui.core.records.samples import FIELD_IDS, SAMPLE_DATABASE, generate  # noqa: E402
from haihai_tui.core.records.store import RecordStore  # noqa: E402
from haihai_tui.core.settings.context import AppContext  # noqa: E402
from haihai_tui.core.settings.permissions import current_login  # noqa: E402

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
REPEATS = 9
GOAL_MS = 50.0
MENU = "顧客一覧"
WORK = ROOT / "bench" / "_work" / "tui_records"


def build(base: Path):
    paths = lay_demo(base, login=current_login(), token="bench-token-0123456789", mock_url="http://127.0.0.1:9", rows=0)
    rs = RecordStore.open(paths.records_dir, SAMPLE_DATABASE)
    try:
        rs.insert_rows(generate(ROWS), list(FIELD_IDS))
        assert rs.count() == ROWS
    finally:
        rs.close()
    return paths


def sqlite_baseline(path: Path, rowids: list[int]) -> tuple[float, float]:
    """Median ms of a bare SELECT by rowid and of a bare one-row UPDATE transaction, fresh connection each."""
    cols = ", ".join(f'"f_{f}"' for f in FIELD_IDS)
    opens, saves = [], []
    for rid in rowids:
        t = time.perf_counter()
        con = sqlite3.connect(str(path), isolation_level=None)
        con.execute(f"SELECT {cols} FROM records WHERE rid = ?", [rid]).fetchone()
        opens.append(time.perf_counter() - t)
        t = time.perf_counter()
        con.execute("BEGIN IMMEDIATE")
        con.execute('UPDATE records SET "f_company" = "f_company" || ? WHERE rid = ?', ["", rid])
        con.execute("COMMIT")
        saves.append(time.perf_counter() - t)
        con.close()
    return statistics.median(opens) * 1e3, statistics.median(saves) * 1e3


async def until(pred, timeout: float = 300.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not pred():
        if loop.time() > end:
            raise TimeoutError("benchmark phase did not finish")
        await asyncio.sleep(0.001)


async def editor_bench(paths) -> tuple[list[float], list[float], list[int]]:
    from haihai_tui.tui.app import HaiHaiApp
    from haihai_tui.tui.screens.record_editor import RecordEditorScreen
    from haihai_tui.tui.screens.record_list import RecordListScreen

    app = HaiHaiApp(AppContext(paths, login=current_login()))
    opens: list[float] = []
    saves: list[float] = []
    rowids: list[int] = []
    targets = [round(i * (ROWS - 1) / (REPEATS - 1)) for i in range(REPEATS)]  # first .. last row
    async with app.run_test(size=(80, 24)) as pilot:
        screen = RecordListScreen(MENU)
        await app.push_screen(screen)
        table = screen.table
        await until(lambda: table.total == ROWS and table.row(0) is not None)
        for n, index in enumerate(targets):
            table.jump_to(index)  # what Enter on a pre-flight finding does; the rows load in the background
            # a settled list, as a user sees it before the next Enter: the rows there and the count known
            # again (a save refreshes the list: its count and row anchors are rebuilt in worker threads)
            await until(lambda index=index: table.row_id(index) is not None and table.total == ROWS)
            await pilot.pause(0.2)
            t0 = time.perf_counter()
            await pilot.press("enter")
            await until(lambda: isinstance(app.screen, RecordEditorScreen) and app.screen.opened_at is not None)
            ed = app.screen
            opens.append(ed.opened_at - t0)
            rowids.append(ed.rowid)
            await pilot.press("tab", "end", *f"{n}")  # 会社名: append a digit
            assert ed.is_dirty()
            t0 = time.perf_counter()
            await pilot.press("f2")
            await until(lambda: ed.saved_at is not None)
            saves.append(ed.saved_at - t0)
            assert not ed.is_dirty(), "the save did not take"
            await pilot.press("escape")
            await until(lambda: app.screen is screen)
    return opens, saves, rowids


def main() -> int:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    try:
        t = time.perf_counter()
        paths = build(WORK)
        print(f"info: {ROWS:,} records built in {time.perf_counter() - t:.1f} s (not timed)")
        opens, saves, rowids = asyncio.run(editor_bench(paths))
        base_open, base_save = sqlite_baseline(paths.records_dir / f"{SAMPLE_DATABASE.id}.sqlite3", rowids)
        open_ms, save_ms = statistics.median(opens) * 1e3, statistics.median(saves) * 1e3
        print(f"info: open  ms per row: {', '.join(f'{x * 1e3:.1f}' for x in opens)} (worst {max(opens) * 1e3:.1f})")
        print(f"info: save  ms per row: {', '.join(f'{x * 1e3:.1f}' for x in saves)} (worst {max(saves) * 1e3:.1f})")
        print(
            f"info: baseline: bare SQLite SELECT by rowid {base_open:.2f} ms, "
            f"one-row UPDATE transaction {base_save:.2f} ms"
        )
        print(f"ratio record_open / bare SELECT: {open_ms / max(base_open, 1e-3):.1f}")
        print(f"ratio record_save / bare UPDATE transaction: {save_ms / max(base_save, 1e-3):.1f}")
        for name, value in (("record_open_ms", open_ms), ("record_save_ms", save_ms)):
            print(f"target {name}: {value:.1f} (goal <= {GOAL_MS:g}) {'ok' if value <= GOAL_MS else 'MISS'}")
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
