"""The integration URL rule, in one place: https always; plain http only to this machine.

"This machine" is a loopback address (127.0.0.0/8, ::1) written as an address, or the name
``localhost``. A name that merely starts with ``127.`` (``http://127.evil.example/``) is a name
like any other and may resolve anywhere, so it is refused; so are forms that some resolvers read as
a loopback address but that are not written as one (``2130706433``, ``127.1``, ``0x7f.0.0.1``).

Used by the settings check (core/settings/validate.py, which adds file:line) and by the client
before anything is sent (core/haihai/multipart.py ``check_url``). Standard library only, so that
checking settings does not load the HTTP stack.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import SplitResult, urlsplit

#: where HaiHai's import endpoint lives; every message shows the shape of a right URL
URL_SHAPE = "https://HOST/PATH/api/v1/custcsv/import"
#: host names that mean this machine (compared without case and without a trailing dot)
LOOPBACK_NAMES = ("localhost",)


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and for an IP address in 127.0.0.0/8 or ::1 (brackets allowed)."""
    h = host.strip().lower()
    if h.endswith(".") and not h.endswith(".."):
        h = h[:-1]
    if h in LOOPBACK_NAMES:
        return True
    if h.startswith("[") and h.endswith("]"):
        h = h[1:-1]
    try:
        addr = ipaddress.ip_address(h)
    except ValueError:  # a name: only LOOPBACK_NAMES mean this machine
        return False
    return addr.is_loopback


def split_url(url: str) -> tuple[SplitResult | None, str | None]:
    """(parts, None) for a URL this program may send to, or (None, problem in plain words)."""
    text = url or ""
    if not text.strip():
        return None, f"URL is empty; write {URL_SHAPE}"
    if any(c.isspace() for c in text) or not text.isprintable():
        return None, "URL contains a space, line break or control character; remove it"
    if "\\" in text:
        return None, f"URL contains a backslash (\\); write {URL_SHAPE}"
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number 0-65535
    except ValueError as e:
        return None, f"URL {text!r} is not a valid address ({e}); write {URL_SHAPE}"
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not parts.netloc:
        got = f"{scheme}://" if scheme else "no scheme"
        return None, f"URL must start with https:// (got {got}); write {URL_SHAPE}"
    if "@" in parts.netloc:
        return None, "URL must not contain user:password@; the token goes in the X-HM-apitoken header"
    if not host:
        return None, f"URL has no host; write {URL_SHAPE}"
    if scheme == "http" and not is_loopback_host(host):
        return None, (
            f"URL must use https:// (plain http:// is allowed only to this machine: 127.0.0.1, ::1 or "
            f"localhost), not {text!r}"
        )
    return parts, None


def url_problem(url: str) -> str | None:
    """What makes ``url`` unusable as an integration URL, in plain words; None when it is fine."""
    return split_url(url)[1]
