"""A value that must never be printed, logged or rendered, and which HTTP headers carry one.

``repr``, ``str`` and ``format`` all give a mask; only :meth:`reveal` returns the value, and it is
called in exactly one place: where the HTTP request is built (and where SMTP logs in).

:data:`SECRET_HEADERS` is the one list of header names whose values are credentials; the client's
masking and scrubbing, the settings' header resolution and the mock server's request log all use
:func:`is_secret_header`.
"""

from __future__ import annotations

MASK = "********"

#: header names (lower case) whose value is a credential, whoever sends or receives them
SECRET_HEADERS: tuple[str, ...] = (
    "x-hm-apitoken",
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "x-auth-token",
    "x-csrf-token",
    "x-xsrf-token",
)
#: a header whose name contains one of these words is treated as secret too (``X-My-Api-Token``)
SECRET_HEADER_WORDS: tuple[str, ...] = ("token", "authorization", "secret", "password", "apikey", "api-key", "cookie")


def is_secret_header(name: str) -> bool:
    """True when the header ``name`` (any case) carries a credential: never shown, logged or echoed."""
    low = name.strip().lower()
    return low in SECRET_HEADERS or any(w in low for w in SECRET_HEADER_WORDS)


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
