"""Upload benchmark: our send_import against curl -F on the same loopback server, same run.

  target upload_ratio        best-of-3 send_import time / best-of-3 curl time for a 50 MB CSV
  target upload_mem_growth_mb  peak RSS growth of this process while send_import sends 500 MB

The server runs in a separate process (so its memory is not ours): it answers 100-continue,
reads and discards the body, and answers a success JSON. Run: .venv/bin/python bench/upload.py
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from haihai_tui.core.events import Outcome  # noqa: E402
from haihai_tui.core.haihai.client import send_import  # noqa: E402
from haihai_tui.core.haihai.multipart import ImportRequest  # noqa: E402
from haihai_tui.core.secret import Secret  # noqa: E402

SMALL_MB, BIG_MB = 50, 500
RATIO_GOAL, MEM_GOAL = 1.3, 16.0
PARAMS = {
    "login_id": "ops01",
    "import_type": "0",
    "is_overwrite": "1",
    "overwrite_type": "1",
    "gid": "12",
    "report_option": "2",
}

SERVER = r"""
import asyncio, sys
OK = b'{"result": "success", "import_id": "bench-1", "rows_received": 0, "warnings": []}'
ANSWER = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(OK)) + OK

class Discard(asyncio.Protocol):
    def connection_made(self, t):
        self.t, self.head, self.left = t, b"", None
    def data_received(self, data):
        while data:
            if self.left is None:
                self.head += data
                if b"\r\n\r\n" not in self.head:
                    return
                head, _, data = self.head.partition(b"\r\n\r\n")
                self.head = b""
                fields = {}
                for line in head.split(b"\r\n")[1:]:
                    k, _, v = line.partition(b":")
                    fields[k.strip().lower()] = v.strip()
                self.left = int(fields.get(b"content-length", b"0"))
                if fields.get(b"expect", b"").lower() == b"100-continue":
                    self.t.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            take = min(self.left, len(data))
            self.left -= take
            data = data[take:]
            if self.left == 0:
                self.left = None
                self.t.write(ANSWER)

async def main():
    server = await asyncio.get_running_loop().create_server(Discard, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the parent closes stdin

asyncio.run(main())
"""


def make_csv(path: Path, mb: int) -> None:
    row = "user{:07d}@example.co.jp,髙﨑商事㈱ 第一営業部,﨑山 一郎,03-1234-5678\r\n"
    block = "".join(row.format(i) for i in range(10_000)).encode("cp932")
    with open(path, "wb") as f:
        f.write("メールアドレス,会社名,お名前,電話番号\r\n".encode("cp932"))
        for _ in range(mb * 1024 * 1024 // len(block) + 1):
            f.write(block)


def cpu(who: int) -> float:
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def curl_once(url: str, json_path: Path, csv_path: Path, cpu_used: list | None = None) -> float:
    c, t = cpu(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run(
        [
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-F",
            f"import_settings=<{json_path};type=application/json",
            "-F",
            f"customer_list=@{csv_path};type=text/csv",
            "-H",
            "X-HM-apitoken: x",
            url,
        ],
        check=True,
    )
    took = time.perf_counter() - t
    if cpu_used is not None:
        cpu_used.append(cpu(resource.RUSAGE_CHILDREN) - c)
    return took


async def ours_once(url: str, csv_path: Path, cpu_used: list | None = None) -> float:
    req = ImportRequest(url=url, headers={"X-HM-apitoken": Secret("x")}, params=PARAMS, csv_path=csv_path)
    events: list = []
    c, t = cpu(resource.RUSAGE_SELF), time.perf_counter()
    r = await send_import(req, on_event=events.append)  # a listener, as the TUI and CLI have
    took = time.perf_counter() - t
    if cpu_used is not None:
        cpu_used.append(cpu(resource.RUSAGE_SELF) - c)
    if r.outcome is not Outcome.DONE:
        raise SystemExit(f"send_import failed: {r.code} {r.message}")
    return took


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def mem_growth_mb(url: str, csv_path: Path) -> float:
    gc.collect()
    base = rss_kb()
    peak = base
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, rss_kb())
            time.sleep(0.002)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    try:
        await ours_once(url, csv_path)
    finally:
        stop.set()
        th.join()
    return (max(peak, rss_kb()) - base) / 1024


def line(name: str, value: float, goal: float) -> str:
    return f"target {name}: {value:.2f} (goal <= {goal:g}) {'ok' if value <= goal else 'MISS'}"


def main() -> int:
    if shutil.which("curl") is None:
        print("curl is not installed; cannot measure the baseline")
        return 1
    work = ROOT / "bench" / "_work" / f"upload-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())
        url = f"http://127.0.0.1:{port}/bench/api/v1/custcsv/import"
        json_path = work / "import_settings.json"
        json_path.write_text(json.dumps(PARAMS, ensure_ascii=False), encoding="utf-8")
        small = work / "small.csv"
        make_csv(small, SMALL_MB)
        size = small.stat().st_size
        curl_once(url, json_path, small)  # warm the page cache and the server
        asyncio.run(ours_once(url, small))
        curl_times, our_times, curl_cpu, our_cpu = [], [], [], []
        for _ in range(3):  # interleaved, so drift hits both alike
            curl_times.append(curl_once(url, json_path, small, curl_cpu))
            our_times.append(asyncio.run(ours_once(url, small, our_cpu)))
        curl_t, ours_t = min(curl_times), min(our_times)
        print(
            f"{size / 1e6:.0f} MB: curl {curl_t * 1000:.0f} ms ({size / curl_t / 1e6:.0f} MB/s, "
            f"CPU {min(curl_cpu) * 1000:.0f} ms), send_import {ours_t * 1000:.0f} ms "
            f"({size / ours_t / 1e6:.0f} MB/s, CPU {min(our_cpu) * 1000:.0f} ms); "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        )
        small.unlink()
        big = work / "big.csv"
        make_csv(big, BIG_MB)
        t = time.perf_counter()
        growth = asyncio.run(mem_growth_mb(url, big))
        print(
            f"{big.stat().st_size / 1e6:.0f} MB: sent in {time.perf_counter() - t:.1f} s, "
            f"peak RSS growth {growth:.1f} MB"
        )
        print(line("upload_ratio", ours_t / curl_t, RATIO_GOAL))
        print(line("upload_mem_growth_mb", growth, MEM_GOAL))
        return 0
    finally:
        server.stdin.close()
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
