"""What screens, dialogs and widgets may ask of the app: one typed interface instead of duck typing.

``HaiHaiApp`` (``haihai_tui.tui.app``) implements :class:`Host`; every screen, dialog and widget reaches
it through :func:`host` (``host(self).ctx``), never by importing the app module (that would make the
screens and the app import each other).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, cast

from textual.dom import DOMNode

from haihai_tui.core.settings.context import AppContext

if TYPE_CHECKING:
    from textual.app import App
    from textual.screen import Screen

    from haihai_tui.tui.runs import RunService


class Host(Protocol):
    """The app as its screens see it: who is at the keyboard, the run service, navigation, settings."""

    ctx: AppContext  # the login, the settings folder and what it says
    runs: RunService  # the one integration run that may be going
    mock_note: str  # a line for the start screen when the demo's mock server is used
    settings_version: int  # bumped by every reload; screens refresh when it changed
    keymap: dict[str, str]  # tui.toml [keys] as applied when the app started: binding id -> keys

    def open(self, target: str) -> None:
        """Go to a screen by name ("menu:顧客一覧", "history" ...), asking first about unsaved changes."""
        ...

    def reload_settings(self) -> None:
        """Re-read the settings folder; the current screen refreshes now, the others when shown."""
        ...

    def key_for(self, binding_id: str) -> str:
        """The key(s) of a binding as shown to a person (after tui.toml remaps): "F6", "F5/^r"."""
        ...

    def dirty_screens(self) -> list[Screen]:
        """Screens on the stack with unsaved changes."""
        ...


def host(node: DOMNode) -> Host:
    """The app of ``node`` as a :class:`Host` (the running app is always a HaiHaiApp)."""
    app: App = node.app
    return cast(Host, app)
