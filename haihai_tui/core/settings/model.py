"""The settings model: plain dataclasses for admin.toml, db.toml and secrets.toml.

Parsing (with file:line problems) lives in ``load.py``, the rules across files in ``validate.py``,
file I/O in ``store.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from haihai_tui.core.encodings import SETTING_ENCODINGS
from haihai_tui.core.secret import Secret
from haihai_tui.core.settings.permissions import User

FIELD_TYPES = ("text", "email", "number", "date", "select")
EMAIL_LABEL = "メールアドレス"

# import_type codes of HaiHai's import API (docs/haihai-api.md)
IMPORT_TYPES: dict[str, tuple[str, str]] = {
    "0": ("新規登録", "register"),
    "1": ("削除", "delete"),
    "2": ("配信停止", "stop delivery"),
    "3": ("配信禁止", "prohibit delivery"),
    "5": ("配信可能", "make deliverable again"),
}
IS_OVERWRITE = {"0": ("上書きしない", "keep existing customers"), "1": ("上書きする", "overwrite existing")}
OVERWRITE_TYPE = {
    "1": ("元の値を残す", "keep HaiHai's value where a cell is blank"),
    "2": ("空白で上書き", "blank HaiHai's value where a cell is blank"),
}
REPORT_OPTION = {
    "0": ("送信しない", "no HaiHai report"),
    "1": ("送信する", "HaiHai report always"),
    "2": ("エラー時のみ", "HaiHai report only on error"),
}
REPORT_MAIL = {0: ("送信しない", "none"), 1: ("送信する", "always"), 2: ("エラー時のみ", "only on error")}
REPORT_TO = {"executor": "実行者", "admin": "管理者"}
#: sync modes of an integration (db.toml ``sync``, ``run --sync``): what a run sends (core/run/sync.py)
SYNC_MODES = ("full", "changes", "mirror")
SYNC_WORDS = {
    "full": "全件: every row of the result, every run (the default)",
    "changes": "差分: only rows new, changed or refused (失敗) since HaiHai confirmed them; none changed, none sent",
    "mirror": "同期: changes, then removes from the gid/spid the customers that left the result (a second request)",
}
KNOWN_PARAMS = ("login_id", "import_type", "is_overwrite", "overwrite_type", "gid", "spid", "report_option")
TOKEN_HEADER = "X-HM-apitoken"
#: a database id names its record file (<data>/records/<id>.sqlite3): letters, digits, _ and - only
DATABASE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: an HTTP header name (RFC 9110 token)
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
#: characters no header value may carry (they would split or corrupt the request): C0 controls and DEL
CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


@dataclass
class FieldDef:
    id: str
    label: str
    type: str = "text"
    options: list[str] = field(default_factory=list)  # the choices of a "select" field, in order
    column: str = ""  # engine = "postgresql": the table's column (default: the field id)

    @property
    def source_column(self) -> str:
        return self.column or self.id


#: where a database's records live: "sqlite" (a file in the data folder, the default) or "postgresql"
ENGINES = ("sqlite", "postgresql")
#: a PostgreSQL table or view as db.toml names it: "name" or "schema.name"
PG_TABLE = re.compile(r"(?:[A-Za-z_][A-Za-z0-9_$]{0,62}\.)?[A-Za-z_][A-Za-z0-9_$]{0,62}")


@dataclass
class Database:
    id: str
    name: str
    fields: list[FieldDef] = field(default_factory=list)
    read_only: bool = False  # db.toml ``read_only = true``: nobody edits, adds or deletes its records
    engine: str = "sqlite"  # "postgresql": records read from someone else's table (always read-only)
    #: engine = "postgresql": "${ENV}" or "${secret:NAME}" (a reference; never the DSN itself)
    dsn: str = ""
    table: str = ""  # engine = "postgresql": a table or view, "schema.name" allowed
    key: str = ""  # engine = "postgresql": the column that identifies a row (default: the primary key)

    def field(self, id_or_label: str) -> FieldDef | None:
        for f in self.fields:
            if id_or_label in (f.id, f.label):
                return f
        return None

    def pairs(self) -> list[tuple[str, str]]:
        """[(id, label), ...] as parse_condition wants them."""
        return [(f.id, f.label) for f in self.fields]


@dataclass
class Timeouts:
    """Seconds. connect/write/read/pool bound each network operation (a read, a write); answer,
    status and poll bound a whole phase in total, so a server that drips bytes cannot hold a run."""

    connect: float = 10.0
    write: float = 60.0
    read: float = 300.0
    pool: float = 10.0
    answer: float = 600.0  # HaiHai's whole answer to the import, from the moment the file was sent
    status: float = 30.0  # each status or result-file request, in total
    poll: float = 60.0  # asking for the row results after an accepted import, in total


@dataclass
class Limits:
    """Per-request and per-day limits [assumed in the contract, so settings]."""

    max_rows: int = 10_000
    max_bytes: int = 3_000_000
    daily_quota: int = 240


@dataclass
class Integration:
    name: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)  # raw values: "${VAR}", "${secret:NAME}", literal
    params: dict[str, str] = field(default_factory=dict)  # the KEY/VALUE grid, as strings, in order
    body_format: str = "json"
    json_name: str = "import_settings"
    csv_name: str = "customer_list"
    csv_header: bool = True
    csv_encoding: str = "sjis"  # "sjis" (Windows-31J) | "utf-8"
    report_mail: int = 0  # 0 none, 1 always, 2 only on error
    report_to: str = "executor"  # "executor" | "admin"
    ca_bundle: str = ""  # extra CA bundle file for TLS verification (verification is always on)
    sync: str = "full"  # "full" | "changes" | "mirror" (SYNC_MODES)
    timeouts: Timeouts = field(default_factory=Timeouts)
    limits: Limits = field(default_factory=Limits)

    @property
    def python_encoding(self) -> str:
        """The Python codec of ``csv_encoding`` (validation refuses any word but "sjis" and "utf-8")."""
        enc = SETTING_ENCODINGS.get(self.csv_encoding)
        return enc.codec if enc else "utf-8"


@dataclass
class Menu:
    name: str
    database: str
    type: str = "record_list"
    columns: list[str] = field(default_factory=list)  # field ids, in order = the CSV's columns
    integrations: list[str] = field(default_factory=list)  # integration names, in order


#: how report mail reaches the SMTP server: [system.smtp] security = "none" | "starttls" | "tls"
SMTP_SECURITY: dict[str, str] = {
    "none": "なし none (plain SMTP; only on a trusted network)",
    "starttls": "STARTTLS (usually port 587)",
    "tls": "TLS on connect (SMTPS, usually port 465)",
}
SMTP_PORTS = {"none": 25, "starttls": 587, "tls": 465}


@dataclass
class Smtp:
    host: str = ""
    port: int = 587
    starttls: bool = True  # the older switch; ``security`` wins when set
    from_addr: str = ""
    username: str = ""
    security: str = ""  # "none" | "starttls" | "tls"; "" means: from ``starttls``

    @property
    def mode(self) -> str:
        """The security in force: ``security`` when set, else what the older ``starttls`` switch says."""
        return self.security or ("starttls" if self.starttls else "none")


STATE_BACKENDS = ("sqlite", "postgresql")


@dataclass
class State:
    """admin.toml [state]: where the history, sync state, quota count and run locks live."""

    backend: str = "sqlite"  # "sqlite": files in the data folder; "postgresql": shared by every host
    #: backend = "postgresql": "${ENV}" or "${secret:NAME}" (a reference; never the DSN itself)
    dsn: str = ""
    #: what is wrong with [state] (set at load): the state is then not opened at all, never silently local
    problem: str = ""


@dataclass
class Secrets:
    tokens: dict[str, Secret] = field(default_factory=dict)
    smtp_password: Secret | None = None
    #: tokens refused at load (name -> why, never the value): a header that refers to one says so
    refused: dict[str, str] = field(default_factory=dict)


@dataclass
class Settings:
    """Everything loaded from one settings folder."""

    config_dir: Path
    admin_emails: list[str] = field(default_factory=list)
    smtp: Smtp = field(default_factory=Smtp)
    state: State = field(default_factory=State)
    users: list[User] = field(default_factory=list)
    databases: list[Database] = field(default_factory=list)
    integrations: list[Integration] = field(default_factory=list)
    menus: list[Menu] = field(default_factory=list)
    secrets: Secrets = field(default_factory=Secrets)
    keys: dict[str, str] = field(default_factory=dict)  # tui.toml [keys]: binding id -> key(s)
    #: errors in db.toml / secrets.toml found at load: nothing is sent while there are any, because a value
    #: that failed to parse would otherwise silently fall back to a default (or go missing) on the wire
    load_errors: list = field(default_factory=list, repr=False)

    def database(self, id: str) -> Database | None:
        return next((d for d in self.databases if d.id == id), None)

    def integration(self, name: str) -> Integration | None:
        return next((i for i in self.integrations if i.name == name), None)

    def menu(self, name: str) -> Menu | None:
        return next((m for m in self.menus if m.name == name), None)
