"""``PathInput``: a file path field that completes on Tab, as a shell does.

Tab completes the part after the last ``/`` as far as the names in that folder agree (a folder gets its
``/``); when several names fit, it posts :class:`PathInput.Candidates` so the dialog can list them. When
there is nothing to complete, Tab moves to the next field as everywhere else: the app leaves Tab to the
field (``takes_tab()``, asked by ``HaiHaiApp.check_action``), which decides after the keys typed before
it. ``~`` is the home folder; hidden names are offered only when the typed part starts with a dot. A
folder is read at most ``SCAN_LIMIT`` entries deep, so a huge folder never stalls the screen.
"""

from __future__ import annotations

import os
from itertools import islice
from pathlib import Path

from textual.message import Message

from haihai_tui.tui.bindings import scope
from haihai_tui.tui.host import host
from haihai_tui.tui.widgets.safe_input import SafeInput

SCAN_LIMIT = 20_000  # folder entries read per completion at most


def complete_path(text: str, base: Path | None = None) -> tuple[str, list[str]]:
    """(the completed text, the names that fit when more than one does) for ``text`` typed so far.

    Relative paths are taken from ``base`` (default: the current folder). Folder names end with ``/``.
    """
    if text == "~":
        return "~/", []
    full = os.path.expanduser(text) if text.startswith("~") else text
    head, part = os.path.split(full)
    folder = Path(head) if head else Path(".")
    if not folder.is_absolute():
        folder = (base or Path.cwd()) / folder
    try:
        with os.scandir(folder) as it:
            names = []
            for entry in islice(it, SCAN_LIMIT):
                name = entry.name
                if not name.startswith(part) or (name.startswith(".") and not part.startswith(".")):
                    continue
                try:
                    is_dir = entry.is_dir()
                except OSError:
                    is_dir = False
                names.append(name + "/" if is_dir else name)
    except OSError:
        return text, []
    if not names:
        return text, []
    names.sort()
    common = os.path.commonprefix(names)
    typed_head = text[: text.rfind("/") + 1]  # as typed: "~/" stays "~/"
    done = typed_head + common if len(common) > len(part) or len(names) == 1 else text
    return done, names if len(names) > 1 else []


class PathInput(SafeInput):
    """An Input for a file path; Tab completes (see the module docstring)."""

    BINDINGS = scope("path_input")

    class Candidates(Message):
        """Several names fit what is typed (``names``); empty when a completion was unique or none fit."""

        def __init__(self, path_input: PathInput, names: list[str]) -> None:
            super().__init__()
            self.path_input, self.names = path_input, names

        @property
        def control(self) -> PathInput:
            return self.path_input

    def __init__(self, value: str = "", *, base: Path | None = None, **kwargs) -> None:
        super().__init__(value, **kwargs)
        self.base = base
        self._listed: str | None = None  # the value whose candidates are on show
        self._cache: tuple[str, tuple[str, list[str]]] | None = None

    def _completion(self) -> tuple[str, list[str]]:
        if self._cache is None or self._cache[0] != self.value:
            self._cache = (self.value, complete_path(self.value, self.base))
        return self._cache[1]

    def takes_tab(self) -> bool:
        """True while Tab is this field's completion key: the app then leaves Tab to ``action_complete``,
        which runs after the keys typed before it (type-ahead) and moves the focus itself when there is
        nothing to complete."""
        keys = host(self).keymap.get("path_complete", "tab")
        return "tab" in [k.strip() for k in keys.split(",")]

    def action_complete(self) -> None:
        done, names = self._completion() if self.value else (self.value, [])
        if done == self.value and not (names and self._listed != self.value):
            self.screen.focus_next()  # nothing to complete: Tab moves on, as everywhere else
            return
        if done != self.value:
            self.value = done
            self.cursor_position = len(done)
            done, names = self._completion()
        self._listed = self.value if names else None
        self.post_message(self.Candidates(self, names))
