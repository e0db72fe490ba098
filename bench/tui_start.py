"""Start-up benchmark: process start to the first interactive screen of haihai-tui, against a minimal
Textual app started the same way.

Each run is a fresh interpreter (``python -c``) that builds the app and runs it headless at 80x24; on
Textual's Ready event (the first screen composed and laid out) it waits for the next refresh, writes
READY to stdout and exits. The parent times Popen -> the READY line. haihai-tui's side includes reading
and validating the settings folder (a copy of the package's samples in a temp dir) and building the start screen.
Runs alternate ours/baseline, ROUNDS each; best and median are printed, the target uses the median.

    .venv/bin/python bench/tui_start.py
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 5
GOAL = 2.0

READY = """
import os
def _ready(app):
    def go():
        os.write(1, b"READY\\n")
        app.exit()
    app.call_after_refresh(go)
"""

OURS = (
    READY
    + """
import sys
from pathlib import Path
from haihai_tui.core.settings.context import AppContext
from haihai_tui.core.paths import Paths
from haihai_tui.tui.app import HaiHaiApp
class Bench(HaiHaiApp):
    def on_ready(self):
        _ready(self)
cfg, data = sys.argv[1], sys.argv[2]
Bench(AppContext(Paths(Path(cfg), Path(data)), login="admin", environ={})).run(headless=True, size=(80, 24))
"""
)

BASELINE = (
    READY
    + """
from textual.app import App
from textual.widgets import Footer, Static
class Bench(App):
    def compose(self):
        yield Static("hello")
        yield Footer()
    def on_ready(self):
        _ready(self)
Bench().run(headless=True, size=(80, 24))
"""
)


def once(code: str, args: list[str]) -> float:
    env = dict(os.environ, PYTHONPATH=str(ROOT), TEXTUAL_ANIMATIONS="none")
    env.pop("HAIHAI_TUI_CONFIG_DIR", None)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=str(ROOT)
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - t0
    _, err = proc.communicate(timeout=60)
    if b"READY" not in line or proc.returncode != 0:
        raise SystemExit(f"the app did not start (exit {proc.returncode}):\n{err.decode(errors='replace')[-2000:]}")
    return elapsed


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="tui_start_") as tmp:
        cfg, data = Path(tmp) / "config", Path(tmp) / "data"
        cfg.mkdir(mode=0o700)
        data.mkdir(mode=0o700)
        for name in ("admin.toml", "db.toml", "tui.toml"):
            shutil.copyfile(ROOT / "haihai_tui" / "samples" / name, cfg / name)
        (cfg / "secrets.toml").write_text('[tokens]\n"配配メール 顧客登録" = "bench-token"\n', encoding="utf-8")
        (cfg / "secrets.toml").chmod(0o600)
        once(BASELINE, [])  # warm the file cache (.pyc, textual) before timing either side
        once(OURS, [str(cfg), str(data)])
        ours, base = [], []
        for _ in range(ROUNDS):
            ours.append(once(OURS, [str(cfg), str(data)]))
            base.append(once(BASELINE, []))
    for label, xs in (("haihai-tui", ours), ("minimal Textual app", base)):
        print(
            f"{label:<22} best {min(xs) * 1000:7.1f} ms   median {statistics.median(xs) * 1000:7.1f} ms   "
            f"runs {', '.join(f'{x * 1000:.0f}' for x in xs)}"
        )
    best = min(ours) / min(base)
    ratio = statistics.median(ours) / statistics.median(base)
    print(f"ratio best {best:.2f}, median {ratio:.2f}")
    print(f"target tui_start_ratio: {ratio:.2f} (goal <= {GOAL:g}) {'ok' if ratio <= GOAL else 'MISS'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
