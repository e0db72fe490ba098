"""Record-list benchmark: a 1,000,000-record database in the TUI's virtual table, and a 100,000-row run.

Measured in one headless HaiHaiApp (80x24), with a 10 ms ticker task on the event loop recording how
late it wakes up (the "stall": the longest time a key press would have waited):

- first paint: from pushing the record-list screen to the first data row painted by ``render_line``;
- max stall while opening, jumping to the end (G), searching (/ + text) and sorting (s) — each phase
  waits until its rows are on screen and the count is known;
- max stall while a 100,000-row run (pre-flight in a thread worker, then the upload as an app
  worker) goes to the local mock HaiHai server, one request, to the end (history written). The
  mock runs in its own process (``haihai-tui mock-server``), as HaiHai would: in-process, its
  request parsing would compete with the app for the GIL and measure the mock, not the app.

The baseline is the same ticker on the same app sitting idle for a second (what the machine and
the headless driver cost by themselves). Building the databases (samplegen + insert_rows) is not timed.

    .venv/bin/python bench/tui_list.py [ROWS]
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from haihai_tui.cli.demo import lay_demo  # noqa: E402
from haihai_tui.core.records.samples import FIELD_IDS, SAMPLE_DATABASE, SpecialRows, generate  # noqa: E402
from haihai_tui.core.records.store import RecordStore  # noqa: E402
from haihai_tui.core.run.prepare import Target  # noqa: E402
from haihai_tui.core.settings import store  # noqa: E402
from haihai_tui.core.settings.context import AppContext  # noqa: E402
from haihai_tui.core.settings.permissions import current_login  # noqa: E402
from haihai_tui.tui.runs import prepare_for_run  # noqa: E402

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
RUN_ROWS = 100_000
MENU = "顧客一覧"
INTEGRATION = "配配メール 顧客登録"
TOKEN = "bench-token-0123456789"
WORK = ROOT / "bench" / "_work" / "tui_list"


def fill(paths, n: int, clean: bool) -> int:
    """n sample customers (with clean=True, without the emoji / malformed / duplicate rows)."""
    total = n + 3 if clean else n
    sp = SpecialRows.for_rows(total)
    skip = {sp.emoji, sp.malformed, sp.duplicate} if (clean and sp) else set()
    rs = RecordStore.open(paths.records_dir, SAMPLE_DATABASE)
    try:
        rs.insert_rows((r for i, r in enumerate(generate(total)) if i not in skip), list(FIELD_IDS))
        return rs.count()
    finally:
        rs.close()


def make_env(base: Path, mock_url: str, rows: int, clean: bool):
    paths = lay_demo(base, login=current_login(), token=TOKEN, mock_url=mock_url, rows=0)

    def limits(doc) -> None:  # one request for the whole 100,000-row run
        import tomlkit

        for g in doc["integrations"]:
            if "limits" not in g:
                g["limits"] = tomlkit.table()
            g["limits"]["max_rows"] = 200_000
            g["limits"]["max_bytes"] = 50_000_000

    store.update(paths.db, limits)
    fill(paths, rows, clean)
    return paths


class Ticker:
    """A task that sleeps 10 ms at a time and records how late it wakes (per phase)."""

    def __init__(self) -> None:
        self.phase = "idle"
        self.detail = None  # optional callable: a finer name for the current moment
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
            if self.detail is not None and self.phase not in ("idle", "done"):
                key = f"{self.phase}/{self.detail()}"
                self.worst[key] = max(self.worst.get(key, 0.0), late)

    def stop(self) -> None:
        if self._task:
            self._task.cancel()


async def until(pred, timeout: float = 120.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not pred():
        if loop.time() > end:
            raise TimeoutError("benchmark phase did not finish")
        await asyncio.sleep(0.005)


async def list_bench(paths) -> tuple[float, dict[str, float]]:
    from haihai_tui.tui.app import HaiHaiApp
    from haihai_tui.tui.screens.record_list import RecordListScreen

    app = HaiHaiApp(AppContext(paths, login=current_login()))
    tick = Ticker()
    async with app.run_test(size=(80, 24)) as pilot:
        tick.start()
        await pilot.pause(1.0)  # baseline: the app idle
        tick.phase = "open"
        t0 = time.perf_counter()
        screen = RecordListScreen(MENU)
        await app.push_screen(screen)
        table = screen.table
        await until(lambda: table.first_paint_at is not None)
        first_paint = table.first_paint_at - t0
        print(f"info: first paint {first_paint:.3f} s after push (table mounted after {table.mounted_at - t0:.3f} s)")
        await until(lambda: table.total is not None and table.base_total is not None)
        assert table.total == ROWS, table.total

        tick.phase = "end (G)"
        await pilot.press("G")
        await until(lambda: table.row(ROWS - 1) is not None)
        await pilot.pause()

        tick.phase = "search"
        await pilot.press("slash", *"yamada", "enter")
        await until(lambda: table.total is not None and table.row(0) is not None and table.query.search == "yamada")
        found = table.total

        tick.phase = "sort"
        await pilot.press("right", "s")  # 会社名 ascending: the first sort builds an index
        await until(lambda: table.query.sort_field == "company" and table.row(0) is not None)
        await pilot.press("s", "s", "slash", "ctrl+u", "enter")  # desc, off, clear the search
        await until(
            lambda: (
                table.query.search == ""
                and table.query.sort_field is None
                and table.total == ROWS
                and table.row(0) is not None
            )
        )
        await pilot.press("s")  # sort the whole million
        await until(lambda: table.query.sort_field == "company" and table.row(0) is not None)
        await pilot.press("G")
        await until(lambda: table.row(ROWS - 1) is not None)
        await pilot.pause()
        tick.phase = "done"
        tick.stop()
    print(f"info: search 'yamada' found {found:,} rows")
    return first_paint, tick.worst


async def run_bench(paths) -> dict[str, float]:
    from haihai_tui.tui.app import HaiHaiApp

    app = HaiHaiApp(AppContext(paths, login=current_login()))
    app.run_execute_options = {"poll_interval": 0.2, "poll_timeout": 120.0}
    tick = Ticker()
    async with app.run_test(size=(80, 24)) as pilot:
        from haihai_tui.tui.screens.progress import ProgressScreen

        await app.push_screen(ProgressScreen())
        tick.start()
        await pilot.pause(0.5)
        tick.phase = "pre-flight"
        ctx = app.ctx
        target = Target(MENU, INTEGRATION)
        t = time.perf_counter()
        p = await asyncio.to_thread(prepare_for_run, ctx, target)  # what the pre-flight dialog runs
        t_pre = time.perf_counter() - t
        assert not p.blocked and p.rows == RUN_ROWS, (p.rows, p.built.errors[:3])
        tick.phase = "upload"
        tick.detail = lambda: app.runs.state.stage.value if app.runs.state else "-"
        t = time.perf_counter()
        app.runs.start(p, memo="bench", accept_warnings=True)
        state = await app.runs.wait()
        t_run = time.perf_counter() - t
        await pilot.pause()
        tick.phase = "done"
        tick.stop()
    print(
        f"info: run of {state.rows:,} rows ({sum(p.built.bytes_per_file):,} bytes): pre-flight {t_pre:.2f} s, "
        f"send + answer + status {t_run:.2f} s, outcome {state.outcome.label} ({state.outcome.value})"
    )
    return tick.worst


def line(name: str, value: float, goal: float, unit: str = "") -> str:
    ok = "ok" if value <= goal else "MISS"
    return f"target {name}: {value:.{3 if unit == 's' else 1}f} (goal <= {goal:g}) {ok}"


MOCK_TOML = """max_rows = 200000
max_bytes = 50000000
processing_delay = 0.05
request_log_limit = 5
[[accounts]]
path = "demo"
token = "{token}"
login_ids = ["ops01"]
[accounts.groups]
12 = "メルマガ会員"
"""


class MockProcess:
    """The mock server in its own process (``haihai-tui mock-server``), as the real HaiHai would be:
    its request parsing must not compete with the app for this process's GIL."""

    def __init__(self, work: Path) -> None:
        cfg = work / "mock.toml"
        cfg.write_text(MOCK_TOML.format(token=TOKEN), encoding="utf-8")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "haihai_tui", "mock-server", "--port", "0", "--config", str(cfg)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=dict(os.environ),
        )
        first = self.proc.stdout.readline() if self.proc.stdout else ""
        m = re.search(r"(http://\S+)", first)
        if not m:
            self.stop()
            raise RuntimeError(f"the mock server did not start: {first!r}")
        self.url = m.group(1)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def main() -> int:
    WORK.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="tui_list-", dir=WORK))
    try:
        mock = MockProcess(base)
        try:
            t = time.perf_counter()
            big = make_env(base / "big", mock.url, ROWS, clean=False)
            run = make_env(base / "run", mock.url, RUN_ROWS, clean=True)
            print(f"info: built {ROWS:,} + {RUN_ROWS:,} records in {time.perf_counter() - t:.1f} s (not timed)")
            first_paint, worst = asyncio.run(list_bench(big))
            run_worst = asyncio.run(run_bench(run))
        finally:
            mock.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)
    for phase, v in worst.items():
        print(f"info: list phase {phase:8s} max stall {v * 1000:7.1f} ms")
    for phase, v in run_worst.items():
        print(f"info: run  phase {phase:10s} max stall {v * 1000:7.1f} ms")
    baseline = worst.get("idle", 0.0)
    list_stall = max(v for k, v in worst.items() if k not in ("idle", "done"))
    run_stall = max(v for k, v in run_worst.items() if k not in ("idle", "done") and "/" not in k)
    print(
        f"info: baseline (idle app) max stall {baseline * 1000:.1f} ms; list/baseline ratio "
        f"{list_stall / max(baseline, 1e-3):.1f}, run/baseline ratio {run_stall / max(baseline, 1e-3):.1f}"
    )
    print(line("first_paint_s", first_paint, 0.5, "s"))
    print(line("max_stall_ms", list_stall * 1000, 100))
    print(line("run_max_stall_ms", run_stall * 1000, 100))
    return 0


if __name__ == "__main__":
    sys.exit(main())
