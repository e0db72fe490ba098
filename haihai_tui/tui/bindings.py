"""Every key binding of the app, each with an id that tui.toml ``[keys]`` can remap.

Screens take their ``BINDINGS`` from here (``SCOPES[name]``) so one file lists every default key.
Defaults avoid ctrl+b/a/s/z/h/j/m/i (tmux prefixes, keys old terminals confuse with others).
Other modules may define their own ``Binding(..., id=...)``; :func:`known_ids` finds those too.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from typing import Iterable

from textual.binding import Binding

# --- global (the App) --------------------------------------------------------------------------------
APP = [
    Binding("ctrl+q", "quit", "Quit", id="quit", priority=True, show=False),
    Binding("f1,question_mark", "help", "Help", id="help"),
    Binding("ctrl+p,colon", "command_palette", "Palette", id="palette", show=False),
    Binding("f6", "progress", "Progress", id="progress", show=False),
    # priority: focus moves before the next typed key is delivered (type-ahead lands in the right field)
    Binding("tab", "focus_next", "Next field", id="focus_next", show=False, priority=True),
    Binding("shift+tab", "focus_previous", "Previous field", id="focus_previous", show=False, priority=True),
]

# --- every screen: back, and list navigation (arrows, PgUp/PgDn work natively) -----------------------
BACK = Binding("escape", "back", "Back", id="back")
NAV = [
    Binding("j", "nav('down')", "Down", id="nav_down", show=False),
    Binding("k", "nav('up')", "Up", id="nav_up", show=False),
    Binding("g", "nav('top')", "First", id="nav_top", show=False),
    Binding("G", "nav('bottom')", "Last", id="nav_bottom", show=False),
]

SCOPES: dict[str, list[Binding]] = {
    "start": [
        Binding("enter", "open", "Open", id="open"),
        Binding("f5", "reload", "Reload", id="reload"),
        Binding("q", "app.quit", "Quit", id="quit_start"),
        *NAV,
    ],
    "help": [BACK, Binding("q", "back", "Close", id="help_close", show=False), *NAV],
    "permissions": [
        BACK,
        Binding("space", "toggle", "Tick", id="perm_toggle"),
        Binding("f2", "confirm", "確定 Save", id="perm_confirm"),
        Binding("a", "add_user", "Add user", id="user_add"),
        Binding("e", "edit_user", "Edit user", id="user_edit", show=False),
        Binding("d", "remove_user", "Remove user", id="user_delete", show=False),
        Binding("h", "cursor_left", "Left", id="nav_left", show=False),
        Binding("l", "cursor_right", "Right", id="nav_right", show=False),
        *NAV,
    ],
    "users": [
        BACK,
        Binding("a", "add_user", "Add", id="user_add"),
        Binding("e,enter", "edit_user", "Edit", id="user_edit"),
        Binding("d", "remove_user", "Remove", id="user_delete"),
        *NAV,
    ],
    "integrations": [
        BACK,
        Binding("a", "add", "新規追加 Add", id="integ_add"),
        Binding("e,enter", "edit", "Edit", id="integ_edit"),
        Binding("c", "copy", "Copy", id="integ_copy"),
        Binding("d", "delete", "Delete", id="integ_delete"),
        *NAV,
    ],
    "integration_form": [
        BACK,
        Binding("f2", "save", "確定 Save", id="save"),
        Binding("f7", "add_row", "Add row", id="kv_add", priority=True),
        Binding("f8", "delete_row", "Del row", id="kv_delete", priority=True),
        Binding("ctrl+t", "reveal", "Reveal", id="reveal"),
    ],
    "menus": [
        BACK,
        Binding("f2", "save", "確定 Save", id="menu_confirm"),
        Binding("a", "add", "追加 Add", id="menu_add"),
        Binding("d", "remove", "Remove", id="menu_remove"),
        Binding("K,shift+up", "move(-1)", "Move up", id="move_up", show=False),
        Binding("J,shift+down", "move(1)", "Move down", id="move_down", show=False),
        *NAV,
    ],
    "confirm": [
        Binding("y", "yes", "Yes", id="dialog_yes"),
        Binding("n,escape", "no", "No", id="dialog_no"),
    ],
    "typed_confirm": [Binding("escape", "no", "Cancel", id="dialog_cancel")],
    "message": [Binding("escape,enter,q", "close", "Close", id="dialog_close")],
    "pick": [Binding("escape", "cancel", "Cancel", id="pick_cancel"), *NAV],
}


def scope(name: str) -> list[Binding]:
    return list(SCOPES[name])


def _ids(bindings: Iterable) -> set[str]:
    return {b.id for b in bindings if isinstance(b, Binding) and b.id}


def known_ids(scan_screens: bool = False) -> set[str]:
    """Ids defined here, plus (``scan_screens``) those of every class in haihai_tui.tui.screens, dialogs and widgets."""
    ids = _ids(APP)
    for bs in SCOPES.values():
        ids |= _ids(bs)
    if scan_screens:
        for pkg_name in ("haihai_tui.tui.screens", "haihai_tui.tui.dialogs", "haihai_tui.tui.widgets"):
            try:
                pkg = importlib.import_module(pkg_name)
            except Exception:
                continue
            for info in pkgutil.iter_modules(pkg.__path__):
                try:
                    mod = importlib.import_module(f"{pkg_name}.{info.name}")
                except Exception:
                    continue
                for obj in vars(mod).values():
                    if isinstance(obj, type):
                        ids |= _ids(getattr(obj, "BINDINGS", []) or [])
    return ids


def unknown_ids(keys: dict[str, str], scan_screens: bool = True) -> list[str]:
    """One sentence per tui.toml [keys] entry whose id no binding has."""
    known = known_ids(scan_screens)
    out = []
    for binding_id in keys:
        if binding_id not in known:
            close = difflib.get_close_matches(binding_id, sorted(known), n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            out.append(f"tui.toml: [keys] {binding_id!r} is not a binding id{hint}; press F1 to see the ids")
    return out


def apply_keymap(app, keys: dict[str, str]) -> None:
    """Remap bindings by id (tui.toml [keys]: ``id = "key1,key2"``) through Textual's keymap."""
    cleaned = {k: ",".join(part.strip() for part in v.split(",") if part.strip()) for k, v in keys.items()}
    app.set_keymap({k: v for k, v in cleaned.items() if v})


_NAMES = {"question_mark": "?", "colon": ":", "slash": "/", "escape": "Esc", "enter": "Enter", "space": "Space",
          "tab": "Tab", "shift+tab": "S-Tab", "pageup": "PgUp", "pagedown": "PgDn", "home": "Home", "end": "End",
          "up": "Up", "down": "Down", "left": "Left", "right": "Right", "delete": "Del", "backspace": "BkSp",
          "left_square_bracket": "[", "right_square_bracket": "]", "plus": "+", "minus": "-",
          "full_stop": ".", "comma": ","}


def key_label(key: str) -> str:
    """ASCII display for one key: ctrl+q -> ^q, f1 -> F1, question_mark -> ?."""
    key = key.strip()
    if key in _NAMES:
        return _NAMES[key]
    mods, _, base = key.rpartition("+")
    base = _NAMES.get(base, base.upper() if len(base) > 1 and base[0] == "f" and base[1:].isdigit() else base)
    if not mods:
        return base
    parts = mods.split("+")
    prefix = "^" if "ctrl" in parts else ""
    rest = [{"shift": "S-", "alt": "M-", "meta": "M-"}.get(p, p.capitalize() + "-") for p in parts if p != "ctrl"]
    return prefix + "".join(rest) + base
