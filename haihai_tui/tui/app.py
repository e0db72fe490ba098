"""The Textual app: the screen stack, global keys, the palette and the run service.

Screens live in ``haihai_tui.tui.screens``; this module only wires them together. ``HaiHaiApp``
implements :class:`haihai_tui.tui.host.Host`, the interface screens, dialogs and widgets use.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.scrollbar import ScrollBar, ScrollBarRender

from haihai_tui.core.settings.context import AppContext
from haihai_tui.core.text import one_line, safe
from haihai_tui.tui import bindings as kb
from haihai_tui.tui.palette import Jump
from haihai_tui.tui.runs import RunFinished, RunService, announcement
from haihai_tui.tui.screens.base import AppScreen


class _PlainScrollBarRender(ScrollBarRender):
    """Scrollbars drawn with colour only: the 1/8-block glyphs are ambiguous-width on CJK terminals."""

    VERTICAL_BARS = [" "] * 8
    HORIZONTAL_BARS = [" "] * 8


ScrollBar.renderer = _PlainScrollBarRender


class HaiHaiApp(App):
    """haihai-tui. ``ctx`` is who is at the keyboard and what the settings say."""

    CSS_PATH = str(Path(__file__).with_name("app.tcss"))  # absolute: subclasses may live anywhere
    TITLE = "haihai-tui"
    BINDINGS = kb.APP
    COMMANDS = App.COMMANDS | {Jump}
    COMMAND_PALETTE_DISPLAY = "^p"

    def __init__(self, ctx: AppContext, *, mock_note: str = "") -> None:
        super().__init__()
        self.ctx = ctx
        self.mock_note = mock_note
        self.settings_version = 0
        #: tui.toml [keys] as applied when the app started (binding id -> keys)
        self.keymap: dict[str, str] = kb.clean_keymap(ctx.settings.keys)
        self._clash_seen: set[tuple[str, ...]] = set()
        if "TEXTUAL_ANIMATIONS" not in os.environ:
            self.animation_level = "none"
        self.runs = RunService(self, ctx, key_hint=self.key_for)

    @property
    def run_execute_options(self) -> dict:
        """Extra keyword arguments for every run's ``execute`` (tests and benchmarks shorten polling)."""
        return self.runs.execute_options

    @run_execute_options.setter
    def run_execute_options(self, options: dict) -> None:
        self.runs.execute_options = dict(options)

    def key_for(self, binding_id: str) -> str:
        return kb.key_hint(binding_id, self.keymap)

    # --- start ----------------------------------------------------------------------------------
    def get_default_screen(self) -> Screen:
        from haihai_tui.tui.screens.start import StartScreen

        return StartScreen()

    def on_mount(self) -> None:
        if self.keymap:
            self.set_keymap(self.keymap)
        for msg in kb.unknown_ids(self.ctx.settings.keys):
            self.notify(one_line(msg), severity="warning", timeout=10, markup=False)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every notification of the app: shown literally (never parsed as markup) and terminal-safe.

        Messages quote names, values and server text; ``markup`` is ignored on purpose.
        """
        super().notify(
            safe(message, multiline=True), title=one_line(title), severity=severity, timeout=timeout, markup=False
        )

    def on_run_finished(self, message: RunFinished) -> None:
        """Every run's end is announced here, whatever screen is showing."""
        text, title, severity, timeout = announcement(message.state, self.key_for("progress"))
        self.notify(text, title=title, severity=severity, timeout=timeout, markup=False)

    def handle_bindings_clash(self, clashed_bindings: set[Binding], node) -> None:
        key = tuple(sorted(f"{b.key}:{b.id}" for b in clashed_bindings))
        if key not in self._clash_seen:
            self._clash_seen.add(key)
            ids = one_line(", ".join(sorted({str(b.id) for b in clashed_bindings})))
            self.notify(
                f"tui.toml [keys]: the new keys clash with {ids}; one of them wins. Choose another key in tui.toml.",
                severity="warning",
                timeout=10,
                markup=False,
            )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "focus_next" and getattr(self.focused, "takes_tab", lambda: False)():
            return False  # the focused field completes on Tab (tui/widgets/path_input.py)
        return super().check_action(action, parameters)

    def get_key_display(self, binding: Binding) -> str:
        return binding.key_display or kb.key_label(binding.key)

    # --- settings --------------------------------------------------------------------------------
    def reload_settings(self) -> None:
        """Re-read the settings folder; screens refresh when they show again."""
        self.ctx.reload()
        self.settings_version += 1
        screen = self.screen
        if isinstance(screen, AppScreen):
            screen.on_screen_resume()

    # --- navigation -------------------------------------------------------------------------------
    def dirty_screens(self) -> list[AppScreen]:
        return [s for s in self.screen_stack if isinstance(s, AppScreen) and s.is_dirty()]

    def open(self, target: str) -> None:
        """Go to a screen by name (palette, start screen): see screens.destinations()."""
        if target in ("start", "progress", "help"):
            return self._go(target)
        if self.dirty_screens():
            from haihai_tui.tui.dialogs.common import ConfirmScreen

            self.push_screen(
                ConfirmScreen(
                    "A screen has unsaved changes. Leave it and discard them?", yes="discard and go", no="stay"
                ),
                lambda yes: self._go(target) if yes else None,
            )
        else:
            self._go(target)

    def _go(self, target: str) -> None:
        if target == "progress":
            return self.action_progress()
        if target == "help":
            return self.action_help()
        while len(self.screen_stack) > 1:
            self.pop_screen()
        if target == "start":
            return
        screen = self.make_screen(target)
        if screen is not None:
            self.push_screen(screen)

    def make_screen(self, target: str) -> Screen | None:
        from haihai_tui.tui.screens.databases import DatabasesScreen
        from haihai_tui.tui.screens.fields import FieldsScreen
        from haihai_tui.tui.screens.history import HistoryScreen
        from haihai_tui.tui.screens.integration_form import IntegrationFormScreen
        from haihai_tui.tui.screens.integrations import IntegrationsScreen
        from haihai_tui.tui.screens.menus import MenusScreen
        from haihai_tui.tui.screens.permissions import PermissionsScreen
        from haihai_tui.tui.screens.record_list import RecordListScreen
        from haihai_tui.tui.screens.system_settings import SystemSettingsScreen
        from haihai_tui.tui.screens.users import UsersScreen

        kind, _, arg = target.partition(":")
        if kind == "permissions":
            return PermissionsScreen()
        if kind == "users":
            return UsersScreen()
        if kind == "system":
            return SystemSettingsScreen()
        if kind == "integrations":
            return IntegrationsScreen()
        if kind == "integration":
            return IntegrationFormScreen(self.ctx.settings.integration(arg))
        if kind in ("menus", "menu-settings"):
            return MenusScreen(arg or None)
        if kind == "menu":
            return RecordListScreen(arg)
        if kind in ("menu-import", "menu-export"):  # the list, then its CSV dialog (tui/dialogs/csv_*.py)
            screen = RecordListScreen(arg)
            screen.call_after_refresh(screen.action_import_csv if kind == "menu-import" else screen.action_export_csv)
            return screen
        if kind == "menu-new-record":  # the list, then the record editor on a new record (key a on the list)
            screen = RecordListScreen(arg)
            screen.call_after_refresh(screen.action_add_record)
            return screen
        if kind == "history":
            return HistoryScreen()
        if kind == "databases":
            return DatabasesScreen()
        if kind == "fields":
            return FieldsScreen(arg)
        self.notify(f"Unknown place {one_line(target)!r}.", severity="warning", markup=False)
        return None

    # --- global actions ------------------------------------------------------------------------------
    def action_help(self) -> None:
        from haihai_tui.tui.screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen.for_screen(self.screen))

    def action_command_palette(self) -> None:
        from textual.command import CommandPalette

        if self.use_command_palette and not CommandPalette.is_open(self):
            self.push_screen(
                CommandPalette(id="--command-palette", placeholder="Go to a screen or menu, or run a command...")
            )

    def action_progress(self) -> None:
        from haihai_tui.tui.screens.progress import ProgressScreen

        if not isinstance(self.screen, ProgressScreen):
            self.push_screen(ProgressScreen())

    async def action_quit(self) -> None:
        busy = self.runs.busy
        dirty = self.dirty_screens()
        if not busy and not dirty:
            self.exit()
            return
        from haihai_tui.tui.dialogs.common import ConfirmScreen

        why = (
            "A run is in progress; quitting now leaves its outcome unknown (it is recorded as interrupted)."
            if busy
            else "A screen has unsaved changes; quitting discards them."
        )
        self.push_screen(
            ConfirmScreen(f"{why}\nQuit anyway?", title="Quit / 終了", yes="quit", no="stay"),
            lambda yes: self.exit() if yes else None,
        )

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield SystemCommand("Keys / help", "List every key of this screen, with binding ids", self.action_help)
        yield SystemCommand("Reload settings", "Re-read the settings folder", self.reload_settings)
        yield SystemCommand("Quit", "Quit haihai-tui", self.action_quit)
        yield SystemCommand("Theme", "Change the colours", self.action_change_theme)
