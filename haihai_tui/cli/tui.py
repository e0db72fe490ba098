"""haihai-tui (or haihai-tui tui): open the TUI."""

from __future__ import annotations

from haihai_tui.cli.args import paths_of
from haihai_tui.core.settings.context import AppContext


def cmd_tui(args) -> int:
    from haihai_tui.tui.launch import run_tui

    paths = paths_of(args)
    return run_tui(AppContext(paths))
