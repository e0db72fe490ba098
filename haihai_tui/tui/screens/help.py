"""Help: every key of the screen it was opened from (key, what it does, binding id for tui.toml)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import DataTable, Static

from haihai_tui.core.text import one_line, safe
from haihai_tui.tui.bindings import key_label, scope
from haihai_tui.tui.screens.base import AppScreen

Row = tuple[str, str, str]  # keys, description, id


def screen_keys(screen: Screen) -> list[Row]:
    """The active bindings of ``screen`` (focused widget, screen, app), keys grouped per binding."""
    grouped: dict[tuple, list[str]] = {}
    info: dict[tuple, tuple[str, str, int]] = {}
    for key, active in screen.active_bindings.items():
        b = active.binding
        desc = b.description or b.action.replace("_", " ")
        ident = (b.id or "", b.action, type(active.node).__name__)
        grouped.setdefault(ident, []).append(key)
        rank = 0 if active.node is screen else 1 if active.node is screen.app else 2  # widget keys last
        info[ident] = (desc, b.id or "", rank)
    order = sorted(grouped, key=lambda i: (not info[i][1], info[i][2]))  # remappable first
    return [(" ".join(key_label(k) for k in grouped[i]), info[i][0], info[i][1] or "-") for i in order]


class HelpScreen(AppScreen):
    TITLE_TEXT = "Help / ヘルプ"
    BINDINGS = scope("help")
    AUTO_FOCUS = "#keys"

    def __init__(self, title: str, text: str, rows: list[Row]) -> None:
        super().__init__()
        self.for_title, self.text, self.rows = one_line(title), safe(text, multiline=True), rows

    @classmethod
    def for_screen(cls, screen: Screen) -> HelpScreen:
        title = getattr(screen, "TITLE_TEXT", "") or type(screen).__name__
        return cls(title, getattr(screen, "HELP_TEXT", ""), screen_keys(screen))

    def body(self) -> ComposeResult:
        intro = f"Keys of: {self.for_title}"
        if self.text:
            intro += f"\n{self.text}"
        intro += '\nRemap any key in tui.toml:  [keys]  <id> = "f5"   (several: "f5,ctrl+r"). Esc closes this help.'
        yield Static(intro, id="help-intro", markup=False)
        yield DataTable(id="keys", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one("#keys", DataTable)
        table.add_column("Key", width=14)
        table.add_column("What it does", width=34)
        table.add_column("id (tui.toml)", width=20)
        for keys, desc, ident in self.rows:
            table.add_row(Text(one_line(keys)), Text(one_line(desc)), Text(one_line(ident)))
