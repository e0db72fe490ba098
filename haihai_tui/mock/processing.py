"""What HaiHai does with the rows of an accepted import (docs/haihai-api.md, "What HaiHai does with the rows").

Each row ends in one of four categories: 成功 success, 失敗 failure (with a reason), その他 other
(already registered, or a duplicate address earlier in the same file), 配信停止 stopped (register
into a group/plan where the customer is stopped or prohibited: the state is kept).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re

from haihai_tui.mock.config import EMAIL_LABEL
from haihai_tui.mock.state import FAILURE, OTHER, STOPPED, SUCCESS, AccountState, ImportJob, ServerState

log = logging.getLogger("haihai_tui.mock")

EMAIL_RE = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)

Result = tuple[str, str, list[str]]

R_COLUMNS = "列数が見出し行と一致しません"
R_EMPTY = "メールアドレスが空です"
R_FORMAT = "メールアドレスの形式が正しくありません"
R_DUPLICATE = "同じファイル内で重複しています"
R_EXISTS = "登録済みのメールアドレスです"
R_UNKNOWN = "登録されていないメールアドレスです"
R_NOT_MEMBER = "指定の配信グループ／ステップメールプランに登録されていません"
R_STOPPED = "配信停止中のため状態を変更していません"
R_PROHIBITED = "配信禁止中のため状態を変更していません"

STATE_FOR_TYPE = {"2": "stopped", "3": "prohibited", "5": "deliverable"}


def target_of(settings: dict[str, str]) -> tuple[str, str] | None:
    """("gid", "12") / ("spid", "7") / None."""
    for kind in ("gid", "spid"):
        if kind in settings:
            return kind, settings[kind]
    return None


def process_rows(
    acc: AccountState,
    settings: dict[str, str],
    header: list[str],
    rows: list[list[str]],
    refuse: dict[str, str] | None = None,
) -> list[Result]:
    """Apply one import to ``acc`` and return the per-row results, in file order. ``refuse`` (lower-cased
    address -> reason, set by /_mock/refuse) makes those rows end 失敗 and changes nothing for them."""
    itype = settings["import_type"]
    overwrite = settings.get("is_overwrite", "0") == "1"
    blank_clears = settings.get("overwrite_type", "1") == "2"
    target = target_of(settings)
    members = acc.targets(target[0])[target[1]] if target else None
    email_at = header.index(EMAIL_LABEL)
    seen: set[str] = set()
    out: list[Result] = []

    def fields_of(row: list[str], email: str) -> dict[str, str]:
        values = dict(zip(header, row))
        values[EMAIL_LABEL] = email
        return values

    def update(key: str, row: list[str]) -> None:
        cust = acc.customers[key]
        for label, value in zip(header, row):
            if label == EMAIL_LABEL:
                continue
            if value != "" or blank_clears:
                cust[label] = value

    for row in rows:
        if len(row) != len(header):
            out.append((FAILURE, f"{R_COLUMNS}（見出し {len(header)} 列、この行 {len(row)} 列）", row))
            continue
        email = row[email_at].strip()
        if not email:
            out.append((FAILURE, R_EMPTY, row))
            continue
        if not EMAIL_RE.match(email):
            out.append((FAILURE, R_FORMAT, row))
            continue
        key = email.lower()
        if refuse and key in refuse:
            out.append((FAILURE, refuse[key], row))
            continue
        if key in seen:
            out.append((OTHER, R_DUPLICATE, row))
            continue
        seen.add(key)
        exists = key in acc.customers

        if itype == "0":
            if not exists:
                acc.customers[key] = fields_of(row, email)
                if members is not None:
                    members[key] = "deliverable"
                out.append((SUCCESS, "", row))
            elif not overwrite:
                out.append((OTHER, R_EXISTS, row))
            else:
                update(key, row)
                state = members.get(key) if members is not None else None
                if state == "stopped":
                    out.append((STOPPED, R_STOPPED, row))
                elif state == "prohibited":
                    out.append((STOPPED, R_PROHIBITED, row))
                else:
                    if members is not None:
                        members[key] = "deliverable"
                    out.append((SUCCESS, "", row))
        elif itype == "1":
            if not exists:
                out.append((FAILURE, R_UNKNOWN, row))
            elif members is not None:
                if key in members:
                    del members[key]
                    out.append((SUCCESS, "", row))
                else:
                    out.append((FAILURE, R_NOT_MEMBER, row))
            else:
                del acc.customers[key]  # from the whole database, history (states) included
                for table in (*acc.groups.values(), *acc.plans.values()):
                    table.pop(key, None)
                out.append((SUCCESS, "", row))
        else:  # 2 stop, 3 prohibit, 5 deliverable: need a target
            assert members is not None
            if not exists:
                acc.customers[key] = fields_of(row, email)
            elif itype == "5" and overwrite:
                update(key, row)
            members[key] = STATE_FOR_TYPE[itype]
            out.append((SUCCESS, "", row))
    return out


async def _pause(job: ImportJob, seconds: float) -> None:
    """Wait ``seconds`` or until ``/_mock/advance`` nudges the job, whichever comes first."""
    if seconds > 0 and not job.nudge.is_set():
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(job.nudge.wait(), seconds)
    else:
        await asyncio.sleep(0)
    job.nudge.clear()


async def run_job(state: ServerState, job: ImportJob) -> None:
    """queued -> processing -> completed (or failed), then the rows are applied."""
    delay = float(state.config.processing_delay)
    try:
        await _pause(job, delay)
        job.status = "processing"
        await _pause(job, delay)
        acc = state.accounts.get(job.path)
        if job.fail or acc is None:
            job.status = "failed"
            return
        job.results = process_rows(acc, job.settings, job.header, job.rows, state.faults.refuse)
        job.status = "completed"
    except asyncio.CancelledError:
        raise
    except Exception:  # a bug in the mock: show it, never leave the job hanging
        log.exception("mock import %s failed while processing", job.import_id)
        job.status = "failed"
