"""Rules across the settings: names unique, references exist, URL and parameter rules, tokens.

Each rule reports through the file's Ctx so the problem carries ``file:line``.
"""

from __future__ import annotations

from haihai_tui.core.addresses import email_problem
from haihai_tui.core.encodings import SETTING_ENCODINGS
from haihai_tui.core.settings import headers as hdr
from haihai_tui.core.settings.loaded import Ctx, Loaded, did_you_mean
from haihai_tui.core.settings.model import (
    CONTROL_CHARS,
    EMAIL_LABEL,
    ENGINES,
    FIELD_TYPES,
    PG_TABLE,
    REPORT_MAIL,
    REPORT_TO,
    SMTP_SECURITY,
    SYNC_MODES,
    TOKEN_HEADER,
    Database,
    Integration,
    Settings,
    Smtp,
)
from haihai_tui.core.settings.params import param_findings
from haihai_tui.core.settings.permissions import GRANT, PERMISSION_NAMES
from haihai_tui.core.urls import split_url

API_PATH = "/api/v1/custcsv/import"


def url_problems(url: str) -> list[tuple[str, str]]:
    """[(severity, message)] for an integration URL (the https / loopback rule lives in core/urls.py)."""
    parts, bad = split_url(url)
    if parts is None:
        return [("error", bad or "URL is not usable")]
    out: list[tuple[str, str]] = []
    if parts.query or parts.fragment:
        out.append(("error", "URL must not carry a query (?...) or fragment (#...); the token goes in the HTTP header"))
    if not parts.path.rstrip("/").endswith(API_PATH):
        out.append(
            (
                "warning",
                f"URL path {parts.path or '/'!r} does not end in {API_PATH}; "
                f"HaiHai's import endpoint is https://{{HOST}}/{{PATH}}{API_PATH}",
            )
        )
    return out


def system_problems(admin_emails: list[str], smtp: Smtp, has_password: bool) -> list[tuple[str, str, str]]:
    """Every problem of システム設定 / メール設定 as (field, severity, message): the screen shows them as
    the user types and refuses to save errors; ``haihai-tui check`` reads the same file."""
    out: list[tuple[str, str, str]] = []
    for addr in admin_emails:
        why = email_problem(addr)
        if why:
            out.append(("admin_emails", "error", f"admin e-mail {addr!r} is not an e-mail address: {why}"))
    if len({a.lower() for a in admin_emails}) != len(admin_emails):
        out.append(("admin_emails", "warning", "an admin e-mail appears twice; each gets the mail once"))
    if not admin_emails:
        out.append(("admin_emails", "warning", "no admin e-mail: report mail to 管理者 (admin) has nowhere to go"))
    host = smtp.host
    if host and (any(c.isspace() or not c.isprintable() for c in host) or "/" in host or "@" in host):
        out.append(("host", "error", f"SMTP host {host!r} is not a host name: write only the name (smtp.example.jp)"))
    if not 1 <= smtp.port <= 65535:
        out.append(("port", "error", f"SMTP port {smtp.port} is not between 1 and 65535 (usually 587 or 465)"))
    if smtp.mode not in SMTP_SECURITY:
        out.append(("security", "error", f"security must be one of {', '.join(SMTP_SECURITY)}"))
    elif host:
        if smtp.mode == "tls" and smtp.port == 587:
            out.append(("port", "warning", "TLS on connect usually listens on 465; 587 usually speaks STARTTLS"))
        if smtp.mode != "tls" and smtp.port == 465:
            out.append(("port", "warning", "port 465 usually means TLS on connect: choose security TLS"))
        if smtp.mode == "none" and smtp.username:
            out.append(("security", "warning", "the password would cross the network unencrypted; use STARTTLS or TLS"))
    if smtp.from_addr:
        why = email_problem(smtp.from_addr)
        if why:
            out.append(("from", "error", f"sender {smtp.from_addr!r} is not an e-mail address: {why}"))
    if any(c.isspace() or not c.isprintable() for c in smtp.username):
        out.append(("username", "error", "the login has a space or a control character; type it again"))
    if host and smtp.username and not has_password:
        out.append(("password", "error", f"login {smtp.username!r} needs a password: type it in the password field"))
    return out


def sync_problem(mode: str, params: dict, *, has_key: bool | None = None, menu: str = "") -> str | None:
    """Why sync ``mode`` cannot be used with these import_settings (and, when ``has_key`` is given, on a
    menu with or without an e-mail column), or None. One rule for `check`, the form and every run."""
    if mode not in SYNC_MODES:
        return f'sync must be "full", "changes" or "mirror", not {mode!r}'
    if mode == "full":
        return None
    if has_key is False:
        where = f"menu {menu!r}" if menu else "the menu"
        return (
            f"sync = {mode} keys each customer by the e-mail column (a field of type email) and {where} "
            "shows none; add the e-mail field to its columns or use sync = full"
        )
    it = str(params.get("import_type", "")).strip()
    target = any(str(params.get(k, "")).strip() for k in ("gid", "spid"))
    if mode == "mirror" and (it != "0" or not target):
        return (
            "sync = mirror removes customers who left the result from the integration's delivery group or "
            "step-mail plan, so it needs import_type 0 (register) and a gid or spid; a removal without one "
            "would delete the customers from the whole HaiHai database"
        )
    if mode == "changes" and it == "1":
        return "sync = changes compares the cells HaiHai confirmed; a removal run (import_type 1) has none: use full"
    return None


def integration_problems(g: Integration, settings: Settings, environ: dict[str, str]) -> list[tuple[tuple, str, str]]:
    """Every problem of one integration as (keypath suffix, severity, message); used by check and by the form."""
    out: list[tuple[tuple, str, str]] = []
    if not g.name.strip():
        out.append((("name",), "error", "システム連携名 (name) is empty"))
    for sev, msg in url_problems(g.url):
        out.append((("url",), sev, msg))
    if g.body_format != "json":
        out.append((("body_format",), "error", f'body_format must be "json" (HTTPボディ形式), not {g.body_format!r}'))
    for key, label in (("json_name", "name: of the JSON part"), ("csv_name", "連携データ(CSV)のname")):
        if not getattr(g, key).strip():
            out.append(((key,), "error", f"{key} ({label}) is empty"))
    if g.csv_encoding not in SETTING_ENCODINGS:
        out.append(
            (
                ("csv_encoding",),
                "error",
                f'csv_encoding must be "sjis" (Windows-31J) or "utf-8", not {g.csv_encoding!r}',
            )
        )
    if g.report_mail not in REPORT_MAIL:
        out.append(
            (
                ("report_mail",),
                "error",
                f"report_mail must be 0 (none), 1 (always) or 2 (only on error), not {g.report_mail}",
            )
        )
    if g.report_to not in REPORT_TO:
        out.append(
            (("report_to",), "error", f'report_to must be "executor" (実行者) or "admin" (管理者), not {g.report_to!r}')
        )
    elif g.report_mail and g.report_to == "admin" and not settings.admin_emails:
        out.append(
            (("report_to",), "warning", "report mail goes to 管理者 but admin.toml [system] admin_emails is empty")
        )
    for name, raw in g.headers.items():  # what the form is about to save (load already dropped such headers)
        why = hdr.header_problem(name, raw)
        if why:
            out.append((("headers", name), "error", why))
    tok = hdr.token_header(g)
    if tok is None:
        out.append(
            (
                ("headers",),
                "error",
                f"HTTPヘッダ needs the {TOKEN_HEADER} header, with the value "
                f'"${{secret:{g.name}}}" or "${{HAIHAI_API_TOKEN}}" (never the token itself)',
            )
        )
    else:
        name, raw = tok
        if name != TOKEN_HEADER:
            out.append((("headers", name), "warning", f"header {name!r} is usually written {TOKEN_HEADER!r}"))
        hv = hdr.resolve(name, raw, settings, environ)
        if hv.kind == "literal":
            out.append(
                (
                    ("headers", name),
                    "error",
                    f"a literal API token is written in db.toml; move it to secrets.toml as "
                    f'[tokens] "{g.name}" = "..." (mode 0600) and write "${{secret:{g.name}}}" here, '
                    f'or use an environment variable "${{HAIHAI_API_TOKEN}}"',
                )
            )
        elif hv.missing:
            severity = "warning" if hv.kind == "env" and not hv.refused else "error"
            out.append((("headers", name), severity, hv.missing))
    for issue in param_findings(g.params):
        out.append((("params", issue.key) if issue.key else ("params",), issue.severity, issue.message))
    why = sync_problem(g.sync, g.params)
    if why:
        out.append((("sync",), "error", why))
    for key, value in vars(g.timeouts).items():
        if not 0 < value < 10**7:  # also refuses nan and inf
            out.append(
                (
                    ("timeouts", key),
                    "error",
                    f"timeouts.{key} must be a number of seconds above 0 (and below 10000000), not {value}",
                )
            )
    for key, value in vars(g.limits).items():
        if value <= 0:
            out.append((("limits", key), "error", f"limits.{key} must be more than 0"))
    if g.ca_bundle:
        from pathlib import Path

        if not Path(g.ca_bundle).expanduser().is_file():
            out.append((("ca_bundle",), "error", f"ca_bundle {g.ca_bundle!r} is not a readable file"))
    return out


def source_problems(d: Database, settings: Settings, environ: dict[str, str]) -> list[tuple[tuple, str, str]]:
    """Where the records of ``d`` live (engine, dsn, table, key, columns) as (keypath suffix, severity, message).
    Only the settings; ``haihai-tui check`` also connects (core/records/pgcheck.py)."""
    if d.engine not in ENGINES:
        return [(("engine",), "error", f"engine must be one of {', '.join(map(repr, ENGINES))}, not {d.engine!r}")]
    if d.engine != "postgresql":
        extra = [k for k in ("dsn", "table", "key") if getattr(d, k)] + ["column" for f in d.fields if f.column][:1]
        return [((k,), "warning", f'{k} is only read with engine = "postgresql"; it is ignored') for k in extra]
    out: list[tuple[tuple, str, str]] = []
    kind, ref = hdr.parse("dsn", d.dsn)
    if not d.dsn.strip():
        out.append((("dsn",), "error", 'engine = "postgresql" needs dsn = "${secret:NAME}" or "${ENV_VAR}"'))
    elif kind == "literal":
        out.append(
            (
                ("dsn",),
                "error",
                "the connection string (dsn) is written in db.toml; move it to secrets.toml as "
                f'[tokens] "{d.id}-dsn" = "postgresql://..." (mode 0600) and write dsn = "${{secret:{d.id}-dsn}}", '
                'or use an environment variable dsn = "${PGDSN_VAR}"',
            )
        )
    else:
        hv = hdr.resolve("dsn", d.dsn, settings, environ)
        if hv.missing:
            out.append((("dsn",), "warning" if kind == "env" and not hv.refused else "error", hv.missing))
    if not PG_TABLE.fullmatch(d.table):
        out.append(
            (
                ("table",),
                "error",
                f'table must be "name" or "schema.name" of a table or view (letters, digits, _, $), not {d.table!r}',
            )
        )
    for j, f in enumerate(d.fields):
        if CONTROL_CHARS.search(f.source_column):
            out.append((("fields", j, "column"), "error", f"column of field {f.id!r} holds a control character"))
    return out


def validate(loaded: Loaded, environ: dict[str, str]) -> None:
    s = loaded.settings

    def ctx(key: str, name: str) -> Ctx:
        tf = loaded.files.get(key)
        return Ctx(name, tf.text if tf else "", loaded.problems)

    admin, db = ctx("admin", "admin.toml"), ctx("db", "db.toml")
    for addr in s.admin_emails:
        why = email_problem(addr)
        if why:
            admin.add(("system", "admin_emails"), f"admin_emails: {addr!r} is not an e-mail address: {why}")
    for i, u in enumerate(s.users):
        why = email_problem(u.email) if u.email else None
        if why:
            admin.add(("users", i, "email"), f"user {u.login!r}: email {u.email!r} is not an e-mail address: {why}")
    # users
    seen: set[str] = set()
    for i, u in enumerate(s.users):
        if u.login in seen:
            admin.add(("users", i, "login"), f"login {u.login!r} appears twice; logins must be unique")
        seen.add(u.login)
        for p in u.permissions:
            if p not in PERMISSION_NAMES:
                admin.add(("users", i, "permissions"), f"unknown permission {p!r}{did_you_mean(p, PERMISSION_NAMES)}")
    if s.users and not any(GRANT in u.permissions for u in s.users):
        admin.add(("users",), f"nobody holds 「{GRANT}」, so nobody can change permissions from the app", "warning")
    # databases
    ids: set[str] = set()
    for i, d in enumerate(s.databases):
        if d.id in ids:
            db.add(("databases", i, "id"), f"database id {d.id!r} appears twice")
        ids.add(d.id)
        fids, labels = set(), set()
        for j, f in enumerate(d.fields):
            if f.id in fids:
                db.add(("databases", i, "fields", j), f"field id {f.id!r} appears twice in database {d.id!r}")
            if f.label in labels:
                db.add(("databases", i, "fields", j), f"field label {f.label!r} appears twice in database {d.id!r}")
            if f.type not in FIELD_TYPES:
                db.add(
                    ("databases", i, "fields", j),
                    f"field type {f.type!r} unknown{did_you_mean(f.type, FIELD_TYPES)}; "
                    f"types are {', '.join(FIELD_TYPES)}",
                )
            where = ("databases", i, "fields", j, "options")
            if f.type == "select" and not f.options:
                db.add(where, f'select field {f.id!r} has no options; write options = ["A", "B"]')
            elif f.options and f.type != "select":
                db.add(where, f'field {f.id!r} has options but type {f.type!r}; options need type = "select"')
            if len(set(f.options)) != len(f.options) or "" in f.options:
                db.add(where, f"field {f.id!r}: every option must be non-empty and appear once")
            fids.add(f.id)
            labels.add(f.label)
        for suffix, sev, msg in source_problems(d, s, environ):
            db.add(("databases", i) + suffix, f"database {d.id!r}: {msg}", sev)
    # integrations
    names: set[str] = set()
    for i, g in enumerate(s.integrations):
        if g.name in names:
            db.add(("integrations", i, "name"), f"システム連携名 {g.name!r} appears twice; names must be unique")
        names.add(g.name)
        for suffix, sev, msg in integration_problems(g, s, environ):
            db.add(("integrations", i) + suffix, f"[{g.name}] {msg}", sev)
    # menus
    mnames: set[str] = set()
    for i, m in enumerate(s.menus):
        if m.name in mnames:
            db.add(("menus", i, "name"), f"menu name {m.name!r} appears twice")
        mnames.add(m.name)
        if m.type != "record_list":
            db.add(
                ("menus", i, "type"), f'menu type {m.type!r} is not supported; use "record_list" (レコード一覧タイプ)'
            )
        d = s.database(m.database)
        if d is None:
            db.add(
                ("menus", i, "database"),
                f"menu {m.name!r}: no database {m.database!r}{did_you_mean(m.database, [x.id for x in s.databases])}",
            )
        else:
            for c in m.columns:
                if d.field(c) is None:
                    db.add(
                        ("menus", i, "columns"),
                        f"menu {m.name!r}: database {d.id!r} has no column {c!r}"
                        f"{did_you_mean(c, [f.id for f in d.fields])}",
                    )
            shown = [d.field(c) for c in m.columns]
            if m.integrations and not any(f and f.label == EMAIL_LABEL for f in shown):
                db.add(
                    ("menus", i, "columns"),
                    f"menu {m.name!r} carries integrations but shows no {EMAIL_LABEL} "
                    "column; HaiHai needs it as the key column",
                )
        for n in m.integrations:
            if s.integration(n) is None:
                db.add(
                    ("menus", i, "integrations"),
                    f"menu {m.name!r}: no integration {n!r}{did_you_mean(n, [g.name for g in s.integrations])}",
                )
            elif d is not None and not any(f is not None and f.type == "email" for f in map(d.field, m.columns)):
                gi = s.integration(n)
                why = sync_problem(gi.sync, gi.params, has_key=False, menu=m.name)  # type: ignore[union-attr]
                if why and gi.sync in ("changes", "mirror"):  # type: ignore[union-attr]
                    db.add(("menus", i, "integrations"), f"[{n}] {why}")
