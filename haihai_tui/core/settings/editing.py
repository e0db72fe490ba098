"""Every change the screens make to the settings, checked and written through the store.

Each function re-reads the file under the store's lock, checks the actor's permissions against
what is on disk *now*, changes only the values that differ (so comments and untouched lines
survive), and saves atomically. Refusals raise :class:`EditRefused` with a sentence for the user.
"""

from __future__ import annotations

import os
from typing import Any

import tomlkit

from haihai_tui.core.paths import Paths
from haihai_tui.core.settings import permissions as perm
from haihai_tui.core.settings import store
from haihai_tui.core.settings.load import load_settings
from haihai_tui.core.settings.model import CONTROL_CHARS, SMTP_PORTS, SMTP_SECURITY, Integration, Menu, Smtp
from haihai_tui.core.settings.permissions import SYSTEM_SETTINGS, PermissionDenied, User
from haihai_tui.core.settings.validate import integration_problems, system_problems


class EditRefused(Exception):
    """A change was not written; ``str()`` says why and what to do."""

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = problems or []


def _users(doc: Any) -> list[User]:
    out = []
    for t in doc.get("users", []):
        out.append(
            User(
                str(t.get("login", "")),
                str(t.get("name", "")),
                str(t.get("email", "")),
                [str(p) for p in t.get("permissions", [])],
            )
        )
    return out


def _actor(paths: Paths, login: str) -> User | None:
    return perm.find_user(_users(store.load(paths.admin).doc), login)


def _require_configure(paths: Paths, login: str) -> None:
    refusal = perm.configure_refusal(_actor(paths, login), login)
    if refusal:
        raise EditRefused(refusal)


def _set(table: Any, key: str, value: Any, default: Any = None) -> None:
    """Set ``key`` only when it changes; drop it when it returns to an unwritten default."""
    if key in table:
        current = table[key].unwrap() if hasattr(table[key], "unwrap") else table[key]
        if current == value:
            return
    elif value == default:
        return
    table[key] = value


def _sync_mapping(table: Any, key: str, values: dict[str, str]) -> None:
    """Make sub-table ``key`` hold exactly ``values`` in that order, touching only what changed."""
    if key not in table:
        if values:
            sub = tomlkit.table()
            for k, v in values.items():
                sub[k] = v
            table[key] = sub
        return
    sub = table[key]
    for k in [k for k in sub.keys() if k not in values]:
        del sub[k]
    for k, v in values.items():
        _set(sub, k, v)


def _aot(doc: Any, key: str) -> Any:
    if key not in doc:
        doc.append(key, tomlkit.aot())
    return doc[key]


def _entry(aot: Any, i: int | None) -> Any:
    """The table at index ``i`` of an array of tables, or a new one appended at its end."""
    if i is None:
        aot.append(tomlkit.table())
        i = len(aot) - 1
    return aot[i]


def _find(aot: Any, key: str, value: str) -> int | None:
    for i, t in enumerate(aot):
        if str(t.get(key, "")) == value:
            return i
    return None


# --- users and permissions (admin.toml) -------------------------------------------------------------


def set_permissions(
    paths: Paths, actor_login: str, target_login: str, permissions: list[str], expected: list[str] | None = None
) -> None:
    """Set ``target_login``'s permissions. With ``expected`` (what the screen showed), refuse when someone
    else changed that user's permissions in the meantime, instead of silently undoing their change."""
    wanted = [p for p in perm.PERMISSION_NAMES if p in permissions]  # product order

    def mutate(doc: Any) -> None:
        users = _users(doc)
        try:
            perm.check_permission_change(users, perm.find_user(users, actor_login), target_login, wanted)
        except PermissionDenied as e:
            raise EditRefused(str(e)) from None
        i = _find(doc.get("users", []), "login", target_login)
        if i is None:
            raise EditRefused(f"no user {target_login!r} in admin.toml")
        if expected is not None:
            now = perm.find_user(users, target_login).permissions
            if sorted(now) != sorted(expected):
                raise EditRefused(
                    f"someone else changed {target_login!r}'s permissions since this screen loaded "
                    f"them (now: {', '.join(now) or 'none'}); reload (F5) and tick again"
                )
        _set(doc["users"][i], "permissions", wanted)

    store.update(paths.admin, mutate)


def bootstrap_first_admin(paths: Paths, login: str, name: str = "", email: str = "") -> None:
    """With no users at all in admin.toml, the person at the terminal becomes the first user, with all 15
    permissions (somebody must hold 「権限付与」 and 「ユーザ設定」 before anything can be granted). Only
    themselves, and only while the list is empty — checked under the file's lock."""

    def mutate(doc: Any) -> None:
        if _users(doc):
            raise EditRefused("admin.toml already has users; ask a holder of 「ユーザ設定」 to add you")
        u = tomlkit.table()
        u["login"] = login
        u["name"] = name
        u["email"] = email
        u["permissions"] = list(perm.PERMISSION_NAMES)
        _aot(doc, "users").append(u)

    store.update(paths.admin, mutate)


def save_user(paths: Paths, actor_login: str, user: User, original_login: str | None = None) -> None:
    if not user.login.strip():
        raise EditRefused("login is empty; write the account name the person uses over SSH")

    def mutate(doc: Any) -> None:
        users = _users(doc)
        actor = perm.find_user(users, actor_login)
        if not perm.may_edit_users(actor):
            raise EditRefused(f"adding or editing users needs 「{perm.USER_SETTINGS}」, which you do not hold")
        aot = _aot(doc, "users")
        if original_login is None and _find(aot, "login", user.login) is not None:
            raise EditRefused(f"a user {user.login!r} already exists; edit that entry instead")
        i = _find(aot, "login", original_login or user.login)
        other = _find(aot, "login", user.login)
        if other is not None and other != i:
            raise EditRefused(f"a user {user.login!r} already exists")
        old = users[i].permissions if i is not None else []
        if sorted(old) != sorted(user.permissions):
            try:
                perm.check_permission_change(users, actor, original_login or user.login, user.permissions)
            except PermissionDenied as e:
                raise EditRefused(str(e)) from None
        t = _entry(aot, i)
        _set(t, "login", user.login)
        _set(t, "name", user.name)
        _set(t, "email", user.email)
        _set(t, "permissions", [p for p in perm.PERMISSION_NAMES if p in user.permissions])

    store.update(paths.admin, mutate)


def remove_user(paths: Paths, actor_login: str, login: str) -> None:
    def mutate(doc: Any) -> None:
        users = _users(doc)
        try:
            perm.check_user_removal(users, perm.find_user(users, actor_login), login)
        except PermissionDenied as e:
            raise EditRefused(str(e)) from None
        i = _find(doc.get("users", []), "login", login)
        if i is None:
            raise EditRefused(f"no user {login!r} in admin.toml")
        del doc["users"][i]

    store.update(paths.admin, mutate)


# --- integrations and menus (db.toml) ---------------------------------------------------------------


def integration_errors(
    paths: Paths, integ: Integration, original_name: str | None, environ: dict[str, str] | None = None
) -> list[str]:
    """The errors that would block saving ``integ`` (warnings do not block)."""
    loaded = load_settings(paths, environ, validate_all=False)
    s = loaded.settings
    errors = [
        msg
        for _, sev, msg in integration_problems(integ, s, os.environ if environ is None else environ)
        if sev == "error"
    ]
    if integ.name != original_name and s.integration(integ.name) is not None:
        errors.insert(0, f"an integration named {integ.name!r} already exists")
    return errors


def save_integration(
    paths: Paths,
    actor_login: str,
    integ: Integration,
    original_name: str | None = None,
    environ: dict[str, str] | None = None,
) -> None:
    _require_configure(paths, actor_login)
    errors = integration_errors(paths, integ, original_name, environ)
    if errors:
        raise EditRefused(f"not saved: {errors[0]}", errors)

    def mutate(doc: Any) -> None:
        aot = _aot(doc, "integrations")
        i = _find(aot, "name", original_name or integ.name)
        if original_name and i is None:
            raise EditRefused(f"integration {original_name!r} is no longer in db.toml (removed by someone else?)")
        t = _entry(aot, i)
        _set(t, "name", integ.name)
        _set(t, "url", integ.url)
        _set(t, "body_format", integ.body_format)
        _set(t, "json_name", integ.json_name)
        _set(t, "csv_name", integ.csv_name)
        _set(t, "csv_header", integ.csv_header)
        _set(t, "csv_encoding", integ.csv_encoding)
        _set(t, "report_mail", integ.report_mail)
        _set(t, "report_to", integ.report_to)
        _set(t, "ca_bundle", integ.ca_bundle, default="")
        _set(t, "sync", integ.sync, default="full")
        _sync_mapping(t, "headers", integ.headers)
        _sync_mapping(t, "params", integ.params)
        if original_name and original_name != integ.name:
            for m in doc.get("menus", []):
                names = [str(n) for n in m.get("integrations", [])]
                if original_name in names:
                    m["integrations"] = [integ.name if n == original_name else n for n in names]

    store.update(paths.db, mutate)


def delete_integration(paths: Paths, actor_login: str, name: str) -> list[str]:
    """Remove the integration and detach it from every menu; returns the menus it was taken from."""
    _require_configure(paths, actor_login)
    detached: list[str] = []

    def mutate(doc: Any) -> None:
        i = _find(doc.get("integrations", []), "name", name)
        if i is None:
            raise EditRefused(f"no integration {name!r} in db.toml")
        del doc["integrations"][i]
        for m in doc.get("menus", []):
            names = [str(n) for n in m.get("integrations", [])]
            if name in names:
                m["integrations"] = [n for n in names if n != name]
                detached.append(str(m.get("name", "")))

    store.update(paths.db, mutate)
    return detached


def save_menu(paths: Paths, actor_login: str, menu: Menu, original_name: str | None = None) -> None:
    _require_configure(paths, actor_login)
    loaded = load_settings(paths, validate_all=False)
    s = loaded.settings
    db = s.database(menu.database)
    if db is None:
        raise EditRefused(f"no database {menu.database!r}")
    bad = [c for c in menu.columns if db.field(c) is None]
    if bad:
        raise EditRefused(f"database {db.id!r} has no column {bad[0]!r}")
    missing = [n for n in menu.integrations if s.integration(n) is None]
    if missing:
        raise EditRefused(f"no integration {missing[0]!r}")
    if len(set(menu.integrations)) != len(menu.integrations):
        raise EditRefused("an integration is attached twice; each may be attached once")

    def mutate(doc: Any) -> None:
        aot = _aot(doc, "menus")
        i = _find(aot, "name", original_name or menu.name)
        other = _find(aot, "name", menu.name)
        if other is not None and other != i:
            raise EditRefused(f"a menu named {menu.name!r} already exists")
        t = _entry(aot, i)
        _set(t, "name", menu.name)
        _set(t, "type", menu.type)
        _set(t, "database", menu.database)
        _set(t, "columns", list(menu.columns))
        _set(t, "integrations", list(menu.integrations))

    store.update(paths.db, mutate)


def set_token(paths: Paths, actor_login: str, name: str, value: str) -> None:
    """Store a token in secrets.toml (0600) under [tokens] ``name``; the header should read ${secret:name}."""
    _require_configure(paths, actor_login)
    if not value or value != value.strip():
        raise EditRefused("the token is empty or has spaces around it; paste it again")

    def mutate(doc: Any) -> None:
        if "tokens" not in doc:
            doc["tokens"] = tomlkit.table()
        doc["tokens"][name] = value

    store.update(paths.secrets, mutate, backup=False)
    os.chmod(paths.secrets, 0o600)


# --- システム設定 / メール設定 (admin.toml [system], secrets.toml [smtp]) ------------------------------------


def system_refusal(user: User | None, login: str) -> str | None:
    """None when ``user`` may change システム設定; otherwise why not and who can fix it."""
    if user is not None and user.has(SYSTEM_SETTINGS):
        return None
    who = f"'{login}' has no user entry in admin.toml" if user is None else f"'{login}' lacks 「{SYSTEM_SETTINGS}」"
    return f"Read-only: {who} (全体権限). Ask a holder of 「{perm.GRANT}」 to grant it in 全体権限一覧."


def _system_values(doc: Any) -> tuple[list[str], Smtp]:
    system = doc.get("system", {})
    raw = system.get("smtp", {})
    security = str(raw.get("security", ""))
    security = security if security in SMTP_SECURITY else ""  # as load reads it: an unknown word is not used
    port = raw.get("port", SMTP_PORTS[security] if security else 587)
    smtp = Smtp(
        host=str(raw.get("host", "")),
        port=port if isinstance(port, int) else 0,
        starttls=bool(raw.get("starttls", True)),
        from_addr=str(raw.get("from", "")),
        username=str(raw.get("username", "")),
        security=security,
    )
    return [str(a) for a in system.get("admin_emails", [])], smtp


def _same(a: tuple[list[str], Smtp], b: tuple[list[str], Smtp]) -> bool:
    (ea, sa), (eb, sb) = a, b
    key = lambda s: (s.host, s.port, s.mode, s.from_addr, s.username)  # noqa: E731
    return ea == eb and key(sa) == key(sb)


def save_system(
    paths: Paths,
    actor_login: str,
    admin_emails: list[str],
    smtp: Smtp,
    *,
    has_password: bool,
    expected: tuple[list[str], Smtp] | None = None,
) -> None:
    """Write admin.toml [system] admin_emails and [system.smtp] (``security`` replaces ``starttls``).
    With ``expected`` (what the screen loaded), refuse when someone else changed them in the meantime."""
    errors = [msg for _, sev, msg in system_problems(admin_emails, smtp, has_password) if sev == "error"]
    if errors:
        raise EditRefused(f"not saved: {errors[0]}", errors)

    def mutate(doc: Any) -> None:
        refusal = system_refusal(perm.find_user(_users(doc), actor_login), actor_login)
        if refusal:
            raise EditRefused(refusal)
        if expected is not None and not _same(_system_values(doc), expected):
            raise EditRefused(
                "someone else changed システム設定 in admin.toml since this screen loaded it; "
                "press Esc, open the screen again and redo your change"
            )
        if "system" not in doc:
            doc["system"] = tomlkit.table()
        system = doc["system"]
        _set(system, "admin_emails", list(admin_emails))
        if "smtp" not in system:
            system["smtp"] = tomlkit.table()
        t = system["smtp"]
        _set(t, "host", smtp.host)
        _set(t, "port", smtp.port)
        if "starttls" in t:
            del t["starttls"]
        _set(t, "security", smtp.mode)
        _set(t, "from", smtp.from_addr)
        _set(t, "username", smtp.username)

    store.update(paths.admin, mutate)


def set_smtp_password(paths: Paths, actor_login: str, value: str) -> None:
    """Store the SMTP password in secrets.toml (0600) under [smtp] password; "" removes it."""
    refusal = system_refusal(_actor(paths, actor_login), actor_login)
    if refusal:
        raise EditRefused(refusal)
    if value and (value != value.strip() or CONTROL_CHARS.search(value)):
        raise EditRefused("the SMTP password has spaces around it or a control character; type it again")

    def mutate(doc: Any) -> None:
        if not value:
            if "smtp" in doc and "password" in doc["smtp"]:
                del doc["smtp"]["password"]
            return
        if "smtp" not in doc:
            doc["smtp"] = tomlkit.table()
        doc["smtp"]["password"] = value

    store.update(paths.secrets, mutate, backup=False)
    os.chmod(paths.secrets, 0o600)
