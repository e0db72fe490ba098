"""The conditions dialog of a record list: one condition per column (= equals, ~ contains)."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Select, Static
from textual.widgets.option_list import Option

from haihai_tui.core.records.query import Condition
from haihai_tui.core.text import one_line
from haihai_tui.tui.bindings import scope
from haihai_tui.tui.widgets.safe_input import SafeInput


class ConditionScreen(ModalScreen[tuple[Condition, ...] | None]):
    """Conditions per column: the active ones (d removes), and a row to add one (column, = or ~, value)."""

    DEFAULT_CSS = """
    ConditionScreen { align: center middle; }
    ConditionScreen > Vertical { width: 72; max-width: 100%; height: auto; border: round $accent;
                                 background: $surface; padding: 0 1; }
    ConditionScreen .dlg-title { text-style: bold; }
    ConditionScreen .dlg-hint { color: $text-muted; }
    ConditionScreen #cond-list { height: auto; max-height: 8; }
    ConditionScreen Horizontal { height: auto; }
    ConditionScreen #cond-col { width: 24; }
    ConditionScreen #cond-op { width: 18; }
    ConditionScreen #cond-value { width: 1fr; background: $boost; }
    ConditionScreen SelectCurrent .arrow { display: none; }   /* the arrow glyphs are ambiguous-width */
    ConditionScreen Select { margin-right: 1; }
    """
    BINDINGS = scope("conditions")

    def __init__(self, columns: list[tuple[str, str]], conditions: tuple[Condition, ...], current: str) -> None:
        super().__init__()
        self.columns, self.conditions, self.current = columns, list(conditions), current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Conditions / 条件 (all must match)", classes="dlg-title", markup=False)
            yield OptionList(id="cond-list", compact=True)
            with Horizontal():
                yield Select(
                    [(Text(one_line(label)), cid) for cid, label in self.columns],
                    value=self.current,
                    allow_blank=False,
                    id="cond-col",
                    compact=True,
                )
                yield Select(
                    [("= equals", "="), ("~ contains", "~")], value="~", allow_blank=False, id="cond-op", compact=True
                )
                yield SafeInput(placeholder="value, then Enter", id="cond-value", compact=True)
            yield Static(
                "Tab = next field (column, = or ~, value); Enter on column or = / ~ opens the "
                "choices; Enter in value = add.  In the list above: d = remove.  Esc = close "
                "(changes apply)",
                classes="dlg-hint",
                markup=False,
            )

    def on_mount(self) -> None:
        self._fill()
        self.query_one("#cond-value", Input).focus()

    def _label(self, cid: str) -> str:
        return next((label for c, label in self.columns if c == cid), cid)

    def _fill(self) -> None:
        ol = self.query_one("#cond-list", OptionList)
        ol.clear_options()
        if self.conditions:
            ol.add_options(
                [
                    Option(Text(one_line(c.describe(self._label(c.field_id)))), id=str(i))
                    for i, c in enumerate(self.conditions)
                ]
            )
            ol.highlighted = 0
        else:
            ol.add_option(Option(Text("(no conditions: every row is listed)"), id="none", disabled=True))

    @on(Input.Submitted, "#cond-value")
    def _add(self, event: Input.Submitted) -> None:
        event.stop()
        value = event.value
        if not value.strip():
            self.notify("Type a value to compare with.", markup=False)
            return
        cid = self.query_one("#cond-col", Select).value
        op = "=" if self.query_one("#cond-op", Select).value == "=" else "~"
        cond = Condition(str(cid), op, value)
        if cond not in self.conditions:
            self.conditions.append(cond)
        self.dismiss(tuple(self.conditions))

    def action_remove(self) -> None:
        ol = self.query_one("#cond-list", OptionList)
        if self.focused is not ol or ol.highlighted is None or not self.conditions:
            if self.focused is not ol:
                self.notify("Move to the list of conditions (shift+tab) and choose one to remove.", markup=False)
            return
        del self.conditions[ol.highlighted]
        self._fill()

    def action_close(self) -> None:
        self.dismiss(tuple(self.conditions))
