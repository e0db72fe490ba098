"""Command line: the TUI (default), demo, run, check, db import, history, state migrate, mock-server.

Exit codes: 0 done, 1 error, 2 bad usage, 3 outcome unknown (run only).
"""

from __future__ import annotations

import importlib
import os
import sys

from haihai_tui.cli.args import build_parser
from haihai_tui.core.text import safe


def _known_errors() -> tuple[type[Exception], ...]:
    """Errors whose message is written for the user (file, what is wrong, how to fix it)."""
    from haihai_tui.core.haihai.answers import ClientError
    from haihai_tui.core.records.store import DatabaseIdError, RecordFileError
    from haihai_tui.core.run.history import HistoryError
    from haihai_tui.core.run.mail import MailError
    from haihai_tui.core.settings.store import StoreError

    return (ClientError, HistoryError, MailError, StoreError, RecordFileError, DatabaseIdError)


#: command -> (module, function); each function takes the parsed arguments and returns the exit code
COMMANDS: dict[str, tuple[str, str]] = {
    "tui": ("haihai_tui.cli.tui", "cmd_tui"),
    "demo": ("haihai_tui.cli.demo", "cmd_demo"),
    "check": ("haihai_tui.cli.check", "cmd_check"),
    "init": ("haihai_tui.cli.init", "cmd_init"),
    "db": ("haihai_tui.cli.db", "cmd_db_import"),
    "history": ("haihai_tui.cli.history", "cmd_history"),
    "state": ("haihai_tui.cli.state", "cmd_state"),
    "run": ("haihai_tui.cli.run", "cmd_run"),
    "mock-server": ("haihai_tui.cli.mock_server", "cmd_mock_server"),
}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    cmd = args.command or "tui"
    if cmd not in COMMANDS:
        parser.error(f"unknown command {cmd}")
    module, func = COMMANDS[cmd]
    try:
        # each command's module is imported only when it runs (the TUI's Textual stays out of `run` and `check`)
        code = getattr(importlib.import_module(module), func)(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler below, not at interpreter exit
        return code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _reader_went_away()
    except Exception as e:  # a user's file or the machine said no: one clear line, never a traceback
        from haihai_tui.core.problems import SettingsFileError

        known = (SettingsFileError, OSError) + _known_errors()
        if not isinstance(e, known):
            raise
        # the message may quote a file, a server or a record: escapes are shown, never acted on
        print(f"haihai-tui {cmd}: {safe(str(e), multiline=True)}", file=sys.stderr)
        return 1


def _reader_went_away() -> int:
    """`haihai-tui history | head`: the reader closed the pipe; stop quietly like other Unix tools."""
    try:
        # later flushes (at exit) must not raise again: point stdout at /dev/null
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 141  # 128 + SIGPIPE, what a shell reports for a command killed by a closed pipe
