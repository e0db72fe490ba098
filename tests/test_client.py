"""The HaiHai import client against small raw-asyncio HTTP servers on 127.0.0.1 (no mock package)."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import socket
import ssl
import subprocess
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path

import httpx
import pytest

from corefixtures import CANARY  # the one canary token of the suite
from haihai_tui.core.events import BytesProgress, LogLine, Outcome, ServerResponse, Stage, StageChanged
from haihai_tui.core.haihai.answers import ClientError, parse_retry_after, server_int
from haihai_tui.core.haihai.client import send_import
from haihai_tui.core.haihai.multipart import ImportRequest, check_url
from haihai_tui.core.haihai.status import fetch_result_csv, poll_status
from haihai_tui.core.secret import Secret
from haihai_tui.core.settings.model import Timeouts

PARAMS = {
    "login_id": "ops01",
    "import_type": "0",
    "is_overwrite": "1",
    "overwrite_type": "1",
    "gid": "12",
    "report_option": "2",
}
CSV_TEXT = "メールアドレス,会社名,お名前\r\n" + "".join(
    f"user{i}@example.co.jp,髙﨑商事㈱ 第{i}営業部,﨑山 ①郎～\r\n" for i in range(40)
)
SUCCESS = {
    "result": "success",
    "import_id": "20250401-000017",
    "rows_received": 40,
    "warnings": [],
    "quota": {"limit": 240, "used": 8, "remaining": 232},
}


# --- a tiny HTTP/1.1 server that records the raw request and answers by script ------------------


@dataclass
class Raw:
    head: bytes
    headers: dict[str, str]
    body: bytes = b""
    complete: bool = False

    @property
    def request_line(self) -> str:
        return self.head.split(b"\r\n", 1)[0].decode()


Behaviour = Callable[["Server", asyncio.StreamReader, asyncio.StreamWriter, Raw], Awaitable[bool]]


@dataclass
class Server:
    script: list[Behaviour]
    requests: list[Raw] = field(default_factory=list)
    connections: int = 0
    port: int = 0
    tasks: set = field(default_factory=set)

    def url(self, path: str = "/api_sample/api/v1/custcsv/import", scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.tasks.add(asyncio.current_task())
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                headers = {}
                for line in head.decode("latin-1").split("\r\n")[1:]:
                    if ":" in line:
                        k, _, v = line.partition(":")
                        headers[k.strip().lower()] = v.strip()
                raw = Raw(head, headers)
                behaviour = self.script[min(len(self.requests), len(self.script) - 1)]
                self.requests.append(raw)
                if not await behaviour(self, reader, writer, raw):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def read_body(reader: asyncio.StreamReader, raw: Raw) -> None:
    raw.body = await reader.readexactly(int(raw.headers["content-length"]))
    raw.complete = True


async def write_answer(
    writer, status: int, body: bytes | str | dict, ctype: str = "application/json", extra: dict | None = None
) -> None:
    if isinstance(body, dict):
        body = json.dumps(body, ensure_ascii=False)
    if isinstance(body, str):
        body = body.encode("utf-8")
    lines = [f"HTTP/1.1 {status} X", f"Content-Type: {ctype}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (extra or {}).items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    await writer.drain()


def answer(
    status: int,
    body: bytes | str | dict = b"",
    ctype: str = "application/json",
    extra: dict | None = None,
    read: bool = True,
) -> Behaviour:
    async def run(server, reader, writer, raw):
        if read:
            await read_body(reader, raw)
        await write_answer(writer, status, body, ctype, extra)
        return True

    return run


def error_body(code: str, message: str = "", field_name=None) -> dict:
    return {"result": "error", "error": {"code": code, "message": message, "field": field_name}}


async def hang_after_body(server, reader, writer, raw) -> bool:
    await read_body(reader, raw)
    await asyncio.Event().wait()
    return False


def cut_after(n: int) -> Behaviour:
    async def run(server, reader, writer, raw):
        raw.body = await reader.readexactly(n)
        writer.transport.abort()
        return False

    return run


@pytest.fixture(autouse=True)
def no_proxies(monkeypatch):
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def serve():
    started: list[tuple[asyncio.AbstractServer, Server]] = []

    async def start(*script: Behaviour, ssl_ctx: ssl.SSLContext | None = None) -> Server:
        srv = Server(list(script))
        s = await asyncio.start_server(srv.handle, "127.0.0.1", 0, ssl=ssl_ctx)
        srv.port = s.sockets[0].getsockname()[1]
        started.append((s, srv))
        return srv

    yield start
    for s, srv in started:
        s.close()
        for t in list(srv.tasks):
            t.cancel()
        await asyncio.gather(*srv.tasks, return_exceptions=True)


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    p = tmp_path / "customer_list.csv"
    p.write_bytes(CSV_TEXT.encode("cp932"))
    return p


def make_req(url: str, csv_path: Path, **kw) -> ImportRequest:
    kw.setdefault("timeouts", Timeouts(connect=2, write=5, read=5, pool=2))
    return ImportRequest(
        url=url,
        headers={"X-HM-apitoken": Secret(CANARY, "environment HAIHAI_API_TOKEN")},
        params=dict(PARAMS),
        csv_path=csv_path,
        **kw,
    )


def parse_multipart(raw: Raw) -> list[tuple[dict[str, str], bytes]]:
    ctype = raw.headers["content-type"]
    assert ctype.startswith("multipart/form-data; boundary=")
    boundary = ctype.split("boundary=", 1)[1].encode()
    pieces = raw.body.split(b"--" + boundary)
    assert pieces[0] == b"" and pieces[-1] == b"--\r\n"
    parts = []
    for piece in pieces[1:-1]:
        assert piece.startswith(b"\r\n") and piece.endswith(b"\r\n")
        head, _, content = piece[2:-2].partition(b"\r\n\r\n")
        hdrs = {}
        for line in head.decode("utf-8").split("\r\n"):
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        parts.append((hdrs, content))
    return parts


# --- the request on the wire ------------------------------------------------------------------


async def test_request_on_the_wire_and_success(serve, csv_file):
    srv = await serve(answer(200, SUCCESS))
    events = []
    r = await send_import(make_req(srv.url(), csv_file), on_event=events.append)
    assert r.outcome is Outcome.DONE, r.message
    assert (r.http_status, r.import_id, r.rows_received, r.attempts) == (200, "20250401-000017", 40, 1)
    assert r.quota == SUCCESS["quota"] and r.warnings == [] and r.code is None
    assert len(srv.requests) == 1
    raw = srv.requests[0]
    assert raw.request_line == "POST /api_sample/api/v1/custcsv/import HTTP/1.1"
    assert f"X-HM-apitoken: {CANARY}\r\n".encode() in raw.head  # the token does go on the wire
    assert raw.headers["accept"] == "application/json"
    assert "transfer-encoding" not in raw.headers
    assert int(raw.headers["content-length"]) == len(raw.body) == r.bytes_sent
    (h1, json_part), (h2, csv_part) = parse_multipart(raw)
    assert h1["content-disposition"] == 'form-data; name="import_settings"'
    assert h1["content-type"] == "application/json; charset=UTF-8"
    assert json_part == json.dumps(PARAMS, ensure_ascii=False).encode("utf-8")
    assert list(json.loads(json_part)) == list(PARAMS)  # keys in order
    assert h2["content-disposition"] == 'form-data; name="customer_list"; filename="customer_list.csv"'
    assert h2["content-type"] == "text/csv; charset=Shift_JIS"
    assert csv_part == csv_file.read_bytes()  # byte-identical cp932
    stages = [e.stage for e in events if isinstance(e, StageChanged)]
    assert stages == [Stage.SEND, Stage.RESPONSE]
    progress = [e for e in events if isinstance(e, BytesProgress)]
    assert progress[0].sent == 0 and progress[-1].sent == progress[-1].total == len(raw.body)
    assert [p.sent for p in progress] == sorted(p.sent for p in progress)
    [resp] = [e for e in events if isinstance(e, ServerResponse)]
    assert resp.status == 200 and "success" in resp.summary and "20250401-000017" in resp.summary


async def test_utf8_part_names_and_parts_numbering(serve, tmp_path):
    p = tmp_path / "u.csv"
    p.write_bytes("メールアドレス\r\nü@example.com\r\n".encode())
    srv = await serve(answer(200, SUCCESS))
    events = []
    req = make_req(srv.url(), p, csv_encoding="utf-8", json_name="settings", csv_name="list", csv_filename="list.csv")
    r = await send_import(req, on_event=events.append, part=2, parts=3)
    assert r.outcome is Outcome.DONE
    (h1, _), (h2, csv_part) = parse_multipart(srv.requests[0])
    assert h1["content-disposition"] == 'form-data; name="settings"'
    assert h2["content-disposition"] == 'form-data; name="list"; filename="list.csv"'
    assert h2["content-type"] == "text/csv; charset=UTF-8" and csv_part == p.read_bytes()
    assert {(e.part, e.parts) for e in events if isinstance(e, BytesProgress)} == {(2, 3)}


async def test_empty_csv_file_still_well_formed(serve, tmp_path):
    p = tmp_path / "empty.csv"
    p.write_bytes(b"")
    srv = await serve(answer(422, error_body("EMPTY_FILE")))
    r = await send_import(make_req(srv.url(), p))
    assert r.outcome is Outcome.ERROR and r.code == "EMPTY_FILE"
    [_, (_, content)] = parse_multipart(srv.requests[0])
    assert content == b""


# --- answers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status,code,words",
    [
        (400, "MISSING_PART", "json_name"),
        (401, "INVALID_TOKEN", "regenerated or deleted"),
        (403, "IP_NOT_ALLOWED", "allow-list"),
        (404, "NOT_FOUND", "HOST and PATH"),
        (413, "TOO_MANY_ROWS", "limit"),
        (415, "UNSUPPORTED_ENCODING", "Shift_JIS"),
        (422, "UNKNOWN_GROUP", "no quota was used"),
    ],
)
async def test_4xx_is_error_with_advice(serve, csv_file, status, code, words):
    srv = await serve(answer(status, error_body(code, "group 99 does not exist", "gid")))
    r = await send_import(make_req(srv.url(), csv_file))
    assert r.outcome is Outcome.ERROR and r.http_status == status and r.code == code
    assert words in r.message and "group 99 does not exist" in r.message
    assert len(srv.requests) == 1 and r.attempts == 1


async def test_401_without_json_names_token_source(serve, csv_file):
    srv = await serve(answer(401, "Unauthorized", "text/plain"))
    r = await send_import(make_req(srv.url(), csv_file))
    assert r.code == "INVALID_TOKEN" and "environment HAIHAI_API_TOKEN" in r.message


async def test_2xx_html_is_maintenance_page(serve, csv_file):
    page = "<html><head><title>メンテナンス中</title></head><body>ただいまメンテナンス中です</body></html>"
    srv = await serve(answer(200, page, "text/html; charset=utf-8"))
    r = await send_import(make_req(srv.url(), csv_file))
    assert r.outcome is Outcome.ERROR and r.code == "MAINTENANCE_PAGE"
    assert "maintenance" in r.message and "メンテナンス中" in r.body_excerpt and len(r.body_excerpt) <= 500


@pytest.mark.parametrize(
    "body,ctype,code",
    [
        ("OK", "text/plain", "NOT_JSON"),
        ({"result": "error", "error": {"code": "INTERNAL_QUEUE_FULL"}}, "application/json", "INTERNAL_QUEUE_FULL"),
        ({"import_id": "x"}, "application/json", "NOT_SUCCESS"),
    ],
)
async def test_2xx_without_success_is_error(serve, csv_file, body, ctype, code):
    srv = await serve(answer(200, body, ctype))
    r = await send_import(make_req(srv.url(), csv_file))
    assert r.outcome is Outcome.ERROR and r.code == code and "一括登録・削除の処理結果" in r.message


async def test_redirect_is_error(serve, csv_file):
    srv = await serve(answer(302, "", extra={"Location": "https://example.com/login"}))
    r = await send_import(make_req(srv.url(), csv_file))
    assert r.outcome is Outcome.ERROR and r.code == "REDIRECTED" and len(srv.requests) == 1


async def test_500_after_body_is_unknown_and_not_resent(serve, csv_file):
    srv = await serve(answer(500, error_body("INTERNAL_ERROR", "db down")))
    r = await send_import(make_req(srv.url(), csv_file), max_tries=3)
    assert r.outcome is Outcome.UNKNOWN and r.code == "INTERNAL_ERROR" and r.http_status == 500
    assert "NOT re-sent" in r.message and "一括登録・削除の処理結果" in r.message
    assert len(srv.requests) == 1 and srv.requests[0].complete and r.attempts == 1


async def test_no_answer_after_body_is_unknown(serve, csv_file):
    srv = await serve(hang_after_body)
    req = make_req(srv.url(), csv_file, timeouts=Timeouts(connect=2, write=5, read=0.3, pool=2))
    r = await send_import(req, max_tries=3)
    assert r.outcome is Outcome.UNKNOWN and r.code == "TIMEOUT_AFTER_SEND"
    assert "NOT re-sent" in r.message
    assert len(srv.requests) == 1 and srv.connections == 1


async def test_connection_cut_mid_body_is_unknown_not_resent(serve, tmp_path):
    p = tmp_path / "big.csv"
    p.write_bytes(b"a@example.com,x\r\n" * 200_000)  # 3.4 MB
    srv = await serve(cut_after(100_000))
    events = []
    r = await send_import(make_req(srv.url(), p), max_tries=3, on_event=events.append)
    assert r.outcome is Outcome.UNKNOWN and r.code == "CONNECTION_LOST", r.message
    assert "NOT re-sent" in r.message
    assert len(srv.requests) == 1 and srv.connections == 1 and r.attempts == 1
    assert not any(isinstance(e, LogLine) and "trying again" in e.text for e in events)


async def test_connect_refused_retried_then_connect_failed(csv_file):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    events = []
    r = await send_import(
        make_req(f"http://127.0.0.1:{port}/p/api/v1/custcsv/import", csv_file),
        on_event=events.append,
        max_tries=3,
        backoff=0.01,
    )
    assert r.outcome is Outcome.ERROR and r.code == "CONNECT_FAILED" and r.attempts == 3
    assert r.bytes_sent == 0 and "Nothing was sent" in r.message
    retries = [e for e in events if isinstance(e, LogLine) and "trying again" in e.text]
    assert len(retries) == 2 and all(e.level == "warning" for e in retries)


class Scripted(httpx.AsyncBaseTransport):
    """A transport answering by script; each step reads ``read`` bytes of the upload first (None: all of
    it, 0: none), so a test can say exactly how much of the body the "server" had taken."""

    def __init__(self, *steps: tuple[int, dict | bytes, dict, int | None]) -> None:
        self.steps, self.taken = list(steps), []

    async def handle_async_request(self, request):
        status, body, headers, read = self.steps[min(len(self.taken), len(self.steps) - 1)]
        got = b""
        if read != 0:
            async for chunk in request.stream:
                got += chunk
                if read is not None and len(got) >= read:
                    break
        self.taken.append(len(got))
        content = json.dumps(body).encode() if isinstance(body, dict) else body
        return httpx.Response(status, headers={"content-type": "application/json", **headers}, content=content)


BUSY = error_body("MAINTENANCE", "busy")


async def test_503_retry_after_before_body_read_then_success(csv_file):
    t = Scripted((503, BUSY, {"Retry-After": "0"}, 0), (200, SUCCESS, {}, None))
    events = []
    r = await send_import(
        make_req("https://a01.hm-f.jp/p/api/v1/custcsv/import", csv_file), transport=t, on_event=events.append
    )
    total = len(csv_file.read_bytes())
    assert r.outcome is Outcome.DONE and r.attempts == 2
    assert t.taken[0] == 0 and t.taken[1] > total  # first: nothing taken; second: the whole upload
    assert [e for e in events if isinstance(e, LogLine) and "try 2 of 3" in e.text]


async def test_503_retry_after_part_way_through_the_body_is_retried(tmp_path):
    p = tmp_path / "big.csv"
    p.write_bytes(b"a@example.com,x\r\n" * 20_000)
    t = Scripted((503, BUSY, {"Retry-After": "0"}, 50_000), (200, SUCCESS, {}, None))
    r = await send_import(make_req("https://a01.hm-f.jp/p/api/v1/custcsv/import", p), transport=t, chunk_size=16_384)
    assert r.outcome is Outcome.DONE and r.attempts == 2
    assert 50_000 <= t.taken[0] < p.stat().st_size < t.taken[1]


async def test_503_retry_after_after_the_whole_body_is_unknown_and_sent_once(serve, csv_file):
    srv = await serve(
        answer(503, error_body("SERVICE_UNAVAILABLE", "overloaded"), extra={"Retry-After": "1"}), answer(200, SUCCESS)
    )
    events = []
    r = await send_import(make_req(srv.url(), csv_file), on_event=events.append, max_tries=3, backoff=0.01)
    assert r.outcome is Outcome.UNKNOWN and r.code == "SERVICE_UNAVAILABLE" and r.http_status == 503
    assert len(srv.requests) == 1 and srv.requests[0].complete and r.attempts == 1
    assert "NOT re-sent" in r.message and "twice" in r.message and "一括登録・削除の処理結果" in r.message
    assert not [e for e in events if isinstance(e, LogLine) and "trying again" in e.text]


async def test_503_retry_after_when_transport_took_everything_is_unknown(csv_file):
    t = Scripted((503, BUSY, {"Retry-After": "0"}, None), (200, SUCCESS, {}, None))
    r = await send_import(make_req("https://a01.hm-f.jp/p/api/v1/custcsv/import", csv_file), transport=t)
    assert r.outcome is Outcome.UNKNOWN and r.attempts == 1 and len(t.taken) == 1


async def test_500_part_way_through_the_body_is_error_not_retried(tmp_path):
    p = tmp_path / "big.csv"
    p.write_bytes(b"a@example.com,x\r\n" * 20_000)
    t = Scripted((500, error_body("INTERNAL_ERROR"), {}, 20_000), (200, SUCCESS, {}, None))
    r = await send_import(make_req("https://a01.hm-f.jp/p/api/v1/custcsv/import", p), transport=t, chunk_size=16_384)
    assert r.outcome is Outcome.ERROR and r.code == "INTERNAL_ERROR" and r.attempts == 1 and len(t.taken) == 1
    assert "before the whole file was sent" in r.message and "nothing was imported" in r.message


async def test_429_after_the_whole_body_is_retried(serve, csv_file):
    srv = await serve(answer(429, error_body("DAILY_LIMIT_EXCEEDED"), extra={"Retry-After": "0"}), answer(200, SUCCESS))
    r = await send_import(make_req(srv.url(), csv_file))
    assert r.outcome is Outcome.DONE and r.attempts == 2 and len(srv.requests) == 2
    assert all(q.complete for q in srv.requests)


async def test_429_long_retry_after_is_error_without_waiting(serve, csv_file):
    srv = await serve(answer(429, error_body("DAILY_LIMIT_EXCEEDED"), extra={"Retry-After": "3600"}))
    events = []
    r = await send_import(make_req(srv.url(), csv_file), on_event=events.append, max_wait=60)
    assert r.outcome is Outcome.ERROR and r.code == "DAILY_LIMIT_EXCEEDED" and r.retry_after == 3600
    assert "JST" in r.message and "1 h 0 min" in r.message
    assert r.attempts == 1 and len(srv.requests) == 1
    assert not [e for e in events if isinstance(e, LogLine)]


@pytest.mark.parametrize("value", ["inf", "nan", "1e400", "٣", "-5", "99999999999999999999", "x" * 5000])
async def test_429_absurd_retry_after_does_not_raise(serve, csv_file, value):
    srv = await serve(answer(429, error_body("DAILY_LIMIT_EXCEEDED"), extra={"Retry-After": value}))
    r = await send_import(make_req(srv.url(), csv_file), max_wait=60)
    assert r.outcome is Outcome.ERROR and r.code == "DAILY_LIMIT_EXCEEDED" and len(srv.requests) == 1
    assert r.retry_after is None or r.retry_after <= 366 * 24 * 3600


async def test_503_retries_stop_at_max_tries(csv_file):
    t = Scripted((503, b"", {"Retry-After": "0"}, 0))
    r = await send_import(make_req("https://a01.hm-f.jp/p/api/v1/custcsv/import", csv_file), transport=t, max_tries=2)
    assert r.outcome is Outcome.ERROR and r.code == "SERVICE_UNAVAILABLE" and r.attempts == 2
    assert len(t.taken) == 2 and "2 tries" in r.message


def test_parse_retry_after():
    from datetime import datetime

    now = datetime(2025, 4, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120
    assert parse_retry_after("Tue, 01 Apr 2025 12:00:30 GMT", now) == 30
    assert parse_retry_after("Tue, 01 Apr 2025 11:00:00 GMT", now) == 0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
    for bad in ("inf", "nan", "-1", "1e3", "٣", "²", "1_000", "Fri, 31 Dec 99999 23:59:59 GMT"):
        assert parse_retry_after(bad, now) is None, bad
    assert parse_retry_after("999999999999") == 366 * 24 * 3600
    assert parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now) == 366 * 24 * 3600


# --- cancel -----------------------------------------------------------------------------------


async def test_cancel_before_sending(serve, csv_file):
    srv = await serve(answer(200, SUCCESS))
    cancel = asyncio.Event()
    cancel.set()
    r = await send_import(make_req(srv.url(), csv_file), cancel=cancel)
    assert r.outcome is Outcome.CANCELLED and r.bytes_sent == 0 and srv.connections == 0


async def test_cancel_during_upload(serve, tmp_path):
    p = tmp_path / "big.csv"
    p.write_bytes(b"a@example.com,x\r\n" * 1_000_000)  # 17 MB, more than socket buffers hold
    cancel = asyncio.Event()

    async def read_a_bit_then_cancel(server, reader, writer, raw):
        raw.body = await reader.readexactly(200_000)
        cancel.set()
        await asyncio.Event().wait()
        return False

    srv = await serve(read_a_bit_then_cancel)
    r = await send_import(make_req(srv.url(), p), cancel=cancel)
    assert r.outcome is Outcome.CANCELLED and r.code == "CANCELLED_DURING_SEND"
    assert "HaiHai rejects incomplete uploads" in r.message
    assert 0 < r.bytes_sent < p.stat().st_size and len(srv.requests) == 1


async def test_cancel_while_waiting_for_answer_is_unknown(serve, csv_file):
    cancel = asyncio.Event()

    async def read_then_cancel(server, reader, writer, raw):
        await read_body(reader, raw)
        cancel.set()
        await asyncio.Event().wait()
        return False

    srv = await serve(read_then_cancel)
    r = await send_import(make_req(srv.url(), csv_file), cancel=cancel)
    assert r.outcome is Outcome.UNKNOWN and r.code == "CANCELLED_AFTER_SEND"


# --- secrets ----------------------------------------------------------------------------------


async def test_token_never_leaks(serve, csv_file, caplog):
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "haihai_tui"):
        caplog.set_level(logging.DEBUG, logger=name)
    echo = error_body("INVALID_TOKEN", f"token {CANARY} is not known")
    srv = await serve(
        answer(401, echo, extra={"X-Echo": CANARY}),
        answer(200, SUCCESS),
        answer(500, f"trace: X-HM-apitoken={CANARY}", "text/plain"),
        hang_after_body,
    )
    events = []
    results = []
    req = make_req(srv.url(), csv_file, timeouts=Timeouts(connect=2, write=5, read=0.3, pool=2))
    for _ in range(4):
        results.append(await send_import(req, on_event=events.append))
    assert [r.outcome for r in results] == [Outcome.ERROR, Outcome.DONE, Outcome.UNKNOWN, Outcome.UNKNOWN]
    assert all(CANARY.encode() in raw.head for raw in srv.requests)  # it was really sent each time
    assert "********" in results[0].body_excerpt
    texts = [repr(results), repr(events), req.preview(), repr(req), str(req), caplog.text]
    for t in texts:
        assert CANARY not in t
    assert "X-Echo" in caplog.text and "HTTP Request: POST" in caplog.text  # the loggers really ran


async def test_bad_token_value_rejected_before_sending(serve, csv_file):
    srv = await serve(answer(200, SUCCESS))
    req = make_req(srv.url(), csv_file)
    req.headers["X-HM-apitoken"] = Secret(CANARY + "\r\nX-Evil: 1", "secrets.toml")
    r = await send_import(req)
    assert r.outcome is Outcome.ERROR and r.code == "BAD_HEADER" and "secrets.toml" in r.message
    assert CANARY not in repr(r) and srv.connections == 0
    req.headers["X-HM-apitoken"] = Secret("", "environment HAIHAI_API_TOKEN")
    r = await send_import(req)
    assert r.code == "TOKEN_MISSING" and "HAIHAI_API_TOKEN" in r.message and srv.connections == 0


def test_preview_shows_layout_with_token_masked(tmp_path):
    p = tmp_path / "c.csv"
    p.write_bytes(CSV_TEXT.encode("cp932"))
    req = make_req("https://a01.hm-f.jp/api_sample/api/v1/custcsv/import", p)
    text = req.preview()
    assert text.startswith("POST https://a01.hm-f.jp/api_sample/api/v1/custcsv/import\n")
    assert "X-HM-apitoken: ********" in text and CANARY not in text
    assert f"boundary={req.boundary}" in text and f"--{req.boundary}--" in text
    assert json.dumps(PARAMS, ensure_ascii=False) in text
    assert "メールアドレス,会社名,お名前" in text and "user3@example.co.jp,髙﨑商事㈱" in text
    assert "user4@" not in text and "... 36 more lines" in text
    total = req.layout().total
    assert f"Content-Length: {total}" in text and f"body total: {total} bytes" in text


# --- URL rules, proxies, TLS ------------------------------------------------------------------


@pytest.mark.parametrize(
    "url,ok",
    [
        ("https://a01.hm-f.jp/api_sample/api/v1/custcsv/import", True),
        ("http://127.0.0.1:8787/demo/api/v1/custcsv/import", True),
        ("http://127.5.6.7/x", True),
        ("http://[::1]:8787/x", True),
        ("http://localhost:8787/x", True),
        ("http://a01.hm-f.jp/api_sample/api/v1/custcsv/import", False),
        ("http://10.0.0.1/x", False),
        ("ftp://a01.hm-f.jp/x", False),
        ("https://user:pw@a01.hm-f.jp/x", False),
        ("a01.hm-f.jp/api", False),
        ("", False),
    ],
)
def test_check_url(url, ok):
    assert (check_url(url) is None) is ok


async def test_plain_http_to_remote_host_refused_before_connecting(csv_file):
    r = await send_import(make_req("http://a01.hm-f.jp/api_sample/api/v1/custcsv/import", csv_file))
    assert r.outcome is Outcome.ERROR and r.code == "BAD_URL" and r.attempts == 0


async def test_proxy_from_environment_is_used(serve, csv_file, monkeypatch):
    proxy = await serve(answer(200, SUCCESS))
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
    r = await send_import(make_req("http://127.0.0.1:9/p/api/v1/custcsv/import", csv_file))
    assert r.outcome is Outcome.DONE
    assert proxy.requests[0].request_line == "POST http://127.0.0.1:9/p/api/v1/custcsv/import HTTP/1.1"


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            str(d / "key.pem"),
            "-out",
            str(d / "cert.pem"),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return d / "cert.pem", d / "key.pem"


async def test_tls_verified_always_and_ca_bundle(serve, csv_file, self_signed):
    cert, key = self_signed
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    srv = await serve(answer(200, SUCCESS), ssl_ctx=ctx)
    r = await send_import(make_req(srv.url(scheme="https"), csv_file), max_tries=3, backoff=0.01)
    assert r.outcome is Outcome.ERROR and r.code == "TLS_VERIFY_FAILED" and r.attempts == 1
    assert "ca_bundle" in r.message
    r = await send_import(make_req(srv.url(scheme="https"), csv_file, ca_bundle=str(cert)))
    assert r.outcome is Outcome.DONE, r.message
    r = await send_import(make_req(srv.url(scheme="https"), csv_file, ca_bundle=str(cert) + ".missing"))
    assert r.code == "CA_BUNDLE" and r.attempts == 0


# --- the mock-only status and result endpoints ------------------------------------------------


async def test_poll_status_404_means_not_offered(serve, csv_file):
    srv = await serve(answer(404, error_body("NOT_FOUND"), read=False))
    assert await poll_status(make_req(srv.url(), csv_file), "x", interval=0.01, timeout=1) is None
    assert srv.requests[0].request_line == "GET /api_sample/api/v1/custcsv/import/x HTTP/1.1"
    assert await fetch_result_csv(make_req(srv.url(), csv_file), "x") is None


async def test_poll_status_until_completed(serve, csv_file):
    def status(s, **counts):
        return answer(200, {"status": s, "import_id": "id 1", **counts}, read=False)

    srv = await serve(
        status("queued"),
        status("processing"),
        status("completed", counts={"success": 37, "failure": 1, "other": 2, "stopped": 0}),
    )
    events = []
    st = await poll_status(make_req(srv.url(), csv_file), "id 1", interval=0.01, timeout=10, on_event=events.append)
    assert st is not None and st.finished and st.status == "completed"
    assert (st.success, st.failure, st.other, st.stopped) == (37, 1, 2, 0)
    assert srv.requests[0].request_line.startswith("GET /api_sample/api/v1/custcsv/import/id%201 ")
    assert [e.text for e in events if isinstance(e, LogLine)] == [
        "import id 1: queued",
        "import id 1: processing",
        "import id 1: completed",
    ]


async def test_poll_status_timeout_returns_last_seen(serve, csv_file):
    srv = await serve(answer(200, {"status": "processing", "success": 5}, read=False))
    st = await poll_status(make_req(srv.url(), csv_file), "x", interval=0.01, timeout=0.05)
    assert st is not None and not st.finished and st.status == "processing" and st.success == 5
    assert "still processing" in st.error


async def test_fetch_result_csv(serve, csv_file):
    data = "区分,理由,メールアドレス\r\n成功,,a@example.com\r\n".encode("cp932")
    srv = await serve(answer(200, data, "text/csv", read=False), answer(500, "", read=False))
    req = make_req(srv.url(), csv_file)
    assert await fetch_result_csv(req, "20250401-000017") == data
    assert srv.requests[0].request_line.startswith("GET /api_sample/api/v1/custcsv/import/20250401-000017/result.csv ")
    with pytest.raises(ClientError) as e:
        await fetch_result_csv(req, "x")
    assert "500" in str(e.value) and CANARY not in str(e.value)


async def test_custom_transport_and_sjis_alias(csv_file):
    seen = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(await request.aread())
        return httpx.Response(200, json=SUCCESS)

    req = make_req("https://a01.hm-f.jp/api_sample/api/v1/custcsv/import", csv_file, csv_encoding="sjis")
    r = await send_import(req, transport=httpx.MockTransport(handler))
    assert r.outcome is Outcome.DONE and len(seen) == 1
    assert b"Content-Type: text/csv; charset=Shift_JIS" in seen[0] and csv_file.read_bytes() in seen[0]


# --- a lying server: odd numbers, garbage, huge answers never raise ---------------------------------


def test_server_int_takes_ascii_digits_only():
    assert [server_int(v) for v in (0, 12, "12", " 7 ", "007")] == [0, 12, 12, 7, 7]
    for bad in ("²", "٣", "１２", "-1", -1, "1e3", 1.0, 1e400, True, None, "", "9" * 5000, 10**40, [], {}):
        assert server_int(bad) is None, bad


ODD_SUCCESS = [
    b'{"result":"success","import_id":"X1","rows_received":"\\u00b2"}',
    b'{"result":"success","import_id":"X1","rows_received":"\\u0663"}',
    b'{"result":"success","import_id":"X1","rows_received":1e400}',
    b'{"result":"success","import_id":"X1","rows_received":-3}',
    b'{"result":"success","import_id":"X1","rows_received":true}',
    b'{"result":"success","import_id":"X1","rows_received":"' + b"9" * 5000 + b'"}',
    b'{"result":"success","import_id":"X1","rows_received":[1],"quota":{"limit":"\\u00b2","used":"x","remaining":[]}}',
]


@pytest.mark.parametrize("body", ODD_SUCCESS)
async def test_odd_numbers_in_a_success_do_not_raise(csv_file, body):
    r = await send_import(
        make_req("https://a01.hm-f.jp/p/api/v1/custcsv/import", csv_file), transport=Scripted((200, body, {}, None))
    )
    assert r.outcome is Outcome.DONE and r.import_id == "X1" and r.rows_received is None and r.quota is None
    assert "? rows received" in r.message


async def test_odd_fields_in_a_success_are_cleaned(csv_file):
    body = {
        "result": "success",
        "import_id": {"a": 1},
        "rows_received": "12",
        "quota": {"limit": 240, "used": "8", "remaining": "²", "day": "x"},
        "warnings": ["w1", 2, {"message": "w3"}, {"x": [1]}, "y" * 5000],
    }
    r = await send_import(
        make_req("https://a01.hm-f.jp/p/api/v1/custcsv/import", csv_file), transport=Scripted((200, body, {}, None))
    )
    assert r.outcome is Outcome.DONE and r.import_id is None and r.rows_received == 12
    assert r.quota == {"limit": 240, "used": 8}
    assert r.warnings[:4] == ["w1", "2", "w3", "{'x': [1]}"] and len(r.warnings[4]) <= 300


@pytest.mark.parametrize(
    "status, body, code",
    [
        (200, b"[" * 200_000, "NOT_JSON"),
        (200, b'{"result":' * 100_000, "NOT_JSON"),
        (200, b'{"result":"' + b"z" * 900_000 + b'"}', "NOT_SUCCESS"),
        (200, b"x" * 3_000_000, "ANSWER_TOO_LARGE"),
        (
            422,
            b'{"result":"error","error":{"code":{"deep":[1,2]},"message":["m"],"field":{"f":1}}}',
            "INVALID_PARAMETER",
        ),
    ],
)
async def test_garbage_or_huge_answers_do_not_raise(csv_file, status, body, code):
    r = await send_import(
        make_req("https://a01.hm-f.jp/p/api/v1/custcsv/import", csv_file),
        transport=Scripted((status, body, {"content-type": "text/plain; charset=idna"}, None)),
    )
    assert r.outcome is Outcome.ERROR and r.code == code and r.attempts == 1
    assert len(r.message) < 1000 and len(r.body_excerpt) <= 500


async def test_poll_status_odd_counts_do_not_raise(serve, csv_file):
    body = '{"status":"completed","counts":{"success":"\u00b2","failure":"3","other":-1,"stopped":1e400},"success":"9"}'
    srv = await serve(answer(200, body, read=False))
    st = await poll_status(make_req(srv.url(), csv_file), "x", interval=0.01, timeout=2)
    assert st is not None and st.finished
    assert (st.success, st.failure, st.other, st.stopped) == (9, 3, None, None)


@pytest.mark.parametrize("body", [b"{not json", b"[" * 200_000, b'{"status":{"a":1}}', b'"completed"'])
async def test_poll_status_garbage_is_an_error_not_an_exception(serve, csv_file, body):
    srv = await serve(answer(200, body, read=False))
    st = await poll_status(make_req(srv.url(), csv_file), "x", interval=0.01, timeout=0.05)
    assert st is not None and st.status == "unknown" and not st.finished and st.error
    assert CANARY not in st.error


async def test_poll_status_huge_answer_stops_with_a_clear_error(serve, csv_file):
    srv = await serve(answer(200, b'{"status":"processing","pad":"' + b"x" * 2_000_000 + b'"}', read=False))
    st = await poll_status(make_req(srv.url(), csv_file), "x", interval=0.01, timeout=5)
    assert st is not None and st.status == "unknown" and "larger than" in st.error
    assert len(srv.requests) == 1


async def test_fetch_result_csv_over_the_cap_is_a_clear_client_error(serve, csv_file):
    srv = await serve(answer(200, b"a,b\r\n" * 3_000_000, "text/csv", read=False))  # 15 MB
    with pytest.raises(ClientError) as e:
        await fetch_result_csv(make_req(srv.url(), csv_file), "x")
    assert "larger than 10.0 MiB" in str(e.value) and "一括登録・削除の処理結果" in str(e.value)
    with pytest.raises(ClientError, match="larger than 1000 bytes"):
        await fetch_result_csv(make_req(srv.url(), csv_file), "x", max_bytes=1000)


async def test_fetch_result_csv_cut_off_is_a_client_error(serve, csv_file):
    async def cut(server, reader, writer, raw):
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100)
        await writer.drain()
        writer.transport.abort()
        return False

    srv = await serve(cut)
    with pytest.raises(ClientError, match="broke off after 100 bytes"):
        await fetch_result_csv(make_req(srv.url(), csv_file), "x")


async def test_side_requests_with_a_missing_ca_file_do_not_raise_other_errors(csv_file, tmp_path):
    req = make_req("https://a01.hm-f.jp/p/api/v1/custcsv/import", csv_file, ca_bundle=str(tmp_path / "none.pem"))
    st = await poll_status(req, "x", interval=0.01, timeout=0.05)
    assert st is not None and "CA file" in st.error
    with pytest.raises(ClientError, match="CA file"):
        await fetch_result_csv(req, "x")


@pytest.mark.parametrize(
    "name",
    ["X-HM-apitoken", "Authorization", "proxy-authorization", "Cookie", "Set-Cookie", "X-Api-Key", "X-Custom-Token"],
)
def test_secret_header_names_have_one_home(name, csv_file):
    """core/secret.py lists the credential headers once: the client masks and scrubs them, the settings
    resolve a literal one to a Secret, and the mock's request log redacts them."""
    from datetime import datetime
    from types import SimpleNamespace

    from aiohttp.test_utils import make_mocked_request

    from haihai_tui.core.haihai.transport import Scrub
    from haihai_tui.core.secret import MASK, SECRET_HEADERS, is_secret_header
    from haihai_tui.core.settings import headers as hdr
    from haihai_tui.core.settings.model import Settings
    from haihai_tui.mock.routes import REDACT, new_record

    assert {"x-hm-apitoken", "authorization", "proxy-authorization", "cookie", "set-cookie"} <= set(SECRET_HEADERS)
    assert is_secret_header(name) and not is_secret_header("Accept") and not is_secret_header("X-Request-Id")
    value = f"Bearer {CANARY}"
    req = ImportRequest(
        url="https://a01.hm-f.jp/x", headers={name: value, "X-Request-Id": "r1"}, params={}, csv_path=csv_file
    )
    shown = dict(req.masked_headers())
    assert shown[name] == MASK and shown["X-Request-Id"] == "r1"
    assert CANARY not in Scrub(req)(f"the server echoed {value}") and CANARY not in repr(req)
    resolved = hdr.resolve(name, value, Settings(csv_file.parent), {})
    assert isinstance(resolved.value, Secret) and CANARY not in str(resolved.value)
    logged: list = []
    state = SimpleNamespace(
        config=SimpleNamespace(token_header="X-HM-apitoken"), clock=datetime.now, log_request=logged.append
    )
    record = new_record(make_mocked_request("POST", "/demo/api/v1/custcsv/import", headers={name: value}), state)
    assert record["headers"][name] == REDACT and CANARY not in repr(logged)


def test_client_logs_show_server_text_escaped_and_no_secret(caplog):
    """httpx/httpcore log what a server sends: a log line never carries a raw escape or the token."""
    import logging

    from haihai_tui.core.haihai.transport import _LOG_SCRUB

    _LOG_SCRUB.active[CANARY] = 1
    try:
        with caplog.at_level(logging.DEBUG, logger="httpcore.http11"):
            logging.getLogger("httpcore.http11").debug(
                "receive_response_headers %s", f"X-Echo: {CANARY}\x1b]52;c;aGk=\x07"
            )
    finally:
        del _LOG_SCRUB.active[CANARY]
    text = caplog.text
    assert CANARY not in text and "\x1b" not in text and "\x07" not in text
    assert "\\x1b]52;c;aGk=\\x07" in text
