"""The masked secret field of the settings forms (API token, SMTP password) and their label row.

A :class:`MaskedInput` shows ``*`` per character while ``password`` is on. ``reveal`` puts a stored secret into
the box in clear (the one place it is ever on screen) and remembers it, so that ``typed`` tells a newly typed
secret from the revealed stored one left as it was."""

from __future__ import annotations

from rich.text import Text
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Static

from haihai_tui.core.text import one_line
from haihai_tui.tui.widgets.safe_input import SafeInput


class MaskedInput(SafeInput):
    """An Input that shows ``*`` per character while ``password`` is on (no ambiguous-width bullets)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.revealed: str | None = None

    @property
    def _value(self) -> Text:
        if self.password:
            return Text("*" * len(self.value), no_wrap=True, overflow="ignore", end="")
        return super()._value

    def typed(self) -> str:
        """A secret the user typed; "" when the box is empty or still holds the revealed stored secret."""
        value = self.value
        return "" if not value or value == self.revealed else value

    def reveal(self, secret: str) -> None:
        """Show the stored secret in clear in this box and focus it."""
        self.revealed = secret
        self.value = secret
        self.password = False
        self.focus()

    def forget(self) -> None:
        """After a save: empty the box and forget the revealed secret."""
        self.revealed = None
        self.value = ""


def field_row(label: str, widget: Widget) -> Horizontal:
    return Horizontal(Static(one_line(label), classes="f-label", markup=False), widget, classes="f-row")
