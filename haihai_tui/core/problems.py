"""A problem found in a settings file or in data, reported as ``file:line: message``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        tag = "" if self.severity == "error" else "warning: "
        return f"{where}: {tag}{self.message}"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


class SettingsFileError(Exception):
    """A settings file could not be read at all (syntax, encoding, permissions)."""

    def __init__(self, file: str, line: int | None, message: str, column: int | None = None):
        self.file = file
        self.line = line
        self.column = column
        self.message = message
        where = file
        if line:
            where += f":{line}"
            if column:
                where += f":{column}"
        super().__init__(f"{where}: {message}")

    def as_problem(self) -> Problem:
        message = f"(column {self.column}) {self.message}" if self.column else self.message
        return Problem(self.file, self.line, message)
