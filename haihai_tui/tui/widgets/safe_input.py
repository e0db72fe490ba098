"""``SafeInput``: an Input whose value may hold outside text (a name from the settings, a pasted value).

Textual draws an Input's value as it is: an ESC in it would reach the terminal. The value itself is
kept exactly (it is what gets saved or searched); only the drawing replaces each unsafe character
(``core.text.is_unsafe``) by as many ``?`` as cells it takes (usually none), so the cursor stays
where Textual computes it.
"""

from __future__ import annotations

from rich.cells import get_character_cell_size
from rich.text import Text
from textual.widgets import Input

from haihai_tui.core.text import is_unsafe


def drawable(value: str) -> str:
    """``value`` with every unsafe character replaced, keeping the display width of every position."""
    if value.isprintable():
        return value
    return "".join("?" * get_character_cell_size(ch) if is_unsafe(ch) else ch for ch in value)


class SafeInput(Input):
    @property
    def _value(self) -> Text:
        text = super()._value
        plain = text.plain
        clean = drawable(plain)
        if clean == plain:
            return text
        return Text(clean, no_wrap=True, overflow="ignore", end="")
