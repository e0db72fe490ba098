"""In-memory state of the mock server: customers, group/plan states, quotas, imports, faults, request log."""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from haihai_tui.mock.config import EMAIL_LABEL, STATES, MockAccount, MockConfig

JST = timezone(timedelta(hours=9), "JST")

# the four result categories (HaiHai's own words)
SUCCESS, FAILURE, OTHER, STOPPED = "成功", "失敗", "その他", "配信停止"
CATEGORY_KEYS = {SUCCESS: "success", FAILURE: "failure", OTHER: "other", STOPPED: "stopped"}


def now_jst() -> datetime:
    return datetime.now(JST)


def seconds_until_jst_midnight(now: datetime) -> int:
    """Whole seconds from ``now`` to the next 00:00 JST (at least 1) — the 429 ``Retry-After``."""
    local = now.astimezone(JST)
    midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), JST)
    return max(1, int((midnight - local).total_seconds() + 0.999))


@dataclass
class AccountState:
    """One account's customer database and its group / step-mail plan memberships."""

    account: MockAccount
    customers: dict[str, dict[str, str]] = field(default_factory=dict)  # lower(email) -> {label: value}
    groups: dict[str, dict[str, str]] = field(default_factory=dict)  # gid -> {lower(email): state}
    plans: dict[str, dict[str, str]] = field(default_factory=dict)  # spid -> {lower(email): state}
    quota_day: date | None = None
    quota_used: int = 0

    @classmethod
    def seeded(cls, account: MockAccount) -> AccountState:
        st = cls(account, groups={g: {} for g in account.groups}, plans={p: {} for p in account.plans})
        for raw in account.customers:
            row = {k: str(v) for k, v in raw.items() if k not in ("groups", "plans")}
            key = row[EMAIL_LABEL].strip().lower()
            st.customers[key] = row
            for kind, table in (("groups", st.groups), ("plans", st.plans)):
                for tid, state in dict(raw.get(kind, {})).items():
                    if str(tid) in table and state in STATES:
                        table[str(tid)][key] = state
        return st

    def targets(self, kind: str) -> dict[str, dict[str, str]]:
        return self.groups if kind == "gid" else self.plans

    def quota_status(self, limit: int, now: datetime) -> tuple[int, int]:
        """(used, remaining) for today in JST, rolling the counter over at midnight."""
        today = now.astimezone(JST).date()
        if self.quota_day != today:
            self.quota_day, self.quota_used = today, 0
        return self.quota_used, max(0, limit - self.quota_used)

    def snapshot(self) -> dict[str, Any]:
        """What ``GET /_mock/accounts/{PATH}`` returns."""

        def table(names: dict[str, str], members: dict[str, dict[str, str]]) -> dict[str, Any]:
            return {
                tid: {"name": names.get(tid, ""), "members": dict(sorted(members.get(tid, {}).items()))}
                for tid in names
            }

        return {
            "path": self.account.path,
            "customers": [self.customers[k] for k in sorted(self.customers)],
            "groups": table(self.account.groups, self.groups),
            "plans": table(self.account.plans, self.plans),
            "quota": {"day": self.quota_day.isoformat() if self.quota_day else None, "used": self.quota_used},
        }


@dataclass
class ImportJob:
    """One accepted import: its rows, where processing stands, and the per-row results."""

    import_id: str
    path: str
    settings: dict[str, str]
    header: list[str]
    rows: list[list[str]]
    status: str = "queued"  # queued | processing | completed | failed
    results: list[tuple[str, str, list[str]]] = field(default_factory=list)  # (category, reason, row)
    fail: bool = False  # end in "failed" (fault control)
    nudge: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    def counts(self) -> dict[str, int]:
        out = {k: 0 for k in CATEGORY_KEYS.values()}
        for cat, _reason, _row in self.results:
            out[CATEGORY_KEYS[cat]] += 1
        return out


@dataclass
class FailRule:
    status: int
    code: str
    retry_after: int | None
    target: str  # "import" | "any"


@dataclass
class Faults:
    """Test controls set through ``/_mock/...``; each counted fault is used up by matching requests."""

    fail_next: deque[FailRule] = field(default_factory=deque)
    delay_seconds: float = 0.0
    delay_when: str = "before_response"  # | "before_body"
    delay_count: int = 0
    reset_mid_body: int = 0
    maintenance: bool = False
    no_status: bool = False
    fail_processing: int = 0
    #: lower-cased address -> reason: rows HaiHai refuses (失敗) whatever the import (POST /_mock/refuse)
    refuse: dict[str, str] = field(default_factory=dict)


class ServerState:
    """Everything the server remembers; ``reset()`` returns to the configured start."""

    def __init__(self, config: MockConfig, clock: Callable[[], datetime] = now_jst) -> None:
        self.config = config
        self.clock = clock
        self.reset()

    def reset(self) -> None:
        for job in getattr(self, "jobs", {}).values():
            if job.task is not None and not job.task.done():
                job.task.cancel()
        self.accounts = {a.path: AccountState.seeded(a) for a in self.config.accounts}
        self.jobs: dict[str, ImportJob] = {}
        self.faults = Faults()
        self.requests: deque[dict[str, Any]] = deque(maxlen=max(1, self.config.request_log_limit))
        self._seq = itertools.count(1)

    def next_import_id(self) -> str:
        return f"{self.clock().astimezone(JST):%Y%m%d}-{next(self._seq):06d}"

    def take_fail_rule(self, is_import: bool) -> FailRule | None:
        if self.faults.fail_next and (is_import or self.faults.fail_next[0].target == "any"):
            return self.faults.fail_next.popleft()
        return None

    def take_delay(self, when: str) -> float:
        f = self.faults
        if f.delay_count > 0 and f.delay_when == when:
            f.delay_count -= 1
            return f.delay_seconds
        return 0.0

    def take_reset_mid_body(self) -> bool:
        if self.faults.reset_mid_body > 0:
            self.faults.reset_mid_body -= 1
            return True
        return False

    def take_fail_processing(self) -> bool:
        if self.faults.fail_processing > 0:
            self.faults.fail_processing -= 1
            return True
        return False

    def log_request(self, entry: dict[str, Any]) -> None:
        self.requests.append(entry)
