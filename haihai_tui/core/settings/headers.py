"""HTTP header values: ``${VAR}`` from the environment, ``${secret:NAME}`` from secrets.toml.

The X-HM-apitoken header is a secret: it resolves to a :class:`Secret`, never to a plain string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from haihai_tui.core.secret import Secret, is_secret_header
from haihai_tui.core.settings.model import CONTROL_CHARS, HEADER_NAME, TOKEN_HEADER, Integration, Settings
from haihai_tui.core.text import one_line

REF = re.compile(r"^\$\{(?:(secret):)?([^}]+)\}$")


@dataclass(frozen=True)
class HeaderValue:
    name: str
    kind: str  # "env" | "secret" | "literal"
    ref: str  # the variable or secrets.toml name ("" for literal)
    value: Secret | str | None  # None when the reference does not resolve, or its value was refused
    refused: str | None = None  # why the value was refused (never the value itself)

    @property
    def source(self) -> str:
        if self.kind == "env":
            return f"environment variable {self.ref}"
        if self.kind == "secret":
            return f'secrets.toml [tokens] "{self.ref}"'
        return "written in db.toml"

    @property
    def missing(self) -> str | None:
        if self.refused:
            return self.refused
        if self.value is not None:
            return None
        if self.kind == "env":
            return f"environment variable {self.ref} is not set (export {self.ref}=... before starting)"
        return f'secrets.toml has no [tokens] "{self.ref}"; add it there (the file must be mode 0600)'


def is_token_header(name: str) -> bool:
    return name.lower() == TOKEN_HEADER.lower()


def parse(name: str, raw: str) -> tuple[str, str]:
    """(kind, ref) of a raw header value."""
    m = REF.match(raw.strip())
    if not m:
        return "literal", ""
    return ("secret" if m.group(1) else "env"), m.group(2).strip()


def resolve(name: str, raw: str, settings: Settings, environ: dict[str, str]) -> HeaderValue:
    kind, ref = parse(name, raw)
    # A value that comes from the environment or secrets.toml is treated as secret whatever the header's
    # name (someone keeps it out of db.toml for a reason); a literal is secret for a credential header
    # (core/secret.py SECRET_HEADERS: the token header, Authorization, Cookie...).
    refused = None
    if kind == "env":
        v = environ.get(ref)
        value = None if v is None else Secret(v, f"environment variable {ref}")
        if v is not None and CONTROL_CHARS.search(v):
            value, refused = (
                None,
                (
                    f"header {one_line(name)}: environment variable {one_line(ref)} contains a "
                    "control character (a line break, tab, DEL or similar), so it is not sent; "
                    "set it again without it"
                ),
            )
    elif kind == "secret":
        value = settings.secrets.tokens.get(ref)
        if ref in settings.secrets.refused:
            refused = f"header {one_line(name)}: {settings.secrets.refused[ref]}"
    else:
        value = Secret(raw, "db.toml") if is_token_header(name) or is_secret_header(name) else raw
    return HeaderValue(name, kind, ref, value, refused)


def resolve_all(integ: Integration, settings: Settings, environ: dict[str, str]) -> list[HeaderValue]:
    return [resolve(n, v, settings, environ) for n, v in integ.headers.items()]


def header_problem(name: str, raw: str) -> str | None:
    """Why header ``name`` with the value ``raw`` as written in db.toml cannot be sent (never shows the value)."""
    if not HEADER_NAME.fullmatch(name):
        return (
            f"header name {one_line(repr(name))} is not a valid HTTP header name (letters, digits and "
            "!#$%&'*+.^_`|~- only, no spaces)"
        )
    if CONTROL_CHARS.search(raw):
        return (
            f"header {name}: its value contains a control character (a line break, tab, DEL or similar), "
            "so it is not sent; write it again without it"
        )
    return None


def token_header(integ: Integration) -> tuple[str, str] | None:
    for n, v in integ.headers.items():
        if is_token_header(n):
            return n, v
    return None
