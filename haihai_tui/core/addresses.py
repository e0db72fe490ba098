"""E-mail address syntax: the one rule shared by settings, pre-flight and report mail."""

from __future__ import annotations

import re

from haihai_tui.core.text import describe_char

# E-mail addresses we accept (a practical RFC 5322 subset):
#   exactly one @; a non-empty local part of ASCII letters, digits and !#$%&'*+/=?^_`{|}~.- where dots may
#   lead, trail or repeat (Japanese mobile carriers issued such addresses, and they still receive mail);
#   a domain of at least two dot-separated labels, each letters/digits with inner hyphens, where letters
#   may be non-ASCII (an IDN such as 例え.jp); no spaces of any kind; at most 254 characters in all.
#   Quoted local parts, IP-literal domains and non-ASCII local parts are refused.
EMAIL_MAX = 254
_LOCAL = r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]++"
_ALABEL = r"[A-Za-z0-9]++(?:-++[A-Za-z0-9]++)*+"
_ULABEL = r"[^\W_]++(?:-++[^\W_]++)*+"
_ADDR_A = rf"{_LOCAL}@{_ALABEL}(?:\.{_ALABEL})++"
EMAIL_FAST = re.compile(rf"(?:{_ADDR_A}\n)*+{_ADDR_A}")  # a whole chunk of ASCII addresses joined by "\n"
EMAIL_RE = re.compile(rf"{_LOCAL}@{_ULABEL}(?:\.{_ULABEL})++")
_LOCAL_CHAR = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]")


def email_problem(v: str) -> str | None:
    """Why ``v`` is not an address we accept (see EMAIL_RE above), or None when it is fine."""
    if len(v) > EMAIL_MAX:
        return f"it is longer than {EMAIL_MAX} characters"
    sp = next((c for c in v if c.isspace()), None)
    if sp is not None:
        return (
            "it contains a full-width space (U+3000)"
            if sp == "\u3000"
            else f"it contains a space or line break (U+{ord(sp):04X})"
        )
    if v.count("@") != 1:
        if "@" in v:
            return "it has more than one @"
        return "there is no @" + (" (it has a full-width ＠; use the ASCII @)" if "＠" in v else "")
    local, domain = v.split("@")
    if not local:
        return "there is nothing before the @"
    if not domain:
        return "there is nothing after the @"
    bad = next((c for c in local if not _LOCAL_CHAR.fullmatch(c)), None)
    if bad is not None:
        return f"the character {describe_char(bad)} is not allowed before the @"
    if "." not in domain:
        return f"the domain {domain!r} has no dot"
    if EMAIL_RE.fullmatch(v) is None:
        return f"the domain {domain!r} is not a valid domain name"
    return None
