"""Load one settings folder into the model, collecting every problem as ``file:line: message``.

Loading never raises for what is inside the files: a syntax error, a wrong type or an unknown key
becomes a Problem, and whatever could be read is still returned so the app can show what works.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from haihai_tui.core.paths import Paths
from haihai_tui.core.problems import Problem, SettingsFileError
from haihai_tui.core.secret import Secret
from haihai_tui.core.settings import store
from haihai_tui.core.settings.headers import header_problem
from haihai_tui.core.settings.loaded import Ctx, Loaded, did_you_mean
from haihai_tui.core.settings.model import (
    CONTROL_CHARS,
    DATABASE_ID,
    SMTP_PORTS,
    SMTP_SECURITY,
    STATE_BACKENDS,
    Database,
    FieldDef,
    Integration,
    Limits,
    Menu,
    Secrets,
    Settings,
    Smtp,
    State,
    Timeouts,
)
from haihai_tui.core.settings.permissions import User
from haihai_tui.core.settings.validate import validate
from haihai_tui.core.text import safe


def safe_repr(text: str) -> str:
    """``repr`` of outside text for a message, with anything a terminal could act on made visible."""
    return safe(repr(text))


# --- a small schema: key -> (python types, required, default) -------------------------------------

Schema = dict[str, tuple[tuple[type, ...], bool]]
STR, INT, BOOL, NUM = (str,), (int,), (bool,), (int, float)
LIST, TABLE = (list,), (dict,)

TYPE_WORDS = {
    STR: "a string in quotes",
    INT: "a whole number",
    BOOL: "true or false",
    NUM: "a number",
    LIST: "a list [ ... ]",
    TABLE: "a table",
}


def plain(value: Any) -> Any:
    """tomlkit items -> plain Python values."""
    return value.unwrap() if hasattr(value, "unwrap") else value


def check_table(ctx: Ctx, table: Any, schema: Schema, keypath: tuple, what: str) -> dict[str, Any]:
    """Report unknown keys, wrong types and missing required keys; return the good values."""
    out: dict[str, Any] = {}
    if not isinstance(table, dict):
        ctx.add(keypath, f"{what} must be a table ([...] header or {{ ... }})")
        return out
    for key, value in table.items():
        if key not in schema:
            ctx.add(keypath + (key,), f"unknown key {key!r} in {what}{did_you_mean(key, schema)}")
            continue
        types, _ = schema[key]
        value = plain(value)
        ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
        if not ok:
            ctx.add(keypath + (key,), f"{key} must be {TYPE_WORDS.get(types, types)}, not {ctx.show(key, value)}")
            continue
        out[key] = value
    for key, (_, required) in schema.items():
        if required and key not in table:
            ctx.add(keypath, f"{what} is missing the required key {key!r}")
    return out


def str_list(ctx: Ctx, value: Any, keypath: tuple, what: str) -> list[str]:
    items = [plain(v) for v in value]
    bad = [v for v in items if not isinstance(v, str)]
    if bad:
        ctx.add(keypath, f"{what} must be a list of strings; {ctx.show(what, bad[0])} is not")
    return [v for v in items if isinstance(v, str)]


# --- admin.toml --------------------------------------------------------------------------------------

ADMIN_TOP: Schema = {"system": (TABLE, False), "users": (LIST, False), "state": (TABLE, False)}
STATE: Schema = {"backend": (STR, False), "dsn": (STR, False)}
SYSTEM: Schema = {"admin_emails": (LIST, False), "smtp": (TABLE, False)}
SMTP: Schema = {
    "host": (STR, False),
    "port": (INT, False),
    "starttls": (BOOL, False),
    "security": (STR, False),
    "from": (STR, False),
    "username": (STR, False),
    "password": (STR, False),
}
USER: Schema = {"login": (STR, True), "name": (STR, False), "email": (STR, False), "permissions": (LIST, False)}


def parse_admin(ctx: Ctx, doc: dict, s: Settings) -> None:
    top = check_table(ctx, doc, ADMIN_TOP, (), "admin.toml")
    system = check_table(ctx, top.get("system", {}), SYSTEM, ("system",), "[system]")
    s.admin_emails = str_list(ctx, system.get("admin_emails", []), ("system", "admin_emails"), "admin_emails")
    smtp = check_table(ctx, system.get("smtp", {}), SMTP, ("system", "smtp"), "[system.smtp]")
    if "password" in smtp:
        ctx.add(
            ("system", "smtp", "password"),
            'the SMTP password does not belong in admin.toml; move it to secrets.toml under [smtp] password = "..."',
        )
    s.smtp = Smtp(
        host=smtp.get("host", ""),
        port=smtp.get("port", 587),
        starttls=smtp.get("starttls", True),
        from_addr=smtp.get("from", ""),
        username=smtp.get("username", ""),
        security=smtp.get("security", ""),
    )
    if s.smtp.security and s.smtp.security not in SMTP_SECURITY:
        ctx.add(
            ("system", "smtp", "security"),
            f"[system.smtp] security must be one of {', '.join(map(repr, SMTP_SECURITY))}, "
            f"not {ctx.show('security', s.smtp.security)}",
        )
        s.smtp.security = ""
    elif "starttls" in smtp and s.smtp.security and s.smtp.starttls != (s.smtp.security == "starttls"):
        ctx.add(
            ("system", "smtp", "starttls"),
            f"[system.smtp] starttls = {str(s.smtp.starttls).lower()} contradicts security = "
            f"{s.smtp.security!r}; remove starttls (security replaces it)",
        )
    if s.smtp.security and "port" not in smtp:
        s.smtp.port = SMTP_PORTS[s.smtp.security]
    parse_state(ctx, check_table(ctx, top.get("state", {}), STATE, ("state",), "[state]"), s)
    for i, raw in enumerate(top.get("users", [])):
        u = check_table(ctx, raw, USER, ("users", i), "[[users]]")
        if "login" not in u:
            continue
        perms = str_list(ctx, u.get("permissions", []), ("users", i, "permissions"), "permissions")
        s.users.append(User(login=u["login"], name=u.get("name", ""), email=u.get("email", ""), permissions=perms))


def parse_state(ctx: Ctx, st: dict, s: Settings) -> None:
    """[state] backend / dsn; a problem is kept on the State too, so the run refuses instead of going local."""
    s.state = State(backend=st.get("backend", "sqlite"), dsn=st.get("dsn", ""))
    problem = None
    if s.state.backend not in STATE_BACKENDS:
        problem = ("backend",), f"[state] backend must be one of {', '.join(map(repr, STATE_BACKENDS))}"
    elif s.state.backend == "postgresql" and not s.state.dsn.strip():
        problem = ("dsn",), '[state] backend = "postgresql" needs dsn = "${secret:NAME}" or "${ENV_VAR}"'
    elif s.state.backend == "postgresql" and not REF_ONLY.fullmatch(s.state.dsn.strip()):
        problem = (
            ("dsn",),
            (
                "[state] dsn must not be written in admin.toml; put it in secrets.toml as "
                '[tokens] "state-dsn" = "postgresql://..." (mode 0600) and write dsn = "${secret:state-dsn}", '
                'or use an environment variable dsn = "${PGDSN_VAR}"'
            ),
        )
    if problem:
        ctx.add(("state", *problem[0]), problem[1])
        s.state.problem = f"admin.toml: {problem[1]}"


#: a whole value that is one ${ENV} or ${secret:NAME} reference
REF_ONLY = re.compile(r"\$\{\s*(secret:)?[^{}]+\}")


# --- db.toml -----------------------------------------------------------------------------------------

DB_TOP: Schema = {"databases": (LIST, False), "integrations": (LIST, False), "menus": (LIST, False)}
DATABASE: Schema = {"id": (STR, True), "name": (STR, False), "fields": (LIST, True), "read_only": (BOOL, False)}
DATABASE.update({k: (STR, False) for k in ("engine", "dsn", "table", "key")})  # engine = "postgresql"
FIELD: Schema = {"id": (STR, True), "label": (STR, True), "type": (STR, False), "options": (LIST, False)}
FIELD["column"] = (STR, False)  # engine = "postgresql": the table's column
INTEGRATION: Schema = {
    "name": (STR, True),
    "url": (STR, True),
    "body_format": (STR, False),
    "json_name": (STR, False),
    "csv_name": (STR, False),
    "csv_header": (BOOL, False),
    "csv_encoding": (STR, False),
    "report_mail": (INT, False),
    "report_to": (STR, False),
    "headers": (TABLE, False),
    "params": (TABLE, False),
    "ca_bundle": (STR, False),
    "sync": (STR, False),
    "timeouts": (TABLE, False),
    "limits": (TABLE, False),
}
TIMEOUTS: Schema = {k: (NUM, False) for k in ("connect", "write", "read", "pool", "answer", "status", "poll")}
LIMITS: Schema = {k: (INT, False) for k in ("max_rows", "max_bytes", "daily_quota")}
MENU: Schema = {
    "name": (STR, True),
    "type": (STR, False),
    "database": (STR, True),
    "columns": (LIST, False),
    "integrations": (LIST, False),
}


def parse_db(ctx: Ctx, doc: dict, s: Settings) -> None:
    top = check_table(ctx, doc, DB_TOP, (), "db.toml")
    for i, raw in enumerate(top.get("databases", [])):
        d = check_table(ctx, raw, DATABASE, ("databases", i), "[[databases]]")
        if "id" not in d:
            continue
        if not DATABASE_ID.fullmatch(d["id"]):
            ctx.add(
                ("databases", i, "id"),
                f"database id {safe_repr(d['id'])} may hold only letters A-Z a-z, digits, "
                "'_' and '-' (1 to 64 of them): it names the database's file; "
                "this database was not loaded",
            )
            continue
        db = Database(id=d["id"], name=d.get("name", d["id"]), read_only=d.get("read_only", False))
        db.engine = d.get("engine", "sqlite")
        db.dsn, db.table, db.key = d.get("dsn", ""), d.get("table", ""), d.get("key", "")
        db.read_only = db.read_only or db.engine == "postgresql"  # someone else's table: only read here
        for j, rawf in enumerate(d.get("fields", [])):
            f = check_table(ctx, rawf, FIELD, ("databases", i, "fields", j), "a field")
            if "id" in f and "label" in f:
                options = str_list(ctx, f.get("options", []), ("databases", i, "fields", j, "options"), "options")
                db.fields.append(FieldDef(f["id"], f["label"], f.get("type", "text"), options, f.get("column", "")))
        s.databases.append(db)
    for i, raw in enumerate(top.get("integrations", [])):
        g = check_table(ctx, raw, INTEGRATION, ("integrations", i), "[[integrations]]")
        if "name" not in g:
            continue
        headers = {k: plain(v) for k, v in g.get("headers", {}).items()}
        params = {k: plain(v) for k, v in g.get("params", {}).items()}
        for table, kind in ((headers, "headers"), (params, "params")):
            for k, v in list(table.items()):
                if isinstance(v, int) and not isinstance(v, bool) and kind == "params":
                    table[k] = str(v)  # the product sends strings; accept 12 for "12"
                elif not isinstance(v, str):
                    ctx.add(("integrations", i, kind, k), f"{kind}.{safe(k)} must be a string in quotes")
                    del table[k]
        for k, v in list(headers.items()):
            why = header_problem(k, v)
            if why:
                ctx.add(("integrations", i, "headers", k), why)
                del headers[k]
        t = check_table(
            ctx, g.get("timeouts", {}), TIMEOUTS, ("integrations", i, "timeouts"), "[integrations.timeouts]"
        )
        lim = check_table(ctx, g.get("limits", {}), LIMITS, ("integrations", i, "limits"), "[integrations.limits]")
        s.integrations.append(
            Integration(
                name=g["name"],
                url=g.get("url", ""),
                headers=headers,
                params=params,
                body_format=g.get("body_format", "json"),
                json_name=g.get("json_name", "import_settings"),
                csv_name=g.get("csv_name", "customer_list"),
                csv_header=g.get("csv_header", True),
                csv_encoding=g.get("csv_encoding", "sjis"),
                report_mail=g.get("report_mail", 0),
                report_to=g.get("report_to", "executor"),
                ca_bundle=g.get("ca_bundle", ""),
                sync=g.get("sync", "full"),
                timeouts=Timeouts(**{k: float(v) for k, v in t.items()}),
                limits=Limits(**lim),
            )
        )
    for i, raw in enumerate(top.get("menus", [])):
        m = check_table(ctx, raw, MENU, ("menus", i), "[[menus]]")
        if "name" not in m or "database" not in m:
            continue
        s.menus.append(
            Menu(
                name=m["name"],
                database=m["database"],
                type=m.get("type", "record_list"),
                columns=str_list(ctx, m.get("columns", []), ("menus", i, "columns"), "columns"),
                integrations=str_list(ctx, m.get("integrations", []), ("menus", i, "integrations"), "integrations"),
            )
        )


# --- secrets.toml and tui.toml ---------------------------------------------------------------------

SECRETS_TOP: Schema = {"tokens": (TABLE, False), "smtp": (TABLE, False)}


def parse_secrets(ctx: Ctx, doc: dict, s: Settings) -> None:
    top = check_table(ctx, doc, SECRETS_TOP, (), "secrets.toml")
    tokens: dict[str, Secret] = {}
    refused: dict[str, str] = {}
    for name, value in top.get("tokens", {}).items():
        value = plain(value)
        if not isinstance(value, str):
            ctx.add(("tokens", name), f"token {safe_repr(name)} must be a string in quotes")
        elif CONTROL_CHARS.search(value):
            refused[name] = (
                f"secrets.toml [tokens] {safe_repr(name)} contains a control character (a line break, "
                "tab, DEL or similar), so it is not used; paste the token again without it"
            )
            ctx.add(("tokens", name), refused[name])
        else:
            tokens[name] = Secret(value, f'secrets.toml [tokens] "{name}"')
    smtp = check_table(ctx, top.get("smtp", {}), {"password": (STR, False)}, ("smtp",), "[smtp]")
    s.secrets = Secrets(
        tokens=tokens,
        smtp_password=Secret(smtp["password"], "secrets.toml [smtp] password") if "password" in smtp else None,
        refused=refused,
    )


def parse_tui(ctx: Ctx, doc: dict, s: Settings) -> None:
    top = check_table(ctx, doc, {"keys": (TABLE, False)}, (), "tui.toml")
    for binding_id, keys in top.get("keys", {}).items():
        keys = plain(keys)
        if isinstance(keys, str) and keys.strip():
            s.keys[binding_id] = keys
        else:
            ctx.add(("keys", binding_id), f'keys.{binding_id} must be a key name in quotes, like "f5" or "ctrl+r"')


# --- the folder --------------------------------------------------------------------------------------

PARSERS: tuple[tuple[str, Callable[[Paths], Path], Callable], ...] = (
    ("admin", lambda p: p.admin, parse_admin),
    ("db", lambda p: p.db, parse_db),
    ("secrets", lambda p: p.secrets, parse_secrets),
    ("tui", lambda p: p.tui, parse_tui),
)


def load_settings(paths: Paths, environ: dict[str, str] | None = None, *, validate_all: bool = True) -> Loaded:
    """Read every settings file of ``paths.config_dir``; never raises for file content."""
    loaded = Loaded(paths, Settings(config_dir=paths.config_dir))
    for key, where, parse in PARSERS:
        path = where(paths)
        name = path.name
        if key == "secrets":
            refusal = store.check_private_file(path)
            if refusal:
                loaded.problems.append(Problem(name, None, refusal + " (its tokens were not read)"))
                loaded.files[key] = None
                continue
        try:
            tf = store.load(path)
        except SettingsFileError as e:
            loaded.problems.append(e.as_problem())
            loaded.files[key] = None
            continue
        except OSError as e:
            loaded.problems.append(Problem(name, None, f"cannot read: {e.strerror or e}"))
            loaded.files[key] = None
            continue
        loaded.files[key] = tf
        parse(Ctx(name, tf.text, loaded.problems, hide_values=key == "secrets"), tf.doc, loaded.settings)
        if key == "secrets":
            loaded.files[key] = None  # keep no copy of the secrets text around (reprs, crash reports)
    if validate_all:
        validate(loaded, os.environ if environ is None else environ)
    loaded.settings.load_errors = [p for p in loaded.errors if p.file in ("db.toml", "secrets.toml")]
    return loaded
