"""CSV一括登録 from the record list: a 1,000,000-row CSV imported in the TUI, against `haihai-tui db import`.

One UTF-8 file of 1,000,000 sample customers is imported three ways, each into its own copy of the same
database (1,000 records already in it):

- baseline: `haihai-tui db import customers FILE` as a command (a process of its own, as cron runs it);
- for reference: ``RecordStore.import_csv`` called in this process (the command without its start-up);
- the TUI: a headless HaiHaiApp (80x24) on the record list, keys only: ``i``, the path, F2; timed from F2 to
  the dialog's result (the worker's end), while a 10 ms ticker task on the event loop records how late it
  wakes (the "stall": the longest a key press would have waited), through the import and the list's
  refresh until it shows the new count.

    .venv/bin/python bench/tui_import.py [ROWS]
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from haihai_tui.cli.demo import lay_demo  # noqa: E402
from haihai_tui.core.records.samples import SAMPLE_DATABASE, write_csv  # noqa: E402
from haihai_tui.core.records.store import RecordStore  # noqa: E402
from haihai_tui.core.settings.context import AppContext  # noqa: E402
from haihai_tui.core.settings.permissions import current_login  # noqa: E402

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
HELD = 1_000  # records in the database before each import
MENU = "顧客一覧"
WORK = ROOT / "bench" / "_work" / "tui_import"


class Ticker:
    """A task that sleeps 10 ms at a time and records how late it wakes (per phase)."""

    def __init__(self) -> None:
        self.phase = "idle"
        self.worst: dict[str, float] = {}
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            t = loop.time()
            await asyncio.sleep(0.01)
            late = loop.time() - t - 0.01
            self.worst[self.phase] = max(self.worst.get(self.phase, 0.0), late)

    def stop(self) -> None:
        if self._task:
            self._task.cancel()


async def until(pred, timeout: float = 600.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not pred():
        if loop.time() > end:
            raise TimeoutError("benchmark phase did not finish")
        await asyncio.sleep(0.005)


def fresh_copy(template: Path, base: Path, name: str):
    """A settings + data folder copied from ``template`` (the same 1,000 records in every copy)."""
    dest = base / name
    shutil.copytree(template, dest)
    from haihai_tui.core.paths import Paths

    return Paths(dest / "config", dest / "data")


def count(paths) -> int:
    with RecordStore.open(paths.records_dir, SAMPLE_DATABASE) as rs:
        return rs.count()


def cli_import(paths, csv_file: Path) -> float:
    cmd = [sys.executable, "-m", "haihai_tui", "db", "import", "customers", str(csv_file)]
    cmd += ["--config-dir", str(paths.config_dir), "--data-dir", str(paths.data_dir)]
    t = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if done.returncode != 0:
        raise RuntimeError(f"db import failed: {done.stderr.strip()}")
    return seconds


def store_import(paths, csv_file: Path) -> float:
    with RecordStore.open(paths.records_dir, SAMPLE_DATABASE) as rs:
        t = time.perf_counter()
        rs.import_csv(csv_file)
        return time.perf_counter() - t


async def tui_import(paths, csv_file: Path) -> tuple[float, dict[str, float]]:
    from haihai_tui.tui.app import HaiHaiApp
    from haihai_tui.tui.dialogs.csv_import import CsvImportScreen
    from haihai_tui.tui.screens.record_list import RecordListScreen

    app = HaiHaiApp(AppContext(paths, login=current_login()))
    tick = Ticker()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = RecordListScreen(MENU)
        await app.push_screen(screen)
        table = screen.table
        await until(lambda: table.total == HELD and table.row(0) is not None)
        tick.start()
        await pilot.pause(1.0)  # baseline: the list idle
        tick.phase = "dialog"
        await pilot.press("i")
        await until(lambda: isinstance(app.screen, CsvImportScreen))
        dialog = app.screen
        await pilot.press(*str(csv_file))
        tick.phase = "import"
        t = time.perf_counter()
        await pilot.press("f2")
        await until(lambda: dialog.result is not None or dialog.error is not None)
        seconds = time.perf_counter() - t
        if dialog.error:
            raise RuntimeError(f"the TUI import failed: {dialog.error}")
        tick.phase = "refresh"
        await until(lambda: table.total == HELD + ROWS and table.base_total == HELD + ROWS and table.row(0) is not None)
        await pilot.press("escape")
        await pilot.pause()
        tick.phase = "done"
        tick.stop()
    return seconds, tick.worst


def target(name: str, value: float, goal: float, digits: int) -> str:
    return f"target {name}: {value:.{digits}f} (goal <= {goal:g}) {'ok' if value <= goal else 'MISS'}"


def main() -> int:
    WORK.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="tui_import-", dir=WORK))
    try:
        t = time.perf_counter()
        csv_file = base / "customers.csv"
        write_csv(csv_file, ROWS, "utf-8", seed=11)
        template = base / "template"
        paths = lay_demo(template, login=current_login(), token="bench-token-0123456789", mock_url="", rows=HELD)
        assert count(paths) == HELD
        print(
            f"info: {ROWS:,}-row CSV ({csv_file.stat().st_size / 1e6:,.0f} MB) and the settings made in "
            f"{time.perf_counter() - t:.1f} s (not timed)"
        )

        cli_paths = fresh_copy(template, base, "cli")
        t_cli = cli_import(cli_paths, csv_file)
        assert count(cli_paths) == HELD + ROWS
        ref_paths = fresh_copy(template, base, "store")
        t_store = store_import(ref_paths, csv_file)
        tui_paths = fresh_copy(template, base, "tui")
        t_tui, worst = asyncio.run(tui_import(tui_paths, csv_file))
        assert count(tui_paths) == HELD + ROWS

        print(f"baseline: haihai-tui db import {t_cli:.2f} s ({ROWS / t_cli:,.0f} rows/s)")
        print(f"info: RecordStore.import_csv in this process (no start-up) {t_store:.2f} s")
        print(f"info: TUI import (F2 to result) {t_tui:.2f} s ({ROWS / t_tui:,.0f} rows/s)")
        for phase in ("idle", "dialog", "import", "refresh"):
            print(f"info: longest event-loop stall, {phase}: {worst.get(phase, 0.0) * 1000:.1f} ms")
        ratio = t_tui / t_cli
        print(f"ratio: TUI import / db import = {ratio:.2f} (/ in-process import = {t_tui / t_store:.2f})")
        stall = max(worst.get("import", 0.0), worst.get("refresh", 0.0)) * 1000
        print(target("import_max_stall_ms", stall, 100, 1))
        print(target("tui_import_ratio", ratio, 1.2, 2))
        return 0
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
