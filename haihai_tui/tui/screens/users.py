"""管理者設定 > ユーザ: the users list, and the add/edit form used here and on 全体権限一覧."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Static

from haihai_tui.core.settings import editing
from haihai_tui.core.settings import permissions as perm
from haihai_tui.core.settings.permissions import User
from haihai_tui.core.text import one_line, safe
from haihai_tui.tui.bindings import scope
from haihai_tui.tui.host import host
from haihai_tui.tui.screens.base import AppScreen, run_edit
from haihai_tui.tui.widgets.safe_input import SafeInput


class UserFormScreen(ModalScreen[bool]):
    """Add or edit one user (login, name, e-mail); saves through editing.save_user. Dismisses True when saved."""

    DEFAULT_CSS = """
    UserFormScreen { align: center middle; }
    UserFormScreen > Vertical { width: 64; max-width: 100%; height: auto; border: round $accent;
                                background: $surface; padding: 0 1; }
    UserFormScreen Input { margin-bottom: 1; }
    UserFormScreen #uf-error { color: $error; height: auto; }
    """
    BINDINGS = scope("user_form")

    def __init__(self, user: User | None) -> None:
        super().__init__()
        self.user = user

    def compose(self) -> ComposeResult:
        u = self.user
        with Vertical():
            yield Static("Edit user / ユーザ編集" if u else "Add user / ユーザ追加", classes="dlg-title", markup=False)
            yield Static("login (the OS account name used over SSH)", markup=False)
            yield SafeInput(u.login if u else "", id="uf-login", compact=True)
            yield Static("name / 氏名", markup=False)
            yield SafeInput(u.name if u else "", id="uf-name", compact=True)
            yield Static("e-mail / メールアドレス", markup=False)
            yield SafeInput(u.email if u else "", id="uf-email", compact=True)
            yield Static("", id="uf-error", markup=False)
            yield Static("Enter on the last field or F2 = save    Esc = cancel", classes="hint", markup=False)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "uf-email":
            self.action_save()
        else:
            self.focus_next()

    def action_save(self) -> None:
        app = host(self)
        ctx = app.ctx
        new = User(
            login=self.query_one("#uf-login", Input).value.strip(),
            name=self.query_one("#uf-name", Input).value.strip(),
            email=self.query_one("#uf-email", Input).value.strip(),
            permissions=list(self.user.permissions) if self.user else [],
        )
        if self.user is None or new.login != self.user.login:
            app.reload_settings()
            if perm.find_user(ctx.settings.users, new.login):
                self.query_one("#uf-error", Static).update(
                    f"a user {one_line(new.login)!r} already exists; choose another login"
                )
                return
        ok, msg = run_edit(editing.save_user, ctx.paths, ctx.login, new, self.user.login if self.user else None)
        if not ok:
            self.query_one("#uf-error", Static).update(safe(msg, multiline=True))
            return
        app.reload_settings()
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)


class UserActions(AppScreen):
    """Add / edit / remove users, shared by UsersScreen and PermissionsScreen."""

    def selected_login(self) -> str | None:  # overridden
        return None

    def _may_edit_users(self) -> bool:
        ctx = self.happ.ctx
        if perm.may_edit_users(ctx.user):
            return True
        if not ctx.settings.users:
            self.offer_bootstrap()
            return False
        self.refuse(
            f"adding, editing or removing users needs 「{perm.USER_SETTINGS}」, "
            f"which '{one_line(ctx.login)}' does not hold"
        )
        return False

    def offer_bootstrap(self) -> None:
        """No users yet: offer to make the person at the terminal the first administrator."""
        from haihai_tui.tui.dialogs.common import ConfirmScreen

        ctx = self.happ.ctx
        login = one_line(ctx.login)

        def done(yes: bool | None) -> None:
            if not yes:
                return
            ok, _ = self.attempt(editing.bootstrap_first_admin, ctx.paths, ctx.login)
            if ok:
                self.happ.reload_settings()
                self.notify(f"'{login}' is now the first user, with all 15 permissions (admin.toml).", markup=False)

        self.app.push_screen(
            ConfirmScreen(
                f"admin.toml has no users yet, so nobody can grant anything. Make '{login}' (you) the first "
                f"user with all 15 permissions, including 「権限付与」 and 「ユーザ設定」?",
                title="First administrator / 初期管理者",
                yes="make me the first user",
                no="not now",
            ),
            done,
        )

    def action_add_user(self) -> None:
        if self._may_edit_users():
            self.app.push_screen(UserFormScreen(None))

    def action_edit_user(self) -> None:
        login = self.selected_login()
        user = perm.find_user(self.happ.ctx.settings.users, login or "")
        if user and self._may_edit_users():
            self.app.push_screen(UserFormScreen(user))

    def action_remove_user(self) -> None:
        login = self.selected_login()
        if not login or not self._may_edit_users():
            return
        from haihai_tui.tui.dialogs.common import ConfirmScreen

        ctx = self.happ.ctx
        shown = one_line(login)

        def done(yes: bool | None) -> None:
            if yes:
                ok, _ = self.attempt(editing.remove_user, ctx.paths, ctx.login, login)
                if ok:
                    self.happ.reload_settings()
                    self.notify(f"Removed user {shown!r} from admin.toml.", markup=False)

        self.app.push_screen(ConfirmScreen(f"Remove user {shown!r} from admin.toml?", yes="remove", no="keep"), done)


class UsersScreen(UserActions):
    TITLE_TEXT = "ユーザ Users"
    HELP_TEXT = (
        "管理者設定 > ユーザ. Adding, editing and removing users needs 「ユーザ設定」. "
        "Permissions are ticked on 全体権限一覧."
    )
    BINDINGS = scope("users")
    AUTO_FOCUS = "#users"

    def body(self) -> ComposeResult:
        yield Static("", id="users-banner", classes="banner", markup=False)
        yield DataTable(id="users", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        t = self.query_one("#users", DataTable)
        t.add_column("login", width=12, key="login")
        t.add_column("name / 氏名", width=18)
        t.add_column("e-mail", width=26)
        t.add_column("全体権限", width=8)

    def settings_changed(self) -> None:
        ctx = self.happ.ctx
        t = self.query_one("#users", DataTable)
        row = t.cursor_row
        t.clear()
        for u in ctx.settings.users:
            t.add_row(
                Text(one_line(u.login)),
                Text(one_line(u.name)),
                Text(one_line(u.email)),
                Text(f"{len(u.permissions)}/15"),
                key=u.login,
            )
        if ctx.settings.users:
            t.move_cursor(row=min(row, len(ctx.settings.users) - 1))
        login = one_line(ctx.login)
        banner = (
            ""
            if perm.may_edit_users(ctx.user)
            else f"No users yet: press a (add user) to make '{login}' the first administrator."
            if not ctx.settings.users
            else f"Read-only: editing users needs 「{perm.USER_SETTINGS}」, which '{login}' does not hold."
        )
        self.query_one("#users-banner", Static).update(banner)
        self.query_one("#users-banner").display = bool(banner)

    def selected_login(self) -> str | None:
        t = self.query_one("#users", DataTable)
        if not t.row_count:
            return None
        return str(t.coordinate_to_cell_key(t.cursor_coordinate).row_key.value)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_edit_user()
