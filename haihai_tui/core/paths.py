"""Where settings and data live: `--config-dir` / $HAIHAI_TUI_CONFIG_DIR / ~/.config/haihai-tui and `--data-dir` /
$HAIHAI_TUI_DATA_DIR / ~/.local/share/haihai-tui (XDG_CONFIG_HOME and XDG_DATA_HOME are honoured)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

APP = "haihai-tui"
ADMIN_FILE = "admin.toml"
DB_FILE = "db.toml"
SECRETS_FILE = "secrets.toml"
TUI_FILE = "tui.toml"
HISTORY_JOURNAL_FILE = "history-journal.jsonl"


@dataclass(frozen=True)
class Paths:
    config_dir: Path
    data_dir: Path

    @property
    def admin(self) -> Path:
        return self.config_dir / ADMIN_FILE

    @property
    def db(self) -> Path:
        return self.config_dir / DB_FILE

    @property
    def secrets(self) -> Path:
        return self.config_dir / SECRETS_FILE

    @property
    def tui(self) -> Path:
        return self.config_dir / TUI_FILE

    @property
    def records_dir(self) -> Path:
        return self.data_dir / "records"

    @property
    def history_db(self) -> Path:
        return self.data_dir / "history.sqlite3"

    @property
    def history_journal(self) -> Path:
        """Run outcomes as HaiHai answered them, one JSON line each, kept until they are in the history."""
        return self.data_dir / HISTORY_JOURNAL_FILE

    @property
    def outbox(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def runs_dir(self) -> Path:
        """Temporary CSV files of runs in progress (0600, removed after every run)."""
        return self.data_dir / "runs"


def resolve(
    config_dir: str | os.PathLike | None = None,
    data_dir: str | os.PathLike | None = None,
    environ: dict[str, str] | None = None,
) -> Paths:
    env = os.environ if environ is None else environ
    home = Path(env.get("HOME") or Path.home())
    if config_dir is None:
        config_dir = env.get("HAIHAI_TUI_CONFIG_DIR") or Path(env.get("XDG_CONFIG_HOME") or home / ".config") / APP
    if data_dir is None:
        data_dir = env.get("HAIHAI_TUI_DATA_DIR") or Path(env.get("XDG_DATA_HOME") or home / ".local" / "share") / APP
    return Paths(Path(config_dir).expanduser(), Path(data_dir).expanduser())


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` and any missing parents, each created one 0700 from the start (no umask window)."""
    path = Path(path)
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for p in reversed(missing):
        try:
            os.mkdir(p, 0o700)
        except FileExistsError:
            continue
        os.chmod(p, 0o700)  # mkdir's mode is masked by the umask; make it exact
    return path


def create_file(path: Path, data: bytes, mode: int) -> Path:
    """Create ``path`` holding ``data`` with exactly ``mode`` whatever the umask; never over an existing file
    or through a symbolic link (FileExistsError)."""
    path = Path(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags, mode & 0o600)
    try:
        os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    return path
