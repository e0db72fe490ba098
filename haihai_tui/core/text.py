"""Outside text shown to a person: the one home for terminal safety, display width and character names.

Record values, names from the settings, memos and anything a server says are *hostile*: they may carry
ESC sequences (OSC 52 clipboard writes, OSC 8 links, screen wipes), BEL, NUL, bidi overrides or line
breaks. Every output path (command line, TUI, report mail, logs) passes such text through ``safe`` (or
``one_line``), which shows each of those characters visibly as an escape (``\\x1b``, ``\\u202e``) instead
of letting a terminal act on it. ``safe`` never parses or produces markup: screens hand its result to
Textual/Rich as plain ``Text``/``Content``.

Display width is measured with ``rich.cells`` (what Textual itself draws with), so every table in the
CLI and the TUI agrees on how wide a Japanese name or an emoji is.
"""

from __future__ import annotations

import unicodedata

from rich.cells import cell_len, get_character_cell_size

MORE = ".."  # ASCII: '…' is ambiguous-width on Japanese terminals

#: format characters that are part of ordinary text (emoji sequences, Indic shaping): left as they are
_HARMLESS_FORMAT = {"\u200c", "\u200d"}
_UNSAFE_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}


def _escape(ch: str) -> str:
    o = ord(ch)
    if o < 0x100:
        return f"\\x{o:02x}"
    if o < 0x10000:
        return f"\\u{o:04x}"
    return f"\\U{o:08x}"


def is_unsafe(ch: str) -> bool:
    """True for a character a terminal may act on or that changes how text around it shows."""
    return unicodedata.category(ch) in _UNSAFE_CATEGORIES and ch not in _HARMLESS_FORMAT


def safe(text: object, *, multiline: bool = False) -> str:
    """``text`` with every control, format (bidi), separator and surrogate character shown as an escape.

    ``multiline=True`` keeps line feeds (a server's error body, a log); everything else, tabs and
    carriage returns included, becomes visible. The result is plain text: never parse it as markup.
    """
    s = text if isinstance(text, str) else ("" if text is None else str(text))
    if s.isprintable():  # the common case: nothing to do (spaces other than U+0020 take the slow path)
        return s
    out = []
    for ch in s:
        if ch == "\n" and multiline:
            out.append(ch)
        elif is_unsafe(ch):
            out.append(_escape(ch))
        else:
            out.append(ch)
    return "".join(out)


def one_line(text: object) -> str:
    """``safe`` for a single line (a table cell, a list entry): line breaks shown as ``\\n`` too."""
    return safe(text, multiline=False)


def cell_width(text: str) -> int:
    """Terminal cells ``text`` takes (East Asian wide characters 2, combining marks 0)."""
    return cell_len(text)


def fit_cells(text: str, width: int, *, right: bool = False) -> str:
    """``text`` cut (ending in '..') or padded to exactly ``width`` cells; wide characters never split."""
    if width <= 0:
        return ""
    n = cell_len(text)
    if n <= width:
        pad = " " * (width - n)
        return pad + text if right else text + pad
    room = max(width - len(MORE), 0)
    out, used = [], 0
    for ch in text:
        w = get_character_cell_size(ch)
        if used + w > room:
            break
        out.append(ch)
        used += w
    tail = MORE[: width - used]
    return "".join(out) + tail + " " * (width - used - len(tail))


def describe_char(ch: str) -> str:
    """'😀' for visible characters; U+ and the name for spaces, controls and other invisible ones."""
    if ch.isprintable() and not ch.isspace() and not 0xD800 <= ord(ch) <= 0xDFFF:
        return f"'{ch}' (U+{ord(ch):04X})"
    name = unicodedata.name(ch, "a lone surrogate, i.e. damaged text" if 0xD800 <= ord(ch) <= 0xDFFF else "")
    return f"U+{ord(ch):04X}" + (f" ({name})" if name else "")
