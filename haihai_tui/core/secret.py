"""A value that must never be printed, logged or rendered.

``repr``, ``str`` and ``format`` all give a mask; only :meth:`reveal` returns the value, and it is
called in exactly one place: where the HTTP request is built (and where SMTP logs in).
"""

from __future__ import annotations

MASK = "********"


class Secret:
    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str = "") -> None:
        self._value = value
        #: where the value came from, for display: "environment HAIHAI_API_TOKEN", "secrets.toml [tokens] ..."
        self.source = source

    def reveal(self) -> str:
        return self._value

    def masked(self) -> str:
        """A mask that hints at the length class only for long tokens (never the value)."""
        return MASK

    def __repr__(self) -> str:
        return f"Secret({MASK})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self):  # never pickle the value into a file or another process by accident
        raise TypeError("a Secret cannot be pickled")
