"""管理者設定 > 権限設定 > 全体権限一覧: users x the 15 global permissions.

The grid shows users as rows and the permissions as numbered columns (x = held). Move to a cell,
Space ticks it (pending changes show as + and -), F2 確定 writes admin.toml through
editing.set_permissions. The pane below names every permission of the highlighted user.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.coordinate import Coordinate
from textual.widgets import DataTable, Static

from haihai_tui.core.settings import editing
from haihai_tui.core.settings import permissions as perm
from haihai_tui.core.settings.permissions import PERMISSION_NAMES, PERMISSIONS, PermissionDenied
from haihai_tui.core.text import one_line, safe
from haihai_tui.tui.bindings import scope
from haihai_tui.tui.screens.users import UserActions

MARK = {(True, True): "x", (False, False): ".", (False, True): "+", (True, False): "-"}  # (held, wanted)


class PermissionsScreen(UserActions):
    TITLE_TEXT = "全体権限一覧 Permissions"
    HELP_TEXT = (
        "管理者設定 > 権限設定 > 全体権限一覧. Rows are users, columns 1-15 the permissions "
        "(x held, + to grant, - to revoke). Space ticks the cell, F2 確定 saves to admin.toml. "
        "Configuring integrations and menus needs 「DB設定」 and 「システム連携」; running needs neither. "
        "Granting needs 「権限付与」 and only what you hold yourself."
    )
    BINDINGS = scope("permissions")
    AUTO_FOCUS = "#grid"

    def __init__(self) -> None:
        super().__init__()
        self.pending: dict[str, set[str]] = {}  # login -> wanted permissions (only users that change)
        self.status_text = ""

    def body(self) -> ComposeResult:
        yield Static("", id="perm-banner", classes="banner", markup=False)
        yield DataTable(id="grid", cursor_type="cell", zebra_stripes=True)
        yield Static("", id="perm-detail", markup=False)
        yield Static("", id="perm-status", classes="status", markup=False)

    def on_mount(self) -> None:
        t = self.query_one("#grid", DataTable)
        t.add_column("login", width=10, key="login")
        for i, _ in enumerate(PERMISSIONS, 1):
            t.add_column(str(i), width=2, key=str(i))

    # --- data -------------------------------------------------------------------------------------------
    def users(self) -> list[perm.User]:
        return self.happ.ctx.settings.users

    def held(self, login: str) -> set[str]:
        u = perm.find_user(self.users(), login)
        return set(u.permissions) if u else set()

    def wanted(self, login: str) -> set[str]:
        return self.pending.get(login, self.held(login))

    def is_dirty(self) -> bool:
        return bool(self.pending)

    def settings_changed(self) -> None:
        t = self.query_one("#grid", DataTable)
        coord = t.cursor_coordinate
        t.clear()
        logins = {u.login for u in self.users()}
        self.pending = {k: v for k, v in self.pending.items() if k in logins}
        for u in self.users():
            t.add_row(*[Text(c) for c in self.row_cells(u.login)], key=u.login)
        if t.row_count:
            t.cursor_coordinate = Coordinate(min(coord.row, t.row_count - 1), max(coord.column, 1))
        ctx = self.happ.ctx
        banner = (
            ""
            if perm.may_grant(ctx.user)
            else f"Read-only: changing permissions needs 「{perm.GRANT}」, which '{one_line(ctx.login)}' does not hold."
        )
        self.query_one("#perm-banner", Static).update(banner)
        self.query_one("#perm-banner").display = bool(banner)
        self.update_detail()

    def row_cells(self, login: str) -> list[str]:
        held, want = self.held(login), self.wanted(login)
        return [one_line(login)] + [MARK[(p in held, p in want)] for p in PERMISSION_NAMES]

    def selected_login(self) -> str | None:
        t = self.query_one("#grid", DataTable)
        if not t.row_count:
            return None
        return str(t.coordinate_to_cell_key(t.cursor_coordinate).row_key.value)

    def selected_permission(self) -> str | None:
        col = self.query_one("#grid", DataTable).cursor_coordinate.column
        return PERMISSION_NAMES[col - 1] if col >= 1 else None

    # --- detail pane --------------------------------------------------------------------------------------
    def on_data_table_cell_highlighted(self, event: DataTable.CellHighlighted) -> None:
        self.update_detail()

    def update_detail(self) -> None:
        login = self.selected_login()
        detail = self.query_one("#perm-detail", Static)
        if login is None:
            detail.update(Text("No users yet. Press a to add one (needs 「ユーザ設定」)."))
            self.update_status()
            return
        u = perm.find_user(self.users(), login)
        held, want = self.held(login), self.wanted(login)
        current = self.selected_permission()
        text = Text()
        text.append(one_line(f"{login}  {u.name if u else ''}  {u.email if u else ''}") + "\n", style="bold")
        half = (len(PERMISSIONS) + 1) // 2
        for r in range(half):
            for c in (r, r + half):
                if c >= len(PERMISSIONS):
                    continue
                name, _gloss = PERMISSIONS[c]
                cell = f"[{MARK[(name in held, name in want)]}] {c + 1:>2} {name}"
                cell += " " * max(1, 34 - cell_len(cell))
                text.append(cell, style="reverse" if name == current else "")
            text.append("\n")
        if current:
            i = PERMISSION_NAMES.index(current)
            text.append(f"column {i + 1}: {current} ({PERMISSIONS[i][1]})")
        else:
            text.append("move right to a permission column; Space ticks it")
        detail.update(text)
        self.update_status()

    def update_status(self, message: str | None = None) -> None:
        if message is not None:
            self.status_text = message
        changes = []
        for login, want in self.pending.items():
            held = self.held(login)
            diff = [f"+{p}" for p in PERMISSION_NAMES if p in want - held] + [
                f"-{p}" for p in PERMISSION_NAMES if p in held - want
            ]
            changes.append(f"{one_line(login)}: {' '.join(diff)}")
        line = f"Not saved (F2 確定): {'; '.join(changes)}" if changes else self.status_text
        self.query_one("#perm-status", Static).update(safe(line, multiline=True))

    # --- actions ---------------------------------------------------------------------------------------
    def action_cursor_left(self) -> None:
        self.query_one("#grid", DataTable).action_cursor_left()

    def action_cursor_right(self) -> None:
        self.query_one("#grid", DataTable).action_cursor_right()

    def action_toggle(self) -> None:
        login, name = self.selected_login(), self.selected_permission()
        if login is None:
            return
        if name is None:
            self.refuse("Move right onto a permission column (1-15) first, then press Space.")
            return
        ctx = self.happ.ctx
        want = set(self.wanted(login)) ^ {name}
        try:
            perm.check_permission_change(self.users(), ctx.user, login, list(want))
        except PermissionDenied as e:
            self.refuse(str(e))
            self.update_status(str(e))
            return
        if want == self.held(login):
            self.pending.pop(login, None)
        else:
            self.pending[login] = want
        t = self.query_one("#grid", DataTable)
        for col, mark in enumerate(self.row_cells(login)[1:], 1):
            t.update_cell(login, str(col), mark)
        self.update_detail()

    def action_confirm(self) -> None:
        if not self.pending:
            self.update_status("Nothing to save: tick permissions with Space first.")
            return
        ctx = self.happ.ctx
        saved = []
        for login, want in list(self.pending.items()):
            ok, msg = self.attempt(
                editing.set_permissions, ctx.paths, ctx.login, login, sorted(want), sorted(self.held(login))
            )
            if not ok:
                self.status_text = msg
                break
            saved.append(login)
            del self.pending[login]
        self.happ.reload_settings()
        if saved:
            msg = f"確定: saved permissions of {one_line(', '.join(saved))} to admin.toml."
            self.notify(msg, markup=False)
            self.update_status(msg)
