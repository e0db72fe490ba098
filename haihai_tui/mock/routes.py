"""The HaiHai API routes: the import POST and the mock-only status / result.csv endpoints.

Order of checks for the import: faults (reset-mid-body, delay before the body, maintenance,
fail-next) -> 404 PATH -> 403 IP -> 401 token -> 400/413 form -> 415 encoding -> 422 settings ->
422/413 CSV -> 429 quota -> accepted (quota used, processing starts) -> delay before the response.
Nothing before "accepted" touches customers or quota.
"""

from __future__ import annotations

import asyncio
import csv
import hmac
import io
import ipaddress
import itertools
import logging
from typing import Any

from aiohttp import web

from haihai_tui.core.secret import is_secret_header
from haihai_tui.core.text import one_line
from haihai_tui.mock.config import MockAccount
from haihai_tui.mock.errors import ApiError, json_ok
from haihai_tui.mock.processing import run_job
from haihai_tui.mock.state import ImportJob, ServerState, seconds_until_jst_midnight
from haihai_tui.mock.upload import decode_csv, read_upload
from haihai_tui.mock.validation import parse_csv, validate_settings

log = logging.getLogger("haihai_tui.mock")

STATE: web.AppKey[ServerState] = web.AppKey("haihai_mock_state", ServerState)
REDACT = "***"
MAINTENANCE_HTML = (
    '<!DOCTYPE html><html lang="ja"><head><meta charset="utf-8"><title>メンテナンス中'
    "</title></head><body><h1>ただいまメンテナンス中です</h1><p>HaiHai Mail is under "
    "maintenance. Please try again later.</p></body></html>"
)
_record_ids = itertools.count(1)


def state_of(request: web.Request) -> ServerState:
    return request.app[STATE]


def new_record(request: web.Request, state: ServerState) -> dict[str, Any]:
    """A /_mock/requests entry; the token header (and any credential header) is shown as ``***``."""
    token = state.config.token_header.lower()
    headers = {k: (REDACT if is_secret_header(k) or k.lower() == token else v) for k, v in request.headers.items()}
    entry: dict[str, Any] = {
        "id": next(_record_ids),
        "time": state.clock().isoformat(),
        "method": request.method,
        "path": request.path,
        "query": request.query_string,
        "remote": request.remote,
        "headers": headers,
        "settings": None,
        "settings_text": None,
        "csv": None,
        "status": None,
        "code": None,
    }
    state.log_request(entry)
    return entry


def finish(record: dict[str, Any], resp: web.StreamResponse, code: str | None = None) -> web.StreamResponse:
    record["status"] = resp.status
    record["code"] = code
    return resp


async def drain(request: web.Request) -> None:
    async for _chunk in request.content.iter_chunked(64 * 1024):
        pass


def ip_allowed(remote: str | None, allow: list[str]) -> bool:
    if not remote:
        return False
    try:
        addr = ipaddress.ip_address(remote)
    except ValueError:
        return False
    mapped = getattr(addr, "ipv4_mapped", None)
    candidates = [addr] + ([mapped] if mapped else [])
    for item in allow:
        try:
            net = ipaddress.ip_network(item, strict=False)
        except ValueError:
            continue
        if any(c.version == net.version and c in net for c in candidates):
            return True
    return False


def authenticate(request: web.Request, state: ServerState, path: str) -> MockAccount:
    """404 unknown PATH, 403 caller not on the allow-list, 401 token missing or wrong."""
    acc = state.config.account(path)
    if acc is None:
        raise ApiError(404, "NOT_FOUND", f"no HaiHai account at /{path}/; check the PATH part of the URL")
    if not ip_allowed(request.remote, acc.ip_allow):
        raise ApiError(
            403,
            "IP_NOT_ALLOWED",
            f"the caller address {request.remote} is not on this account's "
            "API IP allow-list; add it in HaiHai's API settings",
        )
    header = state.config.token_header
    given = request.headers.get(header)
    if not given:
        raise ApiError(401, "INVALID_TOKEN", f"the {header} header is missing", header)
    if not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), acc.token.encode("utf-8")):
        raise ApiError(
            401, "INVALID_TOKEN", "the API token is not valid for this account (was it regenerated or deleted?)", header
        )
    return acc


async def faults_before(
    request: web.Request, state: ServerState, is_import: bool
) -> tuple[web.StreamResponse, str] | None:
    """Maintenance page and fail-next; the request body is read first, as a real server would."""
    if state.faults.maintenance:
        await drain(request)
        return web.Response(status=200, text=MAINTENANCE_HTML, content_type="text/html", charset="utf-8"), "MAINTENANCE"
    rule = state.take_fail_rule(is_import)
    if rule is not None:
        await drain(request)
        err = ApiError(rule.status, rule.code, f"simulated server fault (HTTP {rule.status})")
        if rule.retry_after is not None:
            err.headers["Retry-After"] = str(rule.retry_after)
        return err.response(), rule.code
    return None


async def import_handler(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    record = new_record(request, state)
    if state.take_reset_mid_body():
        want = max(1, min(64 * 1024, (request.content_length or 2048) // 2))
        got = await request.content.read(want)
        record["status"], record["code"] = None, f"ABORTED after {len(got)} body bytes"
        log.info("mock: aborting %s %s mid-body (fault control)", one_line(request.method), one_line(request.path))
        assert request.transport is not None
        request.transport.abort()
        return web.Response(status=500)  # never reaches the client: the connection is gone
    delay = state.take_delay("before_body")
    if delay:
        await asyncio.sleep(delay)
    early = await faults_before(request, state, is_import=True)
    if early is not None:
        return finish(record, *early)
    try:
        resp = await _accept_import(request, state, record)
        return finish(record, resp)
    except ApiError as err:
        await drain(request)
        return finish(record, err.response(), err.code)


async def _accept_import(request: web.Request, state: ServerState, record: dict[str, Any]) -> web.Response:
    cfg = state.config
    acc = authenticate(request, state, request.match_info["path"])
    upload = await read_upload(request, cfg.json_part, cfg.csv_part, cfg.max_bytes_for(acc), record)
    decode_csv(upload, cfg.csv_part, acc.multilang)
    warnings: list[str] = []
    settings = validate_settings(upload.settings, acc, warnings)
    header, rows = parse_csv(upload.text, acc, cfg.csv_part, cfg.max_rows_for(acc))

    acc_state = state.accounts[acc.path]
    limit = cfg.quota_for(acc)
    now = state.clock()
    used, remaining = acc_state.quota_status(limit, now)
    if remaining <= 0:
        wait = seconds_until_jst_midnight(now)
        raise ApiError(
            429,
            "DAILY_LIMIT_EXCEEDED",
            f"the daily limit of {limit} imports is used up; it resets at 00:00 JST (in {wait} s)",
            headers={"Retry-After": str(wait)},
        )
    acc_state.quota_used += 1
    job = ImportJob(state.next_import_id(), acc.path, settings, header, rows, fail=state.take_fail_processing())
    state.jobs[job.import_id] = job
    job.task = asyncio.get_running_loop().create_task(run_job(state, job))
    log.info(
        "mock: accepted import %s for /%s/ (%d rows, import_type %s)",
        job.import_id,
        acc.path,
        len(rows),
        one_line(settings["import_type"]),
    )

    delay = state.take_delay("before_response")
    if delay:
        await asyncio.sleep(delay)
    return json_ok(
        {
            "result": "success",
            "import_id": job.import_id,
            "rows_received": len(rows),
            "warnings": warnings,
            "quota": {"limit": limit, "used": used + 1, "remaining": max(0, limit - used - 1)},
        }
    )


async def _find_job(request: web.Request, state: ServerState) -> ImportJob:
    if not state.config.offer_status or state.faults.no_status:
        raise ApiError(404, "NOT_FOUND", "not found")
    acc = authenticate(request, state, request.match_info["path"])
    job = state.jobs.get(request.match_info["import_id"])
    if job is None or job.path != acc.path:
        raise ApiError(404, "NOT_FOUND", f"no import {request.match_info['import_id']!r} on this account")
    return job


async def _job_endpoint(request: web.Request, answer, *, ready: bool = False) -> web.StreamResponse:
    """The mock-only endpoints of one import: faults first, then the job (``ready``: finished), then ``answer(job)``."""
    state = state_of(request)
    record = new_record(request, state)
    early = await faults_before(request, state, is_import=False)
    if early is not None:
        return finish(record, *early)
    try:
        job = await _find_job(request, state)
        if ready and job.status in ("queued", "processing"):
            raise ApiError(409, "NOT_READY", f"import {job.import_id} is still {job.status}; try again later")
    except ApiError as err:
        return finish(record, err.response(), err.code)
    return finish(record, answer(job))


async def status_handler(request: web.Request) -> web.StreamResponse:
    return await _job_endpoint(
        request,
        lambda job: json_ok(
            {"result": "success", "import_id": job.import_id, "status": job.status, "counts": job.counts()}
        ),
    )


async def result_csv_handler(request: web.Request) -> web.StreamResponse:
    return await _job_endpoint(request, result_csv_response, ready=True)


def result_csv_response(job: ImportJob) -> web.Response:
    """Category, reason, then the row as sent — Windows-31J, or UTF-8 when a cell does not fit."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(["処理結果", "理由", *job.header])
    for category, reason, row in job.results:
        writer.writerow([category, reason, *row])
    text = buf.getvalue()
    try:
        body, charset = text.encode("cp932"), "Shift_JIS"
    except UnicodeEncodeError:
        body, charset = text.encode("utf-8"), "UTF-8"
    return web.Response(
        body=body,
        headers={
            "Content-Type": f"text/csv; charset={charset}",
            "Content-Disposition": f'attachment; filename="result_{job.import_id}.csv"',
        },
    )


def add_api_routes(app: web.Application) -> None:
    base = "/{path:[^/_][^/]*}/api/v1/custcsv/import"
    app.router.add_post(base, import_handler)
    app.router.add_get(base + "/{import_id}", status_handler)
    app.router.add_get(base + "/{import_id}/result.csv", result_csv_handler)
