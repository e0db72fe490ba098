"""Users and the 15 global permissions (全体権限) of 管理者設定 > 権限設定 > 全体権限一覧.

The current user is the login of the account running the process; there is no way to act as
someone else. The rules mirror the product's 全体権限一覧 screen (docs/architecture.md):

- configuring integrations and menus needs both 「DB設定」 and 「システム連携」;
- running an attached integration needs neither: anyone who can open the menu may run it;
- editing records (the ``records`` rule) likewise, unless db.toml marks the database read-only;
- editing users needs 「ユーザ設定」; changing permissions needs 「権限付与」;
- nobody grants a permission they do not hold themselves;
- the last holder of 「権限付与」 cannot lose it.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field

SYSTEM_SETTINGS = "システム設定"
USER_SETTINGS = "ユーザ設定"
GRANT = "権限付与"
DB_SETTINGS = "DB設定"
INTEGRATION = "システム連携"

#: The 15 global permissions, in the product's order, with English glosses for the screens.
PERMISSIONS: tuple[tuple[str, str], ...] = (
    (SYSTEM_SETTINGS, "system settings"),
    (USER_SETTINGS, "users"),
    (GRANT, "grant permissions"),
    ("権限テンプレート設定", "permission templates"),
    ("ログ閲覧", "view logs"),
    ("ログ出力", "export logs"),
    ("メールボックス設定", "mailboxes"),
    ("DBグループ設定", "DB groups"),
    (DB_SETTINGS, "DB settings"),
    ("トップフォルダ設定", "top folders"),
    ("システムフォルダ管理", "system folders"),
    ("インポート状況確認", "import status"),
    ("トップページ設定", "top page"),
    ("テンプレート出力・読込", "templates in/out"),
    (INTEGRATION, "system integration"),
)
PERMISSION_NAMES: tuple[str, ...] = tuple(p for p, _ in PERMISSIONS)
CONFIGURE_NEEDS: tuple[str, ...] = (DB_SETTINGS, INTEGRATION)


@dataclass
class User:
    login: str
    name: str = ""
    email: str = ""
    permissions: list[str] = field(default_factory=list)

    def has(self, permission: str) -> bool:
        return permission in self.permissions


class PermissionDenied(Exception):
    """Raised by the guards below; the message says what is missing and who can grant it."""


def current_login() -> str:
    """The OS account name running this process (the SSH login)."""
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry (containers): fall back to the uid
        return str(os.getuid())


def find_user(users: list[User], login: str) -> User | None:
    for u in users:
        if u.login == login:
            return u
    return None


def missing_to_configure(user: User | None) -> list[str]:
    if user is None:
        return list(CONFIGURE_NEEDS)
    return [p for p in CONFIGURE_NEEDS if not user.has(p)]


def may_configure(user: User | None) -> bool:
    return not missing_to_configure(user)


def may_grant(user: User | None) -> bool:
    return user is not None and user.has(GRANT)


def may_edit_users(user: User | None) -> bool:
    return user is not None and user.has(USER_SETTINGS)


def may_run(user: User | None) -> bool:
    """Anyone who can open a record-list menu may run what is attached to it."""
    return True


def records_refusal(user: User | None, database_name: str, read_only: bool) -> str | None:
    """The ``records`` rule: None when the records of a database may be edited, added and deleted.

    Anyone who may open the database's record-list menu may edit its records (as anyone may run what
    is attached to it), unless db.toml marks the database ``read_only = true``: then nobody may, and
    the sentence says how to change that.
    """
    if read_only:
        return (
            f"Read-only: the database '{database_name}' is marked read_only = true in db.toml, so its records "
            f"cannot be edited, added or deleted here. A holder of 「{DB_SETTINGS}」 can remove that line."
        )
    return None


def configure_refusal(user: User | None, login: str) -> str | None:
    """None when ``user`` may configure; otherwise a sentence that says why not and how to fix it."""
    missing = missing_to_configure(user)
    if not missing:
        return None
    if user is None:
        return (
            f"'{login}' has no user entry in admin.toml, so settings are read-only. "
            f"Ask a holder of 「{GRANT}」 to add you with 「{DB_SETTINGS}」 and 「{INTEGRATION}」."
        )
    need = "」 and 「".join(missing)
    return f"Read-only: '{login}' lacks 「{need}」 (全体権限). Ask a holder of 「{GRANT}」 to grant it in 全体権限一覧."


def check_permission_change(
    users: list[User], actor: User | None, target_login: str, new_permissions: list[str]
) -> None:
    """Raise PermissionDenied unless ``actor`` may set ``target_login``'s permissions to ``new_permissions``."""
    unknown = [p for p in new_permissions if p not in PERMISSION_NAMES]
    if unknown:
        raise PermissionDenied(f"unknown permission {unknown[0]!r}; the 15 are: {', '.join(PERMISSION_NAMES)}")
    if actor is None or not actor.has(GRANT):
        raise PermissionDenied(f"changing permissions needs 「{GRANT}」, which you do not hold")
    target = find_user(users, target_login)
    old = set(target.permissions) if target else set()
    added = [p for p in new_permissions if p not in old]
    lacking = [p for p in added if not actor.has(p)]
    if lacking:
        raise PermissionDenied(f"you cannot grant 「{'」, 「'.join(lacking)}」: you do not hold it yourself")
    if GRANT in old and GRANT not in new_permissions:
        holders = [u for u in users if u.has(GRANT)]
        if len(holders) <= 1:
            raise PermissionDenied(
                f"'{target_login}' is the last holder of 「{GRANT}」; grant it to someone else first"
            )


def check_user_removal(users: list[User], actor: User | None, target_login: str) -> None:
    if not may_edit_users(actor):
        raise PermissionDenied(f"removing users needs 「{USER_SETTINGS}」, which you do not hold")
    target = find_user(users, target_login)
    if target and target.has(GRANT) and sum(u.has(GRANT) for u in users) <= 1:
        raise PermissionDenied(f"'{target_login}' is the last holder of 「{GRANT}」; grant it to someone else first")
