"""Every key binding of the app, each with an id that tui.toml ``[keys]`` can remap.

Every screen, dialog and widget takes its ``BINDINGS`` from here (``scope(name)``), so this one file
lists every default key and every id; the help screen (F1) shows the ids of the screen it was opened
from. Defaults avoid ctrl+b/a/s/z/h/j/m/i (tmux prefixes, keys old terminals confuse with others).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

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
    # 管理者設定 > システム設定 / メール設定 (F-keys and ctrl: the fields take every printable key)
    "system_settings": [
        BACK,
        Binding("f2", "save", "確定 Save", id="system_save"),
        Binding("f3", "test_mail", "Test mail", id="system_test_mail"),
        Binding("ctrl+t", "reveal", "Reveal", id="reveal"),
    ],
    "menus": [
        BACK,
        Binding("f2", "save", "確定 Save", id="menu_confirm"),
        Binding("a", "add", "追加 Add", id="menu_add"),
        Binding("d", "remove", "Remove", id="menu_remove"),
        Binding("K,shift+up", "move(-1)", "Move up", id="move_up", show=False),
        Binding("J,shift+down", "move(1)", "Move down", id="move_down", show=False),
        Binding("n", "new_menu", "New menu", id="menu_new"),
        Binding("e", "rename_menu", "Rename menu", id="menu_rename", show=False),
        Binding("c", "copy_menu", "Copy menu", id="menu_copy", show=False),
        Binding("x,delete", "delete_menu", "Delete menu", id="menu_delete", show=False),
        *NAV,
    ],
    # DB設定 > データベース and > フィールド設定
    "databases": [
        BACK,
        Binding("enter", "fields", "Fields", id="db_fields"),
        Binding("n", "new_database", "New DB", id="db_new"),
        Binding("e", "rename_database", "Rename", id="db_rename"),
        Binding("r", "toggle_read_only", "Read-only on/off", id="db_read_only"),
        *NAV,
    ],
    "fields": [
        BACK,
        Binding("a", "add_field", "Add", id="field_add"),
        Binding("e,enter", "edit_field", "Edit", id="field_edit"),
        Binding("d", "remove_field", "Remove", id="field_remove"),
        Binding("K,shift+up", "move_field(-1)", "Move up", id="field_up", show=False),
        Binding("J,shift+down", "move_field(1)", "Move down", id="field_down", show=False),
        Binding("D", "drop_kept", "Drop kept data", id="field_drop_kept", show=False),
        Binding("f5", "reload", "Reload", id="fields_reload", show=False),
        *NAV,
    ],
    "form": [
        Binding("escape", "cancel", "Cancel", id="form_cancel"),
        Binding("f2", "save", "確定 Save", id="form_save"),
    ],
    "confirm": [
        Binding("y", "yes", "Yes", id="dialog_yes"),
        Binding("n,escape", "no", "No", id="dialog_no"),
    ],
    "typed_confirm": [Binding("escape", "no", "Cancel", id="dialog_cancel")],
    "message": [Binding("escape,enter,q", "close", "Close", id="dialog_close")],
    "pick": [Binding("escape", "cancel", "Cancel", id="pick_cancel"), *NAV],
    # --- screens and dialogs of a run, and the history ---
    "record_list": [
        BACK,
        Binding("r", "run", "Run", id="run"),
        Binding("slash", "search", "Search", id="search"),
        Binding("c", "conditions", "Conditions", id="conditions"),
        Binding("s", "sort", "Sort", id="sort"),
        Binding("i", "import_csv", "Import", id="csv_import"),
        Binding("x", "export_csv", "Export", id="csv_export"),
        Binding("enter", "open_record", "Open", id="record_open"),
        Binding("a", "add_record", "Add", id="record_add"),
        Binding("d,delete", "delete_record", "Delete", id="record_delete", show=False),
        Binding("v", "toggle_results", "HaiHai results", id="results_column"),
        Binding("f", "result_filter", "Result filter", id="results_filter", show=False),
    ],
    # the record editor (Enter on a row of the list, a to add): Tab / shift+Tab move between fields
    "record_editor": [
        BACK,
        Binding("f2", "save", "確定 Save", id="record_save", priority=True),
        Binding("f5", "reload", "Reload", id="record_reload", priority=True),
        Binding("f8", "delete", "Delete", id="record_editor_delete", priority=True),
    ],
    "conditions": [
        Binding("escape", "close", "Close", id="conditions_close"),
        Binding("d,delete", "remove", "Remove", id="conditions_remove"),
    ],
    "preflight": [Binding("escape", "cancel", "Cancel", id="preflight_cancel")],
    "findings": [
        Binding("escape", "close", "Close", id="findings_close"),
        Binding("c", "go_on", "Run anyway", id="findings_run_anyway"),
        Binding("e", "edit", "Edit record", id="findings_edit"),
    ],
    "confirm_run": [
        Binding("escape", "cancel", "Cancel", id="confirm_cancel"),
        Binding("f2", "run", "実行 Run", id="confirm_run"),
        Binding("f3", "dry_run", "Dry run", id="confirm_dry_run"),
        Binding("f4", "split", "Split", id="confirm_split"),
    ],
    # a mirror run's removals: typed "remove N" (tui/dialogs/removal_confirm.py)
    "removal_confirm": [
        Binding("escape", "cancel", "Cancel", id="removal_cancel"),
        Binding("f2", "confirm", "Confirm removal", id="removal_confirm"),
    ],
    "preview": [
        Binding("escape,q", "close", "Close", id="preview_close"),
        Binding("y", "copy", "Copy", id="preview_copy"),
    ],
    "progress": [
        BACK,
        Binding("c", "cancel_run", "Cancel run", id="run_cancel"),
        Binding("h", "history", "History", id="run_history"),
    ],
    "history": [
        BACK,
        Binding("enter", "open", "Details", id="history_open"),
        Binding("f5", "reload", "Reload", id="history_reload"),
    ],
    "run_detail": [
        BACK,
        Binding("y", "copy", "Copy result", id="history_copy_result"),
        Binding("r", "retry_failed", "Retry 失敗 rows", id="history_retry_failed"),
        Binding("tab", "app.focus_next", "Next pane", id="history_next_pane", show=False),
    ],
    "user_form": [
        Binding("escape", "cancel", "Cancel", id="dialog_cancel"),
        Binding("f2", "save", "確定 Save", id="user_form_save"),
    ],
    # CSV一括登録 (import) and CSV出力 (export) from the record list; Tab completes the path
    "csv_import": [
        Binding("escape", "cancel", "Cancel / Close", id="csv_import_cancel"),
        Binding("f2", "start", "Import", id="csv_import_start"),
    ],
    "csv_export": [
        Binding("escape", "cancel", "Cancel / Close", id="csv_export_cancel"),
        Binding("f2", "start", "Export", id="csv_export_start"),
    ],
    "path_input": [Binding("tab", "complete", "Complete path", id="path_complete", show=False)],
    # --- widgets ---
    "record_table": [
        Binding("up,k", "cursor_up", "Up", show=False, id="table.up"),
        Binding("down,j", "cursor_down", "Down", show=False, id="table.down"),
        Binding("pageup", "page_up", "PgUp", show=False, id="table.page_up"),
        Binding("pagedown,space", "page_down", "PgDn", show=False, id="table.page_down"),
        Binding("home,g", "first", "First", show=False, id="table.first"),
        Binding("end,G", "last", "Last", show=False, id="table.last"),
        Binding("left,h", "column(-1)", "Column left", show=False, id="table.left"),
        Binding("right,l", "column(1)", "Column right", show=False, id="table.right"),
    ],
    "choice": [
        Binding("left", "step(-1)", "Previous value", id="choice_prev", show=False),
        Binding("right,space", "step(1)", "Next value", id="choice_next", show=False),
    ],
    # the start screen's menu: an OptionList that leaves Enter to the screen's "open" binding
    "menu_list": [
        Binding("up", "cursor_up", "Up", id="list_up", show=False),
        Binding("down", "cursor_down", "Down", id="list_down", show=False),
        Binding("home", "first", "First", id="list_first", show=False),
        Binding("end", "last", "Last", id="list_last", show=False),
        Binding("pageup", "page_up", "PgUp", id="list_page_up", show=False),
        Binding("pagedown", "page_down", "PgDn", id="list_page_down", show=False),
    ],
}
#: what every AppScreen has unless its scope says otherwise
SCREEN = [BACK, *NAV]


def scope(name: str) -> list[Binding]:
    return list(SCOPES[name])


def _ids(bindings: Iterable) -> set[str]:
    return {b.id for b in bindings if isinstance(b, Binding) and b.id}


def known_ids() -> set[str]:
    """Every binding id of the app (all of them are defined in this module)."""
    ids = _ids(APP)
    for bs in SCOPES.values():
        ids |= _ids(bs)
    return ids


def default_keys(binding_id: str) -> str:
    """The default key(s) of a binding id ("f6"), or "" when no binding has it."""
    for b in [*APP, *(b for bs in SCOPES.values() for b in bs)]:
        if b.id == binding_id:
            return b.key
    return ""


def key_hint(binding_id: str, keymap: dict[str, str] | None = None) -> str:
    """The key(s) of ``binding_id`` for a person to read ("F6", "F5/^r"), after ``keymap`` (tui.toml [keys])."""
    keys = (keymap or {}).get(binding_id) or default_keys(binding_id)
    return "/".join(key_label(k) for k in keys.split(",") if k.strip())


def unknown_ids(keys: dict[str, str]) -> list[str]:
    """One sentence per tui.toml [keys] entry whose id no binding has."""
    known = known_ids()
    out = []
    for binding_id in keys:
        if binding_id not in known:
            close = difflib.get_close_matches(binding_id, sorted(known), n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            out.append(f"tui.toml: [keys] {binding_id!r} is not a binding id{hint}; press F1 to see the ids")
    return out


def clean_keymap(keys: dict[str, str]) -> dict[str, str]:
    """tui.toml [keys] (``id = "key1, key2"``) as Textual's keymap: spaces and empty entries dropped."""
    cleaned = {k: ",".join(part.strip() for part in str(v).split(",") if part.strip()) for k, v in keys.items()}
    return {k: v for k, v in cleaned.items() if v}


_NAMES = {
    "question_mark": "?",
    "colon": ":",
    "slash": "/",
    "escape": "Esc",
    "enter": "Enter",
    "space": "Space",
    "tab": "Tab",
    "shift+tab": "S-Tab",
    "pageup": "PgUp",
    "pagedown": "PgDn",
    "home": "Home",
    "end": "End",
    "up": "Up",
    "down": "Down",
    "left": "Left",
    "right": "Right",
    "delete": "Del",
    "backspace": "BkSp",
    "left_square_bracket": "[",
    "right_square_bracket": "]",
    "plus": "+",
    "minus": "-",
    "full_stop": ".",
    "comma": ",",
}


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
