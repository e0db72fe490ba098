"""Modal dialogs: confirm (y/n), typed confirmation, a message, and a pick-one list.

Keyboard-only; the keys are written in the dialog (no buttons, no glyphs). Every text a dialog is
given may quote names, values or a server's words: it is shown terminal-safe (``core.text.safe``) and
never parsed as markup.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from haihai_tui.core.text import one_line, safe
from haihai_tui.tui.bindings import key_label, scope
from haihai_tui.tui.widgets.nav import nav_widget
from haihai_tui.tui.widgets.safe_input import SafeInput


def _keys(screen: ModalScreen, action: str, default: str) -> str:
    """The key(s) currently bound to ``action`` on ``screen`` (keymap applied), for the hint line."""
    try:
        keys = [k for k, ab in screen.active_bindings.items() if ab.binding.action == action]
    except Exception:  # not mounted yet
        keys = []
    return "/".join(key_label(k) for k in keys) or default


class _Dialog(ModalScreen):
    DEFAULT_CSS = """
    _Dialog { align: center middle; }
    _Dialog > Vertical { width: 72; max-width: 100%; height: auto; max-height: 90%; border: round $accent;
                         background: $surface; padding: 0 1; }
    _Dialog .dlg-title { text-style: bold; }
    _Dialog .dlg-hint { color: $text-muted; margin-top: 1; }
    _Dialog .dlg-body { height: auto; max-height: 16; overflow-y: auto; }
    """


class ConfirmScreen(_Dialog):
    """Ask a yes/no question; dismisses with True or False."""

    BINDINGS = scope("confirm")

    def __init__(self, question: str, title: str = "Confirm / 確認", yes: str = "yes", no: str = "no") -> None:
        super().__init__()
        self.question, self.title_text = safe(question, multiline=True), one_line(title)
        self.yes, self.no = one_line(yes), one_line(no)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, classes="dlg-title", markup=False)
            yield Static(self.question, classes="dlg-body", markup=False)
            yield Static("", id="hint", classes="dlg-hint", markup=False)

    def on_mount(self) -> None:
        self.query_one("#hint", Static).update(
            f"{_keys(self, 'yes', 'y')} = {self.yes}    {_keys(self, 'no', 'n/Esc')} = {self.no}"
        )

    def action_yes(self) -> None:
        self.dismiss(True)

    def action_no(self) -> None:
        self.dismiss(False)


class TypedConfirmScreen(_Dialog):
    """A dangerous action: the user types ``word`` exactly, then Enter. Dismisses with True/False."""

    BINDINGS = scope("typed_confirm")

    def __init__(self, question: str, word: str, title: str = "Dangerous / 危険な操作") -> None:
        super().__init__()
        self.question, self.word, self.title_text = safe(question, multiline=True), word, one_line(title)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, classes="dlg-title", markup=False)
            yield Static(self.question, classes="dlg-body", markup=False)
            yield Static(
                f"Type {one_line(self.word)} and press Enter to go ahead; Esc cancels.",
                classes="dlg-hint",
                markup=False,
            )
            yield SafeInput(placeholder=one_line(self.word), id="typed", compact=True)
            yield Static("", id="typed-error", markup=False)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value.strip() == self.word:
            self.dismiss(True)
        else:
            self.query_one("#typed-error", Static).update(
                f"That is not {one_line(self.word)}; type it exactly, or Esc."
            )

    def action_no(self) -> None:
        self.dismiss(False)


class MessageScreen(_Dialog):
    """Show a message (a refusal, a result); any of Esc/Enter/q closes it."""

    BINDINGS = scope("message")

    def __init__(self, text: str, title: str = "") -> None:
        super().__init__()
        self.text, self.title_text = safe(text, multiline=True), one_line(title)

    def compose(self) -> ComposeResult:
        with Vertical():
            if self.title_text:
                yield Static(self.title_text, classes="dlg-title", markup=False)
            yield Static(self.text, classes="dlg-body", id="msg", markup=False)
            yield Static("Esc / Enter = close", classes="dlg-hint", markup=False)

    def action_close(self) -> None:
        self.dismiss(None)


class PickScreen(_Dialog):
    """Choose one of ``options`` [(value, label)]; dismisses with the value or None."""

    BINDINGS = scope("pick")

    def __init__(self, title: str, options: list[tuple[str, str]], hint: str = "") -> None:
        super().__init__()
        self.title_text, self.options, self.hint = one_line(title), options, safe(hint, multiline=True)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, classes="dlg-title", markup=False)
            if self.options:
                yield OptionList(
                    *[Option(Text(one_line(label)), id=str(i)) for i, (_, label) in enumerate(self.options)],
                    id="pick",
                    compact=True,
                )
            else:
                yield Static("(nothing left to choose)", markup=False)
            yield Static(self.hint or "Enter = choose    Esc = cancel", classes="dlg-hint", markup=False)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.options[int(event.option.id or 0)][0])

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_nav(self, where: str) -> None:
        nav_widget(self.focused, where)
