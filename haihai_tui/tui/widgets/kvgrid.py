"""The KEY/VALUE grid (リクエストパラメータ, HTTPヘッダ) and ``Choice``, a one-line cycling select.

Known keys get their meaning next to them; coded keys (import_type ...) get a ``Choice`` that offers
only the valid values. What the grid holds is still the plain KEY/VALUE list the product sends.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.suggester import SuggestFromList
from textual.widget import Widget
from textual.widgets import Input, Static

from haihai_tui.core.settings.model import IMPORT_TYPES, IS_OVERWRITE, KNOWN_PARAMS, OVERWRITE_TYPE, REPORT_OPTION
from haihai_tui.core.text import one_line
from haihai_tui.tui.bindings import scope
from haihai_tui.tui.widgets.safe_input import SafeInput

Options = list[tuple[str, str]]  # (value, label)


def coded(table: dict[str, tuple[str, str]]) -> Options:
    return [(code, f"{code} {ja}") for code, (ja, _en) in table.items()]


#: key -> (what it is, allowed values or None, {code: meaning})
PARAM_INFO: dict[str, tuple[str, Options | None, dict[str, tuple[str, str]]]] = {
    "login_id": ("HaiHai login ID (required)", None, {}),
    "import_type": ("operation (required)", coded(IMPORT_TYPES), IMPORT_TYPES),
    "is_overwrite": ("existing customers (import_type 0/5)", coded(IS_OVERWRITE), IS_OVERWRITE),
    "overwrite_type": ("blank cell (when is_overwrite 1)", coded(OVERWRITE_TYPE), OVERWRITE_TYPE),
    "gid": ("配信グループID delivery group", None, {}),
    "spid": ("ステップメールプランID step-mail plan", None, {}),
    "report_option": ("HaiHai's own report mail", coded(REPORT_OPTION), REPORT_OPTION),
}


def describe_param(key: str, value: str) -> str:
    """The meaning shown next to a row: ``import_type 0 = 新規登録 register (0/1/2/3/5)``."""
    info = PARAM_INFO.get(key)
    if info is None:
        return "" if not key else "not a HaiHai key (see below)"
    what, options, codes = info
    if not codes:
        return what
    allowed = "/".join(codes)
    if value in codes:
        ja, en = codes[value]
        return f"{value} = {ja} {en}  [{allowed}]"
    return f"{what}: choose {allowed}"


class Choice(Widget, can_focus=True):
    """``< 0 新規登録 >``: Left/Right/Space cycle through the allowed values; typing a value picks it."""

    DEFAULT_CSS = """
    Choice { height: 1; width: auto; min-width: 12; padding: 0 1; background: $boost; }
    Choice:focus { background: $accent 40%; text-style: bold; }
    Choice:disabled { color: $text-muted; }
    """
    BINDINGS = scope("choice")

    value: reactive[str] = reactive("", init=False)

    class Changed(Message):
        def __init__(self, choice: Choice, value: str) -> None:
            super().__init__()
            self.choice, self.value = choice, value

        @property
        def control(self) -> Choice:
            return self.choice

    def __init__(
        self,
        options: Options,
        value: str = "",
        *,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(id=id, classes=classes, disabled=disabled)
        self.options = options
        self.set_reactive(Choice.value, value if value or not options else options[0][0])

    def label(self) -> str:
        for v, label in self.options:
            if v == self.value:
                return label
        return f"{self.value!r} (not allowed)"

    def render(self) -> Text:
        return Text(f"< {one_line(self.label())} >", no_wrap=True)

    def watch_value(self, value: str) -> None:
        self.post_message(self.Changed(self, value))

    def action_step(self, delta: int) -> None:
        values = [v for v, _ in self.options]
        if not values:
            return
        i = values.index(self.value) if self.value in values else (-1 if delta > 0 else 0)
        self.value = values[(i + delta) % len(values)]

    def on_key(self, event) -> None:
        if event.character and event.character.isprintable() and event.character != " ":
            for v, _ in self.options:
                if v == event.character or (len(v) > 1 and v.startswith(event.character)):
                    self.value = v
                    event.stop()
                    return


def value_of(widget: Widget) -> str:
    """The value of a row's value widget (an Input or a Choice)."""
    return widget.value if isinstance(widget, (Input, Choice)) else ""


class KVRow(Horizontal):
    """One KEY / VALUE / meaning row."""

    DEFAULT_CSS = """
    KVRow { height: auto; }
    KVRow > .kv-key { width: 16; }
    KVRow > .kv-value { width: 20; }
    KVRow > .kv-meaning { width: 1fr; padding: 0 1; color: $text-muted; }
    """

    def __init__(self, key: str, value: str, *, known: bool, disabled: bool = False) -> None:
        super().__init__(disabled=disabled)
        self.key_text, self.value_text, self.known = key, value, known

    def compose(self) -> ComposeResult:
        yield SafeInput(
            self.key_text,
            placeholder="KEY",
            classes="kv-key",
            compact=True,
            suggester=SuggestFromList(KNOWN_PARAMS) if self.known else None,
        )
        yield self.make_value(self.key_text, self.value_text)
        yield Static(self.meaning(), classes="kv-meaning", markup=False)

    def make_value(self, key: str, value: str) -> Widget:
        options = PARAM_INFO.get(key, ("", None, {}))[1] if self.known else None
        if options:
            return Choice(options, value, classes="kv-value")
        return SafeInput(value, placeholder="VALUE", classes="kv-value", compact=True)

    @property
    def key(self) -> str:
        return self.query_one(".kv-key", Input).value

    @property
    def value(self) -> str:
        return value_of(self.query_one(".kv-value"))

    def meaning(self) -> str:
        return one_line(describe_param(self.key_text, self.value_text)) if self.known else ""

    def refresh_meaning(self) -> None:
        before = self.meaning()
        self.key_text, self.value_text = self.key, self.value
        after = self.meaning()
        if after != before:
            self.query_one(".kv-meaning", Static).update(after)

    async def sync_value_widget(self) -> None:
        """Swap Input <-> Choice when the key becomes (or stops being) a coded key."""
        old = self.query_one(".kv-value")
        want_choice = bool(self.known and PARAM_INFO.get(self.key, ("", None, {}))[1])
        if want_choice == isinstance(old, Choice):
            return
        value = value_of(old)
        new = self.make_value(self.key, value)
        await old.remove()
        await self.mount(new, after=self.query_one(".kv-key"))


class KVGrid(Vertical):
    """Editable KEY/VALUE rows. ``known=True`` explains HaiHai's import_settings keys."""

    DEFAULT_CSS = """
    KVGrid { height: auto; padding: 0 1; }
    KVGrid > .kv-head { color: $text-muted; }
    """

    class Changed(Message):
        def __init__(self, grid: KVGrid) -> None:
            super().__init__()
            self.grid = grid

        @property
        def control(self) -> KVGrid:
            return self.grid

    def __init__(
        self, rows: list[tuple[str, str]], *, known: bool = True, id: str | None = None, disabled: bool = False
    ) -> None:
        super().__init__(id=id, disabled=disabled)
        self.initial, self.known = rows, known

    def compose(self) -> ComposeResult:
        head = f"{'KEY':<16}{'VALUE':<20}" + ("meaning  [allowed values]" if self.known else "")
        yield Static(head, classes="kv-head", markup=False)
        for k, v in self.initial:
            yield KVRow(k, v, known=self.known)

    def row_widgets(self) -> list[KVRow]:
        return list(self.query(KVRow))

    def rows(self) -> list[tuple[str, str]]:
        """Every row with a key or a value, in order."""
        return [(r.key, r.value) for r in self.row_widgets() if r.key or r.value]

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in self.rows()}

    def duplicate_keys(self) -> list[str]:
        keys = [k for k, _ in self.rows()]
        return sorted({k for k in keys if keys.count(k) > 1})

    async def add_row(self, key: str = "", value: str = "") -> KVRow:
        row = KVRow(key, value, known=self.known)
        await self.mount(row)
        self.screen.set_focus(row.query_one(".kv-key", Input))  # now, not after queued keys
        self.post_message(self.Changed(self))
        return row

    def focused_row(self) -> KVRow | None:
        node = self.screen.focused
        while node is not None and node is not self:
            if isinstance(node, KVRow):
                return node
            node = node.parent
        return None

    async def delete_row(self, row: KVRow) -> None:
        rows = self.row_widgets()
        i = rows.index(row)
        await row.remove()
        rest = self.row_widgets()
        if rest:
            self.screen.set_focus(rest[min(i, len(rest) - 1)].query_one(".kv-key", Input))
        self.post_message(self.Changed(self))

    @on(Input.Changed)
    async def _input_changed(self, event: Input.Changed) -> None:
        event.stop()
        row = next((a for a in event.input.ancestors if isinstance(a, KVRow)), None)
        if row is None:
            return
        if event.input.has_class("kv-key"):
            await row.sync_value_widget()
        row.refresh_meaning()
        self.post_message(self.Changed(self))

    @on(Choice.Changed)
    def _choice_changed(self, event: Choice.Changed) -> None:
        event.stop()
        row = next((a for a in event.choice.ancestors if isinstance(a, KVRow)), None)
        if row is not None:
            row.refresh_meaning()
        self.post_message(self.Changed(self))

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.screen.focus_next()
