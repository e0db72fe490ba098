"""Shared fixtures for core tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from corefixtures import make_settings
from haihai_tui.core.paths import Paths


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return make_settings(tmp_path)
