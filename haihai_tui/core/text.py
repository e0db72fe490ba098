"""Text from outside shown to a person: one home for character descriptions (and, later, terminal safety)."""

from __future__ import annotations

import unicodedata


def describe_char(ch: str) -> str:
    """'😀' for visible characters; U+ and the name for spaces, controls and other invisible ones."""
    if ch.isprintable() and not ch.isspace() and not 0xD800 <= ord(ch) <= 0xDFFF:
        return f"'{ch}' (U+{ord(ch):04X})"
    name = unicodedata.name(ch, "a lone surrogate, i.e. damaged text" if 0xD800 <= ord(ch) <= 0xDFFF else "")
    return f"U+{ord(ch):04X}" + (f" ({name})" if name else "")
