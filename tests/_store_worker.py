"""Child process for tests/test_store.py (not a test module).

incr PATH N TAG   print "ready", wait for a line on stdin, then N x update() a counter
churn PATH        keep saving a big document, printing each committed version
hang PATH         save once more, but stop right before the settings file is replaced
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tomlkit  # noqa: E402

from haihai_tui.core.settings import store  # noqa: E402


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def incr(path: Path, n: int, tag: str) -> None:
    def bump(doc: tomlkit.TOMLDocument) -> None:
        doc["counter"] = doc.get("counter", 0) + 1
        by = doc.setdefault("by", tomlkit.table())
        by[tag] = by.get(tag, 0) + 1

    say("ready")
    sys.stdin.readline()
    for _ in range(n):
        store.update(path, bump)
    say("done")


def big_doc(version: int) -> tomlkit.TOMLDocument:
    rows = [f"version = {version}  # bumped by every save\n"]
    for i in range(800):
        rows.append(f'\n[[item]]  # 項目 {i}\nid = {i}\nname = "顧客 {i} 株式会社"\ntags = ["a", "b", "c"]\n')
    return tomlkit.parse("".join(rows))


def churn(path: Path) -> None:
    tf = store.load(path)
    if "version" not in tf.doc:
        tf.doc = big_doc(0)
    version = int(tf.doc["version"])
    say("start")
    while True:
        version += 1
        tf.doc["version"] = version
        tf.doc["item"][version % 800]["name"] = f"顧客 {version} 有限会社" + "x" * (version % 7)
        tf = store.save(tf)
        say(str(version))


def hang(path: Path) -> None:
    tf = store.load(path)
    tf.doc["version"] = int(tf.doc["version"]) + 1
    real_replace = os.replace

    def stop_before_main_replace(src, dst, *a, **kw):
        if Path(dst) == path:
            say("replacing")
            sys.stdin.readline()  # the test kills us here
        return real_replace(src, dst, *a, **kw)

    os.replace = stop_before_main_replace
    store.save(tf)
    say("saved")


if __name__ == "__main__":
    mode, target = sys.argv[1], Path(sys.argv[2])
    if mode == "incr":
        incr(target, int(sys.argv[3]), sys.argv[4])
    elif mode == "churn":
        churn(target)
    elif mode == "hang":
        hang(target)
    else:
        raise SystemExit(f"unknown mode {mode}")
