"""The mock-only status and result endpoints (real HaiHai offers neither; a 404 is not an error).

GET {url}/{import_id} is polled for the four row categories; GET {url}/{import_id}/result.csv is the
per-row result file.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import quote

import httpx

from .answers import ClientError, _cause, _client, _json, _Scrub, _sink
from .events import EventSink, LogLine, Stage, StageChanged, ignore
from .multipart import ImportRequest, check_url

__all__ = ["StatusResult", "fetch_result_csv", "poll_status"]


@dataclass
class StatusResult:
    """The mock-only status endpoint's answer: status plus HaiHai's four row categories."""
    status: str                 # queued | processing | completed | failed (as the server says) | unknown
    success: int | None = None  # 成功
    failure: int | None = None  # 失敗
    other: int | None = None    # その他
    stopped: int | None = None  # 配信停止
    finished: bool = False      # completed or failed was seen (False: timed out, last seen values)
    error: str = ""


def _sub_url(req: ImportRequest, import_id: str, tail: str = "") -> str:
    return f"{req.url.rstrip('/')}/{quote(str(import_id), safe='')}{tail}"


_COUNT_KEYS = {"success": ("success", "succeeded", "成功"), "failure": ("failure", "failed", "失敗"),
               "other": ("other", "others", "その他"), "stopped": ("stopped", "配信停止")}


def _status_of(data: dict) -> StatusResult:
    pools = [data] + [data[k] for k in ("counts", "results", "result") if isinstance(data.get(k), dict)]
    counts: dict[str, int | None] = {}
    for name, keys in _COUNT_KEYS.items():
        counts[name] = next((int(p[k]) for p in reversed(pools) for k in keys
                             if isinstance(p.get(k), (int, str)) and str(p.get(k)).isdigit()), None)
    status = str(data.get("status") or "unknown")
    return StatusResult(status, **counts, finished=status in ("completed", "failed"))


async def poll_status(req: ImportRequest, import_id: str, *, on_event: EventSink = ignore,
                      interval: float = 1.0, timeout: float = 60.0,
                      transport: httpx.AsyncBaseTransport | None = None) -> StatusResult | None:
    """Poll GET {url}/{import_id} until completed/failed or timeout. None when the server does not
    offer the endpoint (404): real HaiHai does not, and that is not an error."""
    scrub = _Scrub(req)
    emit = _sink(on_event, scrub)
    if (problem := check_url(req.url)) is not None:
        return StatusResult("unknown", error=f"The integration URL is not usable: {problem}.")
    emit(StageChanged(Stage.POLL, f"asking HaiHai for the status of import {import_id}"))
    with scrub:
        return await _poll(req, import_id, emit, scrub, interval, timeout, transport)


async def _poll(req: ImportRequest, import_id: str, emit: EventSink, scrub: _Scrub, interval: float,
                timeout: float, transport: httpx.AsyncBaseTransport | None) -> StatusResult | None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: StatusResult | None = None
    error = ""
    async with _client(req, transport) as client:
        while True:
            try:
                resp = await client.get(_sub_url(req, import_id), headers=req._wire_headers(None))
            except httpx.HTTPError as e:
                error = scrub(f"status request failed ({_cause(e)})")
            else:
                if resp.status_code == 404:
                    return None
                data = _json(resp.content) if resp.is_success else None
                if data is not None:
                    now = _status_of(data)
                    if last is None or now.status != last.status:
                        emit(LogLine(f"import {import_id}: {now.status}"))
                    last, error = now, ""
                    if now.finished:
                        return now
                else:
                    error = f"status request answered HTTP {resp.status_code}"
                    if resp.status_code in (401, 403):
                        break
            if loop.time() + interval > deadline:
                break
            await asyncio.sleep(interval)
    if last is None:
        return StatusResult("unknown", error=error or f"no status within {timeout:g} s")
    last.error = error or f"still {last.status} after {timeout:g} s"
    return last


async def fetch_result_csv(req: ImportRequest, import_id: str,
                           transport: httpx.AsyncBaseTransport | None = None) -> bytes | None:
    """GET {url}/{import_id}/result.csv: the per-row result file; None when not offered (404)."""
    scrub = _Scrub(req)
    if (problem := check_url(req.url)) is not None:
        raise ClientError(f"The integration URL is not usable: {problem}.")
    try:
        with scrub:
            async with _client(req, transport) as client:
                resp = await client.get(_sub_url(req, import_id, "/result.csv"), headers=req._wire_headers(None))
    except httpx.HTTPError as e:
        raise ClientError(scrub(f"Could not fetch the result file ({_cause(e)}).")) from None
    if resp.status_code == 404:
        return None
    if not resp.is_success:
        raise ClientError(f"HaiHai answered HTTP {resp.status_code} for the result file.")
    return resp.content
