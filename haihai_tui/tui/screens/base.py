"""What every screen shares.

``AppScreen`` gives every screen the header (who you are), the footer (the keys that matter),
Esc to go back (asking first when there are unsaved changes) and j/k/g/G list navigation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

from haihai_tui.core.problems import SettingsFileError
from haihai_tui.core.settings.editing import EditRefused
from haihai_tui.core.settings.permissions import PermissionDenied
from haihai_tui.core.settings.store import StoreError
from haihai_tui.core.text import safe
from haihai_tui.tui.bindings import SCREEN, key_label
from haihai_tui.tui.host import Host, host
from haihai_tui.tui.widgets.header import AppHeader
from haihai_tui.tui.widgets.nav import nav_widget

__all__ = ["AppScreen", "EDIT_ERRORS", "nav_widget", "run_edit"]


class AppScreen(Screen):
    """Base screen: header + body + footer, Esc back, list navigation."""

    TITLE_TEXT = ""
    HELP_TEXT = ""
    BINDINGS = SCREEN

    @property
    def happ(self) -> Host:
        """The app (see haihai_tui.tui.host)."""
        return host(self)

    def compose(self) -> ComposeResult:
        yield AppHeader(self.TITLE_TEXT)
        yield from self.body()
        yield Footer()

    def body(self) -> ComposeResult:
        return iter(())

    # unsaved changes -------------------------------------------------------------------------------
    def is_dirty(self) -> bool:
        return False

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back" and self.is_current and len(self.app.screen_stack) <= 1:
            return False  # the start screen has nowhere to go back to
        return True

    def action_back(self) -> None:
        if len(self.app.screen_stack) <= 1:
            return
        if not self.is_dirty():
            self.app.pop_screen()
            return
        from haihai_tui.tui.dialogs.common import ConfirmScreen

        def done(yes: bool | None) -> None:
            if yes:
                self.app.pop_screen()

        self.app.push_screen(
            ConfirmScreen("You have unsaved changes. Leave and discard them?", yes="discard and leave", no="stay"), done
        )

    def action_nav(self, where: str) -> None:
        nav_widget(self.focused, where)

    def keys_for(self, action: str, default: str, first: bool = False) -> str:
        """The key(s) bound to ``action`` right now (after tui.toml remaps), for hints on screen."""
        try:
            keys = [k for k, ab in self.active_bindings.items() if ab.binding.action == action]
        except Exception:
            keys = []
        return " or ".join(key_label(k) for k in keys[: 1 if first else None]) or default

    # settings refresh ------------------------------------------------------------------------------
    _seen_version = -1

    def on_screen_resume(self) -> None:
        version = self.happ.settings_version
        if version != self._seen_version:
            self._seen_version = version
            self.settings_changed()
            try:
                self.query_one(AppHeader).refresh_who()
            except Exception:
                pass

    def settings_changed(self) -> None:
        """Called when the screen shows and the settings were reloaded since it last showed."""

    def refuse(self, message: str) -> None:
        """Show a refusal sentence (EditRefused, a permission) as an error notification."""
        self.notify(safe(message, multiline=True), title="Not done", severity="error", timeout=8, markup=False)

    def attempt(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[bool, Any]:
        """Call a core edit; a refusal or a file problem becomes its sentence on screen, not a traceback."""
        ok, result = run_edit(fn, *args, **kwargs)
        if not ok:
            self.refuse(result)
        return ok, result


EDIT_ERRORS: tuple[type[Exception], ...] = (EditRefused, StoreError, SettingsFileError, PermissionDenied, OSError)


def run_edit(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[bool, Any]:
    """(True, result) or (False, the sentence of the refusal)."""
    try:
        return True, fn(*args, **kwargs)
    except EDIT_ERRORS as e:
        return False, str(e) or type(e).__name__
