"""One answer to "is this pid alive", shared by the run history and the runs folder sweep."""

from __future__ import annotations

import os
import subprocess
import sys

from haihai_tui.core import procs
from haihai_tui.core.run import history as history_mod
from haihai_tui.core.run.prepare import sweep_stale


def test_a_process_we_may_not_signal_exists_for_both_callers(tmp_path, monkeypatch):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=20)
    assert procs.pid_alive(os.getpid()) is True
    assert procs.pid_alive(child.pid) is False  # exited and reaped
    assert procs.pid_alive(0) is False and procs.pid_alive(-1) is False

    def not_ours(pid, sig):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "kill", not_ours)
    assert procs.pid_alive(4242) is True
    # the history's check agrees (start time unknown: same process as far as we can tell)...
    assert history_mod._pid_is_ours(4242, "") is True
    # ...and so does the sweep of the runs folder: another account's live process keeps its file
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "customer_list-4242-abcd.csv").write_text("x")
    assert sweep_stale(runs) == 0 and (runs / "customer_list-4242-abcd.csv").exists()
