"""A small modal form: a few labelled text inputs and one-line choices, saved by a callback.

Used where a screen needs a name or a short record of settings (a new database, a field, a menu name).
``submit(values)`` does the checked write and returns None when it was saved (the dialog closes with
True) or the sentence of the refusal, which is shown in the form under the fields: nothing typed is lost.
Every text (labels, values, the refusal) is shown terminal-safe and never parsed as markup.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from haihai_tui.core.text import one_line, safe
from haihai_tui.tui.bindings import key_label, scope
from haihai_tui.tui.widgets.kvgrid import Choice, value_of
from haihai_tui.tui.widgets.safe_input import SafeInput


@dataclass
class FormField:
    key: str
    label: str
    value: str = ""
    choices: list[tuple[str, str]] | None = None  # (value, label): a Choice instead of a text input
    disabled: bool = False
    placeholder: str = ""


class FormScreen(ModalScreen[bool]):
    """Dismisses True when ``submit`` saved, False on Esc."""

    DEFAULT_CSS = """
    FormScreen { align: center middle; }
    FormScreen > Vertical { width: 72; max-width: 100%; height: auto; max-height: 100%; border: round $accent;
                            background: $surface; padding: 0 1; }
    FormScreen .dlg-title { text-style: bold; }
    FormScreen .form-label { color: $text-muted; }
    FormScreen #form-error { color: $error; height: auto; }
    FormScreen .hint { color: $text-muted; }
    """
    BINDINGS = scope("form")

    def __init__(
        self, title: str, fields: list[FormField], submit: Callable[[dict[str, str]], str | None], note: str = ""
    ) -> None:
        super().__init__()
        self.title_text, self.fields, self.submit, self.note = one_line(title), fields, submit, note

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, classes="dlg-title", markup=False)
            if self.note:
                yield Static(safe(self.note, multiline=True), classes="form-label", markup=False)
            for f in self.fields:
                yield Static(one_line(f.label), classes="form-label", markup=False)
                if f.choices is not None:
                    yield Choice(f.choices, f.value, id=f"form-{f.key}", disabled=f.disabled)
                else:
                    yield SafeInput(
                        f.value,
                        id=f"form-{f.key}",
                        compact=True,
                        disabled=f.disabled,
                        placeholder=one_line(f.placeholder),
                    )
            yield Static("", id="form-error", markup=False)
            yield Static("", id="form-hint", classes="hint", markup=False)

    def on_mount(self) -> None:
        save = self._keys("save", "F2")
        cancel = self._keys("cancel", "Esc")
        self.query_one("#form-hint", Static).update(
            f"Tab = next field, Enter on the last field or {save} = save, {cancel} = cancel"
        )

    def _keys(self, action: str, default: str) -> str:
        try:
            keys = [k for k, ab in self.active_bindings.items() if ab.binding.action == action]
        except Exception:
            keys = []
        return "/".join(key_label(k) for k in keys) or default

    def values(self) -> dict[str, str]:
        return {f.key: value_of(self.query_one(f"#form-{f.key}")) for f in self.fields}

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        enabled = [f for f in self.fields if not f.disabled]
        if enabled and event.input.id == f"form-{enabled[-1].key}":
            self.action_save()
        else:
            self.focus_next()

    def action_save(self) -> None:
        why = self.submit(self.values())
        if why:
            self.query_one("#form-error", Static).update(safe(why, multiline=True))
            return
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
