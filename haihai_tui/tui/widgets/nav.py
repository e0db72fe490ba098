"""j/k/g/G list navigation on whatever list has the focus (screens and dialogs share it)."""

from __future__ import annotations

from textual.widget import Widget
from textual.widgets import DataTable, OptionList


def nav_widget(widget: Widget | None, where: str) -> None:
    """j/k/g/G on the focused list: DataTable, OptionList (ListView-likes) or a scrollable."""
    if widget is None:
        return
    if isinstance(widget, DataTable):
        actions = {
            "down": widget.action_cursor_down,
            "up": widget.action_cursor_up,
            "top": widget.action_scroll_top,
            "bottom": widget.action_scroll_bottom,
        }
    elif isinstance(widget, OptionList):
        actions = {
            "down": widget.action_cursor_down,
            "up": widget.action_cursor_up,
            "top": widget.action_first,
            "bottom": widget.action_last,
        }
    else:
        actions = {
            "down": widget.scroll_down,
            "up": widget.scroll_up,
            "top": widget.scroll_home,
            "bottom": widget.scroll_end,
        }
    fn = actions.get(where)
    if fn:
        fn()
