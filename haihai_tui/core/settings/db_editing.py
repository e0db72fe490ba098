"""DB設定 edits of db.toml: databases (create, rename), their fields (add, change, reorder, remove) and the
lifecycle of record-list menus (create, rename, copy, delete).

Like ``editing.py``: every function re-reads the file under the store's lock, checks the actor's permissions
against admin.toml *now*, checks what the screen showed against what is on disk (``expected``) so a change
made meanwhile by someone else is refused instead of undone, changes only what differs and saves atomically.
Databases and fields need 「DB設定」; menus need what メニュー設定 needs (「DB設定」 and 「システム連携」).

The SQLite side of a field change (a new column; a removed field's data kept until dropped) lives in
``core/records/schema.py``: the settings layer never touches record files.
"""

from __future__ import annotations

from typing import Any

import tomlkit

from haihai_tui.core.paths import Paths
from haihai_tui.core.settings import permissions as perm
from haihai_tui.core.settings import store
from haihai_tui.core.settings.editing import EditRefused, _actor, _aot, _find, _require_configure
from haihai_tui.core.settings.model import CONTROL_CHARS, DATABASE_ID, FIELD_TYPES, FieldDef, Menu, Settings
from haihai_tui.core.settings.permissions import User

__all__ = [
    "add_field",
    "change_field",
    "copy_menu",
    "create_database",
    "create_menu",
    "db_settings_refusal",
    "delete_menu",
    "field_problem",
    "menus_showing",
    "move_field",
    "only_carrier_of",
    "remove_field",
    "rename_database",
    "rename_menu",
    "set_read_only",
]

ID_RULE = "letters A-Z a-z, digits, '_' and '-' (1 to 64 of them)"


# --- permission -----------------------------------------------------------------------------------------


def db_settings_refusal(user: User | None, login: str) -> str | None:
    """None when ``user`` holds 「DB設定」; otherwise the sentence a read-only screen shows."""
    if user is None:
        return (
            f"Read-only: '{login}' has no user entry in admin.toml. "
            f"Ask a holder of 「{perm.GRANT}」 to add you with 「{perm.DB_SETTINGS}」."
        )
    if not user.has(perm.DB_SETTINGS):
        return (
            f"Read-only: '{login}' lacks 「{perm.DB_SETTINGS}」 (全体権限). "
            f"Ask a holder of 「{perm.GRANT}」 to grant it in 全体権限一覧."
        )
    return None


def _require_db_settings(paths: Paths, login: str) -> None:
    refusal = db_settings_refusal(_actor(paths, login), login)
    if refusal:
        raise EditRefused(refusal)


# --- checks shared with the screens ---------------------------------------------------------------------


def _name_problem(what: str, text: str) -> str | None:
    if not text.strip():
        return f"{what} is empty; write one"
    if text != text.strip():
        return f"{what} has spaces around it; remove them"
    if CONTROL_CHARS.search(text):
        return f"{what} holds a control character (a line break, tab or similar); remove it"
    return None


def field_problem(f: FieldDef, others: list[FieldDef]) -> str | None:
    """Why ``f`` cannot be saved next to ``others`` (the database's other fields), or None."""
    if not DATABASE_ID.fullmatch(f.id):
        return f"field id {f.id!r} may hold only {ID_RULE}: it names the record file's column"
    why = _name_problem("the label (項目名)", f.label)
    if why:
        return why
    if any(o.id == f.id for o in others):
        return f"a field with id {f.id!r} already exists in this database; choose another id"
    if any(o.label == f.label for o in others):
        return f"a field labelled {f.label!r} already exists in this database; labels must be unique"
    if f.type not in FIELD_TYPES:
        return f"type {f.type!r} is unknown; types are {', '.join(FIELD_TYPES)}"
    if f.type == "select":
        if not f.options:
            return "a select field needs its options: write them separated by commas (e.g. 東京, 大阪)"
        for o in f.options:
            why = _name_problem(f"option {o!r}", o)
            if why:
                return why
        if len(set(f.options)) != len(f.options):
            return "an option appears twice; each option may appear once"
    elif f.options:
        return f"options are only for type select, not {f.type}; clear them or choose select"
    return None


def menus_showing(settings: Settings, db_id: str, field_id: str) -> list[str]:
    """The menus of database ``db_id`` that show ``field_id`` as a column."""
    return [m.name for m in settings.menus if m.database == db_id and field_id in m.columns]


def only_carrier_of(settings: Settings, menu_name: str) -> list[str]:
    """The integrations attached to ``menu_name`` and to no other menu (deleting it leaves them unrunnable)."""
    m = settings.menu(menu_name)
    if m is None:
        return []
    return [n for n in m.integrations if not any(o.name != m.name and n in o.integrations for o in settings.menus)]


# --- db.toml helpers ------------------------------------------------------------------------------------


def _database(doc: Any, db_id: str) -> Any:
    i = _find(doc.get("databases", []), "id", db_id)
    if i is None:
        raise EditRefused(f"database {db_id!r} is no longer in db.toml (removed by someone else?); reload (F5)")
    return doc["databases"][i]


def _fields(table: Any) -> list[FieldDef]:
    out = []
    for t in table.get("fields", []):
        opts = [str(o) for o in t.get("options", [])]
        out.append(FieldDef(str(t.get("id", "")), str(t.get("label", "")), str(t.get("type", "text")), opts))
    return out


def _field_table(f: FieldDef) -> Any:
    t = tomlkit.inline_table()
    t["id"] = f.id
    t["label"] = f.label
    t["type"] = f.type
    if f.options:
        t["options"] = list(f.options)
    return t


def _shape(fields: list[FieldDef]) -> list[tuple]:
    return [(f.id, f.label, f.type, list(f.options)) for f in fields]


def _check_expected(db_id: str, now: list[FieldDef], expected: list[FieldDef] | None) -> None:
    if expected is not None and _shape(now) != _shape(expected):
        raise EditRefused(
            f"someone else changed the fields of database {db_id!r} since this screen loaded them; "
            "reload (F5) and make your change again"
        )


# --- databases ------------------------------------------------------------------------------------------


def create_database(paths: Paths, actor_login: str, db_id: str, name: str) -> None:
    """A new database with no fields yet; ``db_id`` names its record file and never changes."""
    _require_db_settings(paths, actor_login)
    if not DATABASE_ID.fullmatch(db_id):
        raise EditRefused(f"database id {db_id!r} may hold only {ID_RULE}: it names the database's file")
    why = _name_problem("the name", name)
    if why:
        raise EditRefused(why)

    def mutate(doc: Any) -> None:
        aot = _aot(doc, "databases")
        if _find(aot, "id", db_id) is not None:
            raise EditRefused(f"a database with id {db_id!r} already exists; choose another id")
        t = tomlkit.table()
        t["id"] = db_id
        t["name"] = name
        t["fields"] = tomlkit.array().multiline(True)
        aot.append(t)

    store.update(paths.db, mutate)


def rename_database(paths: Paths, actor_login: str, db_id: str, name: str, expected: str | None = None) -> None:
    """Change the name (label) shown for ``db_id``; the id stays, it names the record file."""
    _require_db_settings(paths, actor_login)
    why = _name_problem("the name", name)
    if why:
        raise EditRefused(why)

    def mutate(doc: Any) -> None:
        t = _database(doc, db_id)
        now = str(t.get("name", db_id))
        if expected is not None and now != expected:
            raise EditRefused(f"someone else renamed database {db_id!r} to {now!r} meanwhile; reload (F5)")
        t["name"] = name

    store.update(paths.db, mutate)


def set_read_only(paths: Paths, actor_login: str, db_id: str, read_only: bool) -> None:
    """Mark ``db_id``'s records read-only (``read_only = true``: listed and sent, never edited) or editable."""
    _require_db_settings(paths, actor_login)

    def mutate(doc: Any) -> None:
        t = _database(doc, db_id)
        if read_only:
            t["read_only"] = True
        elif "read_only" in t:
            del t["read_only"]

    store.update(paths.db, mutate)


# --- fields ---------------------------------------------------------------------------------------------


def add_field(paths: Paths, actor_login: str, db_id: str, f: FieldDef, expected: list[FieldDef] | None = None) -> None:
    """Append field ``f`` to ``db_id`` (the record file gets its column through records/schema.py)."""
    _require_db_settings(paths, actor_login)

    def mutate(doc: Any) -> None:
        t = _database(doc, db_id)
        now = _fields(t)
        _check_expected(db_id, now, expected)
        why = field_problem(f, now)
        if why:
            raise EditRefused(f"not added: {why}")
        if "fields" not in t:
            t["fields"] = tomlkit.array().multiline(True)
        t["fields"].append(_field_table(f))

    store.update(paths.db, mutate)


def change_field(
    paths: Paths, actor_login: str, db_id: str, field_id: str, new: FieldDef, expected: list[FieldDef] | None = None
) -> None:
    """Change the label, type or options of ``field_id`` (its id stays: it names the column)."""
    _require_db_settings(paths, actor_login)
    if new.id != field_id:
        raise EditRefused("a field's id cannot change (it names the column in the record file); change the label")

    def mutate(doc: Any) -> None:
        t = _database(doc, db_id)
        now = _fields(t)
        _check_expected(db_id, now, expected)
        i = next((k for k, f in enumerate(now) if f.id == field_id), None)
        if i is None:
            raise EditRefused(f"database {db_id!r} has no field {field_id!r} any more; reload (F5)")
        why = field_problem(new, now[:i] + now[i + 1 :])
        if why:
            raise EditRefused(f"not changed: {why}")
        t = t["fields"][i]  # changed in place: keys this screen does not edit (a column name) stay
        t["label"] = new.label
        t["type"] = new.type
        if new.options:
            t["options"] = list(new.options)
        elif "options" in t:
            del t["options"]

    store.update(paths.db, mutate)


def move_field(
    paths: Paths, actor_login: str, db_id: str, field_id: str, delta: int, expected: list[FieldDef] | None = None
) -> None:
    """Move ``field_id`` ``delta`` places (−1 up, +1 down) in the database's field order."""
    _require_db_settings(paths, actor_login)

    def mutate(doc: Any) -> None:
        t = _database(doc, db_id)
        now = _fields(t)
        _check_expected(db_id, now, expected)
        i = next((k for k, f in enumerate(now) if f.id == field_id), None)
        if i is None:
            raise EditRefused(f"database {db_id!r} has no field {field_id!r} any more; reload (F5)")
        j = i + delta
        if not 0 <= j < len(now):
            raise EditRefused("the field is already at the end of the list")
        arr = t["fields"]
        item = arr[i]
        del arr[i]
        arr.insert(j, item)

    store.update(paths.db, mutate)


def remove_field(
    paths: Paths, actor_login: str, db_id: str, field_id: str, expected: list[FieldDef] | None = None
) -> None:
    """Take ``field_id`` out of ``db_id``; refused while a menu shows it. Its data stays in the record file."""
    _require_db_settings(paths, actor_login)

    def mutate(doc: Any) -> None:
        t = _database(doc, db_id)
        now = _fields(t)
        _check_expected(db_id, now, expected)
        i = next((k for k, f in enumerate(now) if f.id == field_id), None)
        if i is None:
            raise EditRefused(f"database {db_id!r} has no field {field_id!r} any more; reload (F5)")
        users = [
            str(m.get("name", ""))
            for m in doc.get("menus", [])
            if str(m.get("database", "")) == db_id and field_id in [str(c) for c in m.get("columns", [])]
        ]
        if users:
            raise EditRefused(
                f"field {now[i].label!r} is shown by the menu(s) {', '.join(users)}; take it out of their "
                "columns in メニュー設定 first, then remove the field"
            )
        del t["fields"][i]

    store.update(paths.db, mutate)


# --- menus (メニュー設定) --------------------------------------------------------------------------------


def _menu_name_problem(doc: Any, name: str) -> None:
    why = _name_problem("the menu name", name)
    if why:
        raise EditRefused(why)
    if _find(doc.get("menus", []), "name", name) is not None:
        raise EditRefused(f"a menu named {name!r} already exists; choose another name")


def create_menu(paths: Paths, actor_login: str, name: str, db_id: str) -> None:
    """A new record-list menu on ``db_id`` showing every field of it, with no integration attached."""
    _require_configure(paths, actor_login)

    def mutate(doc: Any) -> None:
        _menu_name_problem(doc, name)
        db = _database(doc, db_id)
        t = tomlkit.table()
        t["name"] = name
        t["type"] = "record_list"
        t["database"] = db_id
        t["columns"] = [f.id for f in _fields(db)]
        t["integrations"] = []
        _aot(doc, "menus").append(t)

    store.update(paths.db, mutate)


def rename_menu(paths: Paths, actor_login: str, old: str, new: str) -> None:
    _require_configure(paths, actor_login)

    def mutate(doc: Any) -> None:
        i = _find(doc.get("menus", []), "name", old)
        if i is None:
            raise EditRefused(f"menu {old!r} is no longer in db.toml (removed or renamed by someone else?)")
        if new != old:
            _menu_name_problem(doc, new)
        doc["menus"][i]["name"] = new

    store.update(paths.db, mutate)


def copy_menu(paths: Paths, actor_login: str, source: str, new: str) -> None:
    """A new menu ``new`` with the database, columns and attached integrations of ``source``."""
    _require_configure(paths, actor_login)

    def mutate(doc: Any) -> None:
        i = _find(doc.get("menus", []), "name", source)
        if i is None:
            raise EditRefused(f"menu {source!r} is no longer in db.toml (removed or renamed by someone else?)")
        _menu_name_problem(doc, new)
        src = doc["menus"][i]
        t = tomlkit.table()
        t["name"] = new
        t["type"] = str(src.get("type", "record_list"))
        t["database"] = str(src.get("database", ""))
        t["columns"] = [str(c) for c in src.get("columns", [])]
        t["integrations"] = [str(n) for n in src.get("integrations", [])]
        doc["menus"].append(t)

    store.update(paths.db, mutate)


def delete_menu(paths: Paths, actor_login: str, name: str, expected: Menu | None = None) -> None:
    """Remove the menu (its database, records and integrations stay). With ``expected`` (the menu as the screen
    showed it), refuse when someone else changed it meanwhile: the question asked was about what was shown."""
    _require_configure(paths, actor_login)

    def mutate(doc: Any) -> None:
        i = _find(doc.get("menus", []), "name", name)
        if i is None:
            raise EditRefused(f"menu {name!r} is no longer in db.toml (removed or renamed by someone else?)")
        t = doc["menus"][i]
        now = (
            str(t.get("database", "")),
            [str(c) for c in t.get("columns", [])],
            [str(n) for n in t.get("integrations", [])],
        )
        if expected is not None and now != (expected.database, expected.columns, expected.integrations):
            raise EditRefused(f"someone else changed menu {name!r} since this screen showed it; reload and ask again")
        del doc["menus"][i]

    store.update(paths.db, mutate)
