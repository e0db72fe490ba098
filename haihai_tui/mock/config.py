"""Configuration of the mock HaiHai Mail server: accounts, limits, behaviour.

Server-wide values (``MockConfig``) are defaults; an account may override ``quota``, ``max_rows`` and
``max_bytes`` (``None`` = use the server's value). The token is a plain ``str`` here because the mock
is the *other side* of the wire; it is kept out of ``repr`` and never logged.

TOML shape read by :func:`load_mock_config`::

    max_rows = 10000            # optional server-wide values (the defaults shown)
    max_bytes = 3000000
    quota = 240
    offer_status = true
    processing_delay = 0.3

    [[accounts]]
    path = "demo"
    token_env = "HAIHAI_API_TOKEN"      # or: token = "..."
    login_ids = ["ops01"]
    multilang = false
    ip_allow = ["127.0.0.0/8", "::1"]
    fields = ["メールアドレス", "会社名", "お名前"]   # optional; default DEFAULT_FIELDS
    [accounts.groups]
    12 = "メルマガ会員"
    [accounts.plans]
    7 = "ウェルカムステップ"
    [[accounts.customers]]              # optional seed customers, by field label
    "メールアドレス" = "old@example.jp"
    groups = { 12 = "stopped" }         # optional: gid -> deliverable | stopped | prohibited
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from dataclasses import fields as dc_fields
from pathlib import Path
from typing import Any

from haihai_tui.core.problems import SettingsFileError

EMAIL_LABEL = "メールアドレス"
STATES = ("deliverable", "stopped", "prohibited")
LOOPBACK = ["127.0.0.0/8", "::1"]

#: HaiHai customer-database labels accepted as CSV columns unless an account lists its own.
DEFAULT_FIELDS = [
    EMAIL_LABEL,
    "会社名",
    "部署名",
    "役職",
    "お名前",
    "姓",
    "名",
    "フリガナ",
    "セイ",
    "メイ",
    "電話番号",
    "携帯電話番号",
    "FAX番号",
    "郵便番号",
    "都道府県",
    "市区町村",
    "住所",
    "住所1",
    "住所2",
    "番地",
    "建物名",
    "性別",
    "生年月日",
    "業種",
    "URL",
    "顧客ID",
    "顧客コード",
    "会員ランク",
    "担当者",
    "登録日",
    "備考",
]


@dataclass
class MockAccount:
    """One HaiHai account, addressed by the PATH segment of its URL."""

    path: str
    token: str = field(repr=False)
    login_ids: list[str] = field(default_factory=list)
    groups: dict[str, str] = field(default_factory=dict)  # gid -> name
    plans: dict[str, str] = field(default_factory=dict)  # spid -> name
    multilang: bool = False
    ip_allow: list[str] = field(default_factory=lambda: list(LOOPBACK))
    fields: list[str] = field(default_factory=lambda: list(DEFAULT_FIELDS))
    customers: list[dict[str, Any]] = field(default_factory=list)  # seed rows (see module doc)
    quota: int | None = None
    max_rows: int | None = None
    max_bytes: int | None = None

    def __post_init__(self) -> None:
        self.groups = {str(k): str(v) for k, v in self.groups.items()}
        self.plans = {str(k): str(v) for k, v in self.plans.items()}
        if EMAIL_LABEL not in self.fields:
            self.fields = [EMAIL_LABEL, *self.fields]


@dataclass
class MockConfig:
    """The whole mock server: its accounts and server-wide settings."""

    accounts: list[MockAccount] = field(default_factory=list)
    quota: int = 240
    max_rows: int = 10_000
    max_bytes: int = 3_000_000
    offer_status: bool = True  # the mock-only status / result.csv endpoints
    processing_delay: float = 0.3  # seconds in each of "queued" and "processing"
    token_header: str = "X-HM-apitoken"
    json_part: str = "import_settings"
    csv_part: str = "customer_list"
    request_log_limit: int = 200  # how many received requests /_mock/requests keeps

    def account(self, path: str) -> MockAccount | None:
        for acc in self.accounts:
            if acc.path == path:
                return acc
        return None

    def quota_for(self, acc: MockAccount) -> int:
        return self.quota if acc.quota is None else acc.quota

    def max_rows_for(self, acc: MockAccount) -> int:
        return self.max_rows if acc.max_rows is None else acc.max_rows

    def max_bytes_for(self, acc: MockAccount) -> int:
        return self.max_bytes if acc.max_bytes is None else acc.max_bytes

    @classmethod
    def demo(cls, token: str, **overrides: Any) -> MockConfig:
        """The account ``make demo`` talks to: PATH ``demo``, login ``ops01``, groups 12/13, plan 7."""
        acc = MockAccount(
            path="demo",
            token=token,
            login_ids=["ops01"],
            groups={"12": "メルマガ会員", "13": "セミナー参加者"},
            plans={"7": "ウェルカムステップ"},
        )
        return cls(accounts=[acc], **overrides)


_ACCOUNT_KEYS = {f.name for f in dc_fields(MockAccount)} | {"token_env"}
_SERVER_KEYS = {f.name for f in dc_fields(MockConfig)}
_LINE_RE = re.compile(r"at line (\d+)")


def load_mock_config(path: str | os.PathLike[str]) -> MockConfig:
    """Read a mock-server TOML file; problems raise ``SettingsFileError`` (``file:line: message``)."""
    p = Path(path)
    name = str(p)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsFileError(name, None, f"cannot read the file: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise SettingsFileError(name, None, "the file is not UTF-8; save it as UTF-8") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = _LINE_RE.search(str(exc))
        raise SettingsFileError(name, int(m.group(1)) if m else None, f"TOML syntax: {exc}") from None
    return config_from_dict(data, name)


def config_from_dict(data: dict[str, Any], name: str = "<mock config>") -> MockConfig:
    """Build a :class:`MockConfig` from parsed TOML (or any dict of the same shape)."""
    unknown = set(data) - _SERVER_KEYS
    if unknown:
        raise SettingsFileError(name, None, f"unknown key(s) {sorted(unknown)}; allowed: {sorted(_SERVER_KEYS)}")
    raw_accounts = data.get("accounts", [])
    if not isinstance(raw_accounts, list) or not raw_accounts:
        raise SettingsFileError(name, None, "no [[accounts]] table; add at least one account with a path and a token")
    accounts = [_account(a, i, name) for i, a in enumerate(raw_accounts, 1)]
    paths = [a.path for a in accounts]
    dup = {p for p in paths if paths.count(p) > 1}
    if dup:
        raise SettingsFileError(name, None, f"account path(s) {sorted(dup)} appear more than once")
    server = {k: v for k, v in data.items() if k != "accounts"}
    for key in ("quota", "max_rows", "max_bytes", "request_log_limit"):
        if key in server and (not isinstance(server[key], int) or isinstance(server[key], bool) or server[key] < 0):
            raise SettingsFileError(name, None, f"{key} must be a whole number >= 0")
    if "processing_delay" in server and not isinstance(server["processing_delay"], (int, float)):
        raise SettingsFileError(name, None, "processing_delay must be a number of seconds")
    return MockConfig(accounts=accounts, **server)


def _account(raw: Any, index: int, name: str) -> MockAccount:
    where = f"[[accounts]] #{index}"
    if not isinstance(raw, dict):
        raise SettingsFileError(name, None, f"{where} must be a table")
    unknown = set(raw) - _ACCOUNT_KEYS
    if unknown:
        raise SettingsFileError(
            name, None, f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_ACCOUNT_KEYS)}"
        )
    values = dict(raw)
    if not isinstance(values.get("path"), str) or not values["path"]:
        raise SettingsFileError(name, None, f"{where}: path is required (the PATH segment of the account URL)")
    env = values.pop("token_env", None)
    if env is not None:
        if "token" in values:
            raise SettingsFileError(name, None, f"{where}: give token or token_env, not both")
        token = os.environ.get(str(env))
        if not token:
            raise SettingsFileError(name, None, f"{where}: environment variable {env} is not set or empty; export it")
        values["token"] = token
    if not isinstance(values.get("token"), str) or not values["token"]:
        raise SettingsFileError(name, None, f'{where}: token is required (token = "..." or token_env = "VAR")')
    for key in ("groups", "plans"):
        if key in values and not isinstance(values[key], dict):
            raise SettingsFileError(name, None, f'{where}: {key} must be a table of ID = "name"')
    for cust in values.get("customers", []):
        if not isinstance(cust, dict) or EMAIL_LABEL not in cust:
            raise SettingsFileError(name, None, f'{where}: every [[accounts.customers]] needs "{EMAIL_LABEL}"')
    return MockAccount(**values)
