"""Shared fixtures for core tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from corefixtures import make_settings
from haihai_tui.core.paths import Paths
from pg.server import leave_out_without_server, summary_line


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return make_settings(tmp_path)


def pytest_collection_modifyitems(config, items) -> None:
    leave_out_without_server(config, items)  # no PostgreSQL here: its tests out, one line at the end (tests/pg)


def pytest_terminal_summary(terminalreporter) -> None:
    summary_line(terminalreporter)
