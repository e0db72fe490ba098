"""Test controls under ``/_mock/`` — loopback callers only, no token.

POST /_mock/fail-next          {"count":1, "status":500, "retry_after":S?, "code":C?, "target":"import"|"any"}
POST /_mock/delay              {"seconds":S, "when":"before_response"|"before_body", "count":1}
POST /_mock/reset-mid-body     {"count":1}     read part of the body, then abort the TCP connection
POST /_mock/maintenance        {"on":true}     every API call answers 200 text/html
POST /_mock/no-status-endpoint {"on":true}     status and result.csv answer 404
POST /_mock/fail-processing    {"count":1}     the next accepted imports end "failed"
POST /_mock/advance            {"import_id":X} move a job on one step (queued->processing->done) now
POST /_mock/refuse             {"addresses":[...], "reason":R?}  rows with these addresses end 失敗 (R, or
                               a default reason) until reset; {"addresses":[]} clears
POST /_mock/accounts/{PATH}/quota {"used":N}   set today's used quota
GET  /_mock/requests           {"requests":[...]} received API calls, token shown as "***"
GET  /_mock/accounts/{PATH}    customers, group/plan states, quota, imports
POST /_mock/reset              back to the configured start (state, faults, log)
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from haihai_tui.mock.errors import code_for_status, json_ok
from haihai_tui.mock.routes import state_of
from haihai_tui.mock.state import FailRule

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ControlError(Exception):
    pass


def _loopback_only(handler: Handler) -> Handler:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            ok = request.remote is not None and ipaddress.ip_address(request.remote).is_loopback
        except ValueError:
            ok = False
        if not ok:
            return json_ok({"ok": False, "error": "test controls answer loopback callers only"}, status=403)
        try:
            return await handler(request)
        except ControlError as exc:
            return json_ok({"ok": False, "error": str(exc)}, status=400)

    return wrapped


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ControlError(f"body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ControlError("body must be a JSON object")
    return data


def _int(data: dict[str, Any], key: str, default: int | None, low: int = 0) -> int | None:
    value = data.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ControlError(f"{key} must be a whole number >= {low}")
    return value


def _on(data: dict[str, Any]) -> bool:
    value = data.get("on", True)
    if not isinstance(value, bool):
        raise ControlError("on must be true or false")
    return value


async def fail_next(request: web.Request) -> web.StreamResponse:
    data = await _body(request)
    count = _int(data, "count", 1) or 0
    status = _int(data, "status", 500, low=100) or 500
    retry_after = _int(data, "retry_after", None)
    target = data.get("target", "import")
    if target not in ("import", "any"):
        raise ControlError('target must be "import" or "any"')
    code = data.get("code") or code_for_status(status)
    faults = state_of(request).faults
    for _ in range(count):
        faults.fail_next.append(FailRule(status, str(code), retry_after, target))
    return json_ok({"ok": True, "pending": len(faults.fail_next)})


async def delay(request: web.Request) -> web.StreamResponse:
    data = await _body(request)
    seconds = data.get("seconds", 0)
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
        raise ControlError("seconds must be a number >= 0")
    when = data.get("when", "before_response")
    if when not in ("before_response", "before_body"):
        raise ControlError('when must be "before_response" or "before_body"')
    faults = state_of(request).faults
    faults.delay_seconds, faults.delay_when = float(seconds), when
    faults.delay_count = (_int(data, "count", 1) or 0) if seconds else 0
    return json_ok({"ok": True})


async def reset_mid_body(request: web.Request) -> web.StreamResponse:
    data = await _body(request)
    state_of(request).faults.reset_mid_body = _int(data, "count", 1) or 0
    return json_ok({"ok": True})


async def maintenance(request: web.Request) -> web.StreamResponse:
    state_of(request).faults.maintenance = _on(await _body(request))
    return json_ok({"ok": True})


async def no_status_endpoint(request: web.Request) -> web.StreamResponse:
    state_of(request).faults.no_status = _on(await _body(request))
    return json_ok({"ok": True})


async def fail_processing(request: web.Request) -> web.StreamResponse:
    state_of(request).faults.fail_processing = _int(await _body(request), "count", 1) or 0
    return json_ok({"ok": True})


async def refuse(request: web.Request) -> web.StreamResponse:
    data = await _body(request)
    addresses = data.get("addresses", [])
    reason = data.get("reason", "このメールアドレスは受信を拒否しています")
    if not isinstance(addresses, list) or not all(isinstance(a, str) for a in addresses):
        raise ControlError("addresses must be a list of strings")
    if not isinstance(reason, str) or not reason:
        raise ControlError("reason must be a non-empty string")
    table = state_of(request).faults.refuse
    if not addresses:
        table.clear()
    table.update({a.strip().lower(): reason for a in addresses})
    return json_ok({"ok": True, "refused": len(table)})


async def advance(request: web.Request) -> web.StreamResponse:
    data = await _body(request)
    job = state_of(request).jobs.get(str(data.get("import_id")))
    if job is None:
        raise ControlError(f"no import {data.get('import_id')!r}")
    job.nudge.set()
    return json_ok({"ok": True, "status": job.status})


async def set_quota(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    acc = state.accounts.get(request.match_info["path"])
    if acc is None:
        raise web.HTTPNotFound()
    used = _int(await _body(request), "used", 0) or 0
    acc.quota_status(state.config.quota_for(acc.account), state.clock())  # roll the day over first
    acc.quota_used = used
    return json_ok({"ok": True, "used": used})


async def requests_log(request: web.Request) -> web.StreamResponse:
    return json_ok({"requests": list(state_of(request).requests)})


async def account(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    acc = state.accounts.get(request.match_info["path"])
    if acc is None:
        raise web.HTTPNotFound()
    snap = acc.snapshot()
    snap["imports"] = [
        {"import_id": j.import_id, "status": j.status, "counts": j.counts()}
        for j in state.jobs.values()
        if j.path == acc.account.path
    ]
    return json_ok(snap)


async def reset(request: web.Request) -> web.StreamResponse:
    state_of(request).reset()
    return json_ok({"ok": True})


def add_control_routes(app: web.Application) -> None:
    post = {
        "fail-next": fail_next,
        "delay": delay,
        "reset-mid-body": reset_mid_body,
        "maintenance": maintenance,
        "no-status-endpoint": no_status_endpoint,
        "fail-processing": fail_processing,
        "advance": advance,
        "refuse": refuse,
        "reset": reset,
    }
    for name, handler in post.items():
        app.router.add_post(f"/_mock/{name}", _loopback_only(handler))
    app.router.add_get("/_mock/requests", _loopback_only(requests_log))
    app.router.add_get("/_mock/accounts/{path}", _loopback_only(account))
    app.router.add_post("/_mock/accounts/{path}/quota", _loopback_only(set_quota))
