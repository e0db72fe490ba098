"""One run of an integration at a time on this machine: a lock file per integration under the data folder.

``<data>/locks/<integration>.lock`` is held with ``flock`` for as long as a run is prepared, confirmed and
sent (``prepare()`` takes it, ``Prepared.discard()`` lets it go), so cron, a second shell and the TUI all
meet the same lock. Inside the file: the pid, machine, login and start time of the holder, for the
message a refused run shows ("being run by ... since ..."). The kernel drops a flock when its process
dies; a lock whose recorded holder is gone while the flock is still held (a child process inherited
the descriptor) is taken over by replacing the file.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from haihai_tui.core.paths import ensure_private_dir
from haihai_tui.core.procs import pid_alive
from haihai_tui.core.text import one_line

LOCKS_DIR = "locks"


class RunLocked(Exception):
    """Another process runs this integration; the message says who and since when."""

    def __init__(self, integration: str, holder: dict) -> None:
        self.integration, self.holder = integration, holder
        who = one_line(str(holder.get("login") or "someone"))
        pid, host = holder.get("pid"), one_line(str(holder.get("host") or "?"))
        since = one_line(str(holder.get("started") or "an unknown time"))
        super().__init__(
            f"integration {one_line(integration)!r} is already being run by {who} (pid {pid} on {host}) "
            f"since {since}; nothing was sent. Wait for that run to end (see `haihai-tui history`), then run again"
        )


def lock_path(data_dir: Path, integration: str) -> Path:
    """The lock file of ``integration``: a readable, file-system-safe name plus a hash of the exact name."""
    readable = "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "_" for c in integration)[:40]
    digest = hashlib.blake2b(integration.encode("utf-8", "surrogatepass"), digest_size=6).hexdigest()
    return Path(data_dir) / LOCKS_DIR / f"{readable or 'integration'}-{digest}.lock"


@dataclass
class RunLock:
    """A held lock; ``release()`` (idempotent) lets it go."""

    path: Path
    integration: str
    fd: int | None

    def release(self) -> None:
        fd, self.fd = self.fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)  # the next reader sees no holder
        except OSError:
            pass
        finally:
            os.close(fd)  # closing drops the flock

    @property
    def held(self) -> bool:
        return self.fd is not None

    def __del__(self) -> None:  # a Prepared dropped without discard() must not keep the integration locked
        self.release()


def _read_holder(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def acquire(data_dir: Path, integration: str, *, login: str, attempts: int = 3) -> RunLock:
    """Take the lock of ``integration`` or raise :class:`RunLocked` naming who holds it."""
    path = lock_path(data_dir, integration)
    ensure_private_dir(path.parent)
    holder: dict = {}
    for _ in range(attempts):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            holder = _read_holder(path)
            pid = holder.get("pid")
            same_machine = holder.get("host") == socket.gethostname()
            if isinstance(pid, int) and same_machine and not pid_alive(pid):
                # the holder died but its descriptor lives on (inherited by a child): replace the file
                try:
                    path.unlink()
                except FileNotFoundError:
                    pass
                continue
            raise RunLocked(integration, holder) from None
        try:
            st, now = os.fstat(fd), os.stat(path)
            if (st.st_ino, st.st_dev) != (now.st_ino, now.st_dev):  # replaced while we waited: try again
                os.close(fd)
                continue
        except FileNotFoundError:
            os.close(fd)
            continue
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "login": login,
            "started": datetime.now().astimezone().isoformat(timespec="seconds"),
            "integration": integration,
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info, ensure_ascii=False).encode("utf-8"), 0)
        return RunLock(path, integration, fd)
    raise RunLocked(integration, holder)
