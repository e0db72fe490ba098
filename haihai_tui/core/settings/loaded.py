"""What one load of the settings folder produced, and where its problems go while a file is parsed.

Shared by ``load`` (which parses each file) and ``validate`` (the rules across files), so neither
imports the other's internals: ``load`` runs the parsers and then ``validate``.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any

from haihai_tui.core.paths import Paths
from haihai_tui.core.problems import Problem
from haihai_tui.core.settings import store
from haihai_tui.core.settings.model import Settings

SECRET_KEY = re.compile(r"(token|password|passwd|secret|api[_-]?key)", re.I)


@dataclass
class Ctx:
    """Where problems go while one file is parsed."""

    file: str
    text: str = field(repr=False)
    problems: list[Problem]
    hide_values: bool = False  # secrets.toml: never echo a value in a problem

    def show(self, key: str, value: Any) -> str:
        if self.hide_values or SECRET_KEY.search(key):
            return f"a {type(value).__name__} (value not shown)"
        return repr(value)

    def add(self, keypath: tuple, message: str, severity: str = "error") -> None:
        line = store.locate(self.text, keypath) if self.text else None
        self.problems.append(Problem(self.file, line, message, severity))  # type: ignore[arg-type]


@dataclass
class Loaded:
    paths: Paths
    settings: Settings
    problems: list[Problem] = field(default_factory=list)
    files: dict[str, store.TomlFile | None] = field(default_factory=dict, repr=False)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if not p.is_error]


def did_you_mean(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
