"""The mock HaiHai Mail server, driven over real loopback HTTP with httpx."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from haihai_tui.core.problems import SettingsFileError
from haihai_tui.mock import MockAccount, MockConfig, MockServerThread, load_mock_config, start
from haihai_tui.mock.state import JST, seconds_until_jst_midnight

TOKEN = "CANARY-7f3a9c"
WRONG = "CANARY-wrong-5e1d"
H = {"X-HM-apitoken": TOKEN}
EMAIL = "メールアドレス"


# ---------------------------------------------------------------- helpers


def settings(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"login_id": "ops01", "import_type": "0"}
    base.update(kw)
    return {k: v for k, v in base.items() if v is not None}


def csv_bytes(rows: list[list[str]], encoding: str = "cp932") -> bytes:
    return "".join(",".join(r) + "\r\n" for r in rows).encode(encoding)


def form(
    sett: Any = None, csv: bytes | None = None, charset: str | None = "Shift_JIS", raw_settings: str | None = None
) -> dict[str, Any]:
    files: dict[str, Any] = {}
    if sett is not None or raw_settings is not None:
        text = raw_settings if raw_settings is not None else json.dumps(sett, ensure_ascii=False)
        files["import_settings"] = (None, text.encode("utf-8"), "application/json; charset=UTF-8")
    if csv is not None:
        ctype = "text/csv" + (f"; charset={charset}" if charset else "")
        files["customer_list"] = ("customer_list.csv", csv, ctype)
    return files


PEOPLE = [[EMAIL, "会社名", "お名前"], ["a@example.jp", "髙﨑商事㈱", "髙橋 一郎"], ["b@example.jp", "B社", "佐藤"]]


class Mock:
    """A started server plus an httpx client bound to it."""

    def __init__(self, running: Any, client: httpx.AsyncClient) -> None:
        self.running = running
        self.client = client
        self.state = running.state
        self.url = running.import_url("demo")

    async def post(
        self, files: dict[str, Any] | None = None, headers: dict[str, str] | None = H, path: str = "demo", **kw: Any
    ) -> httpx.Response:
        return await self.client.post(self.running.import_url(path), files=files, headers=headers, **kw)

    async def imp(self, sett: dict[str, Any], rows: list[list[str]]) -> dict[str, Any]:
        """Import and wait (on the processing task itself) until it is done."""
        r = await self.post(form(sett, csv_bytes(rows)))
        assert r.status_code == 200, r.text
        body = r.json()
        await self.state.jobs[body["import_id"]].task
        return body

    async def control(self, name: str, body: dict[str, Any] | None = None) -> httpx.Response:
        r = await self.client.post(f"{self.running.url}/_mock/{name}", json=body or {})
        assert r.status_code == 200, r.text
        return r

    async def account(self) -> dict[str, Any]:
        return (await self.client.get(f"{self.running.url}/_mock/accounts/demo")).json()

    async def result_rows(self, import_id: str) -> list[list[str]]:
        r = await self.client.get(f"{self.url}/{import_id}/result.csv", headers=H)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/csv")
        lines = r.content.decode("cp932").split("\r\n")
        return [line.split(",") for line in lines[1:] if line]


@pytest.fixture
async def make_mock():
    started: list[tuple[Any, httpx.AsyncClient]] = []

    async def make(config: MockConfig | None = None, **acc_kw: Any) -> Mock:
        cfg = config or MockConfig.demo(TOKEN, processing_delay=0)
        for k, v in acc_kw.items():
            setattr(cfg.accounts[0], k, v)
        running = await start(cfg)
        client = httpx.AsyncClient(timeout=10)
        started.append((running, client))
        return Mock(running, client)

    yield make
    for running, client in started:
        await client.aclose()
        await running.stop()


@pytest.fixture
async def mock(make_mock) -> Mock:
    return await make_mock()


def err(r: httpx.Response) -> tuple[int, str]:
    body = r.json()
    assert body["result"] == "error"
    assert set(body["error"]) == {"code", "message", "field"}
    assert body["error"]["message"]
    return r.status_code, body["error"]["code"]


# ---------------------------------------------------------------- success and categories


async def test_register_success_body_status_and_result_csv(mock: Mock) -> None:
    rows = PEOPLE + [["A@EXAMPLE.JP", "dup", ""], ["", "blank", ""], ["not-an-address", "x", ""]]
    r = await mock.post(form(settings(gid="12", report_option="2"), csv_bytes(rows)))
    assert r.status_code == 200
    body = r.json()
    assert body["result"] == "success"
    assert re.fullmatch(r"\d{8}-\d{6}", body["import_id"])
    assert body["rows_received"] == 5
    assert body["warnings"] == []
    assert body["quota"] == {"limit": 240, "used": 1, "remaining": 239}
    await mock.state.jobs[body["import_id"]].task

    s = await mock.client.get(f"{mock.url}/{body['import_id']}", headers=H)
    assert s.json() == {
        "result": "success",
        "import_id": body["import_id"],
        "status": "completed",
        "counts": {"success": 2, "failure": 2, "other": 1, "stopped": 0},
    }
    result = await mock.result_rows(body["import_id"])
    assert [row[0] for row in result] == ["成功", "成功", "その他", "失敗", "失敗"]
    assert result[0][2:] == ["a@example.jp", "髙﨑商事㈱", "髙橋 一郎"]
    assert "重複" in result[2][1] and "空" in result[3][1] and "形式" in result[4][1]

    acc = await mock.account()
    assert [c[EMAIL] for c in acc["customers"]] == ["a@example.jp", "b@example.jp"]
    assert acc["groups"]["12"]["members"] == {"a@example.jp": "deliverable", "b@example.jp": "deliverable"}


async def test_register_existing_without_and_with_overwrite(mock: Mock) -> None:
    await mock.imp(settings(), PEOPLE)
    keep = await mock.imp(settings(), [[EMAIL, "会社名"], ["a@example.jp", "新社名"]])
    assert [r[0] for r in await mock.result_rows(keep["import_id"])] == ["その他"]
    assert (await mock.account())["customers"][0]["会社名"] == "髙﨑商事㈱"

    # overwrite, blank cell keeps HaiHai's value (overwrite_type 1)
    ow = await mock.imp(
        settings(is_overwrite="1", overwrite_type="1"), [[EMAIL, "会社名", "お名前"], ["a@example.jp", "新社名", ""]]
    )
    assert [r[0] for r in await mock.result_rows(ow["import_id"])] == ["成功"]
    cust = (await mock.account())["customers"][0]
    assert (cust["会社名"], cust["お名前"]) == ("新社名", "髙橋 一郎")

    # overwrite, blank cell blanks it (overwrite_type 2); integers are accepted too
    await mock.imp(settings(import_type=0, is_overwrite=1, overwrite_type=2), [[EMAIL, "お名前"], ["A@Example.JP", ""]])
    cust = (await mock.account())["customers"][0]
    assert (cust["会社名"], cust["お名前"]) == ("新社名", "")


async def test_register_into_group_where_stopped_counts_as_stopped(mock: Mock) -> None:
    await mock.imp(settings(import_type="2", gid="12"), [[EMAIL], ["a@example.jp"]])
    await mock.imp(settings(import_type="3", gid="12"), [[EMAIL], ["b@example.jp"]])
    body = await mock.imp(settings(gid="12", is_overwrite="1"), PEOPLE + [["c@example.jp", "C", "c"]])
    cats = [r[0] for r in await mock.result_rows(body["import_id"])]
    assert cats == ["配信停止", "配信停止", "成功"]
    members = (await mock.account())["groups"]["12"]["members"]
    assert members == {"a@example.jp": "stopped", "b@example.jp": "prohibited", "c@example.jp": "deliverable"}
    status = await mock.client.get(f"{mock.url}/{body['import_id']}", headers=H)
    assert status.json()["counts"] == {"success": 1, "failure": 0, "other": 0, "stopped": 2}


async def test_delete_with_group_only_leaves_group(mock: Mock) -> None:
    await mock.imp(settings(gid="12"), PEOPLE)
    await mock.imp(settings(gid="13"), [[EMAIL], ["a@example.jp"]])  # a: existing -> その他, not added
    body = await mock.imp(
        settings(import_type="1", gid="12"), [[EMAIL], ["a@example.jp"], ["zz@example.jp"], ["a@example.jp"]]
    )
    cats = [r[0] for r in await mock.result_rows(body["import_id"])]
    assert cats == ["成功", "失敗", "その他"]
    acc = await mock.account()
    assert len(acc["customers"]) == 2  # still in the database
    assert acc["groups"]["12"]["members"] == {"b@example.jp": "deliverable"}
    again = await mock.imp(settings(import_type="1", gid="12"), [[EMAIL], ["a@example.jp"]])
    result = await mock.result_rows(again["import_id"])
    assert result[0][0] == "失敗" and "登録されていません" in result[0][1]


async def test_delete_without_target_drops_customer_and_history(mock: Mock) -> None:
    await mock.imp(settings(gid="12"), PEOPLE)
    await mock.imp(settings(import_type="2", spid="7"), [[EMAIL], ["a@example.jp"]])
    body = await mock.imp(settings(import_type="1"), [[EMAIL], ["a@example.jp"], ["nobody@example.jp"]])
    assert [r[0] for r in await mock.result_rows(body["import_id"])] == ["成功", "失敗"]
    acc = await mock.account()
    assert [c[EMAIL] for c in acc["customers"]] == ["b@example.jp"]
    assert "a@example.jp" not in acc["groups"]["12"]["members"]
    assert acc["plans"]["7"]["members"] == {}


@pytest.mark.parametrize("itype,state", [("2", "stopped"), ("3", "prohibited")])
async def test_stop_and_prohibit_add_missing_customers(mock: Mock, itype: str, state: str) -> None:
    await mock.imp(settings(), PEOPLE[:2])  # a exists, not in group 13
    body = await mock.imp(
        settings(import_type=itype, gid="13"), [[EMAIL], ["a@example.jp"], ["new@example.jp"], ["bad@"]]
    )
    assert [r[0] for r in await mock.result_rows(body["import_id"])] == ["成功", "成功", "失敗"]
    acc = await mock.account()
    assert acc["groups"]["13"]["members"] == {"a@example.jp": state, "new@example.jp": state}
    assert "new@example.jp" in [c[EMAIL] for c in acc["customers"]]


async def test_make_deliverable_applies_overwrite_rules(mock: Mock) -> None:
    await mock.imp(settings(spid="7"), PEOPLE)
    await mock.imp(settings(import_type="3", spid="7"), [[EMAIL], ["a@example.jp"], ["b@example.jp"]])
    await mock.imp(settings(import_type="5", spid="7"), [[EMAIL, "会社名"], ["a@example.jp", "無視"]])
    body = await mock.imp(
        settings(import_type="5", spid="7", is_overwrite="1", overwrite_type="2"),
        [[EMAIL, "会社名", "お名前"], ["b@example.jp", "新B社", ""]],
    )
    assert [r[0] for r in await mock.result_rows(body["import_id"])] == ["成功"]
    acc = await mock.account()
    assert acc["plans"]["7"]["members"] == {"a@example.jp": "deliverable", "b@example.jp": "deliverable"}
    by_mail = {c[EMAIL]: c for c in acc["customers"]}
    assert by_mail["a@example.jp"]["会社名"] == "髙﨑商事㈱"  # is_overwrite 0: fields kept
    assert (by_mail["b@example.jp"]["会社名"], by_mail["b@example.jp"]["お名前"]) == ("新B社", "")


async def test_row_with_wrong_cell_count_fails(mock: Mock) -> None:
    body = await mock.imp(settings(), [[EMAIL, "会社名"], ["a@example.jp", "x", "extra"], ["b@example.jp", "y"]])
    assert [r[0] for r in await mock.result_rows(body["import_id"])] == ["失敗", "成功"]


async def test_utf8_with_multilang_option(make_mock) -> None:
    m = await make_mock(multilang=True)
    r = await m.post(
        form(settings(), csv_bytes([[EMAIL, "お名前"], ["u@example.jp", "Zoë 😀"]], "utf-8"), charset="UTF-8")
    )
    assert r.status_code == 200
    await m.state.jobs[r.json()["import_id"]].task
    assert (await m.account())["customers"][0]["お名前"] == "Zoë 😀"


# ---------------------------------------------------------------- every error code

BAD_SETTINGS = [
    ({"import_type": "0"}, "INVALID_PARAMETER", "login_id"),
    ({"login_id": "ops01"}, "INVALID_PARAMETER", "import_type"),
    (settings(import_type="4"), "INVALID_PARAMETER", "import_type"),
    (settings(is_overwrite="2"), "INVALID_PARAMETER", "is_overwrite"),
    (settings(report_option="9"), "INVALID_PARAMETER", "report_option"),
    (settings(login_id=""), "INVALID_PARAMETER", "login_id"),
    (settings(gid="abc"), "INVALID_PARAMETER", "gid"),
    (settings(gid=True), "INVALID_PARAMETER", "gid"),
    (settings(gid=["12"]), "INVALID_PARAMETER", "gid"),
    (settings(import_type="2", gid="12", is_overwrite="1"), "PARAM_NOT_APPLICABLE", "is_overwrite"),
    (settings(import_type="1", is_overwrite="1"), "PARAM_NOT_APPLICABLE", "is_overwrite"),
    (settings(overwrite_type="2"), "PARAM_NOT_APPLICABLE", "overwrite_type"),
    (settings(is_overwrite="0", overwrite_type="2"), "PARAM_NOT_APPLICABLE", "overwrite_type"),
    (settings(import_type="2"), "TARGET_REQUIRED", "gid"),
    (settings(import_type="5"), "TARGET_REQUIRED", "gid"),
    (settings(import_type="3", gid="", spid=""), "TARGET_REQUIRED", "gid"),  # blank = absent
    (settings(gid="12", spid="7"), "TARGET_CONFLICT", "spid"),
    (settings(gid="99"), "UNKNOWN_GROUP", "gid"),
    (settings(import_type="3", spid="99"), "UNKNOWN_PLAN", "spid"),
    (settings(login_id="someone"), "UNKNOWN_LOGIN_ID", "login_id"),
]


@pytest.mark.parametrize("sett,code,field", BAD_SETTINGS)
async def test_settings_validation_422_uses_no_quota(mock: Mock, sett: dict, code: str, field: str) -> None:
    r = await mock.post(form(sett, csv_bytes(PEOPLE)))
    assert err(r) == (422, code)
    assert r.json()["error"]["field"] == field
    acc = await mock.account()
    assert acc["customers"] == [] and acc["quota"]["used"] == 0 and acc["imports"] == []


@pytest.mark.parametrize(
    "sett",
    [
        settings(import_type="2", gid="12", is_overwrite="0"),  # default values are harmless anywhere
        settings(overwrite_type="1"),
        settings(gid="", spid="7", report_option=""),  # blank values count as absent
    ],
)
async def test_harmless_settings_are_accepted(mock: Mock, sett: dict) -> None:
    r = await mock.post(form(sett, csv_bytes(PEOPLE)))
    assert r.status_code == 200, r.text
    assert r.json()["warnings"] == []


async def test_unknown_key_is_ignored_with_a_warning(mock: Mock) -> None:
    r = await mock.post(form(settings(colour="blue"), csv_bytes(PEOPLE)))
    assert r.status_code == 200
    [warning] = r.json()["warnings"]
    assert "colour" in warning


BAD_CSV = [
    (b"", "EMPTY_FILE"),
    (csv_bytes([[EMAIL, "会社名"]]), "EMPTY_FILE"),
    (csv_bytes([["会社名"], ["A社"]]), "EMAIL_COLUMN_MISSING"),
    (csv_bytes([[EMAIL, "好きな色"], ["a@example.jp", "青"]]), "UNKNOWN_COLUMN"),
    (csv_bytes([[EMAIL, "会社名", "会社名"], ["a@example.jp", "x", "y"]]), "UNKNOWN_COLUMN"),
    (csv_bytes([[EMAIL, ""], ["a@example.jp", "x"]]), "UNKNOWN_COLUMN"),
]


@pytest.mark.parametrize("data,code", BAD_CSV)
async def test_csv_validation_422(mock: Mock, data: bytes, code: str) -> None:
    r = await mock.post(form(settings(), data))
    assert err(r) == (422, code)
    assert (await mock.account())["quota"]["used"] == 0


async def test_400_malformed_missing_invalid_json(mock: Mock) -> None:
    r = await mock.client.post(mock.url, json=settings(), headers=H)
    assert err(r) == (400, "MALFORMED_MULTIPART")
    r = await mock.client.post(
        mock.url, content=b"no boundary here\r\n", headers={**H, "Content-Type": "multipart/form-data; boundary=xyz"}
    )
    assert err(r) == (400, "MALFORMED_MULTIPART")
    r = await mock.post(form(settings(), None))
    assert err(r) == (400, "MISSING_PART") and r.json()["error"]["field"] == "customer_list"
    r = await mock.post(form(None, csv_bytes(PEOPLE)))
    assert err(r) == (400, "MISSING_PART") and r.json()["error"]["field"] == "import_settings"
    r = await mock.post(form(raw_settings='{"login_id": "ops01",', csv=csv_bytes(PEOPLE)))
    assert err(r) == (400, "INVALID_JSON")
    r = await mock.post(form(raw_settings='["login_id"]', csv=csv_bytes(PEOPLE)))
    assert err(r) == (400, "INVALID_JSON")


async def test_401_403_404(make_mock) -> None:
    m = await make_mock()
    ok = form(settings(), csv_bytes(PEOPLE))
    assert err(await m.post(ok, headers={})) == (401, "INVALID_TOKEN")
    r = await m.post(ok, headers={"X-HM-apitoken": WRONG})
    assert err(r) == (401, "INVALID_TOKEN") and WRONG not in r.text
    assert err(await m.post(ok, path="nosuchaccount")) == (404, "NOT_FOUND")
    assert err(await m.client.get(f"{m.running.url}/whatever")) == (404, "NOT_FOUND")
    fenced = await make_mock(ip_allow=["203.0.113.0/24"])
    assert err(await fenced.post(ok)) == (403, "IP_NOT_ALLOWED")


async def test_413_file_too_large_and_too_many_rows(make_mock) -> None:
    big = await make_mock(MockConfig.demo(TOKEN, processing_delay=0, max_bytes=200))
    rows = [[EMAIL]] + [[f"user{i}@example.jp"] for i in range(20)]
    r = await big.post(form(settings(), csv_bytes(rows)))
    assert err(r) == (413, "FILE_TOO_LARGE")
    many = await make_mock(max_rows=3)  # an account override of the server limit
    r = await many.post(form(settings(), csv_bytes(rows[:5])))
    assert err(r) == (413, "TOO_MANY_ROWS")
    assert (await many.post(form(settings(), csv_bytes(rows[:4])))).status_code == 200


async def test_415_unsupported_encoding(mock: Mock) -> None:
    utf8 = csv_bytes(PEOPLE, "utf-8")
    r = await mock.post(form(settings(), utf8, charset="UTF-8"))
    assert err(r) == (415, "UNSUPPORTED_ENCODING") and "multi-language" in r.json()["error"]["message"]
    r = await mock.post(form(settings(), utf8, charset="Shift_JIS"))  # UTF-8 bytes declared as SJIS
    assert err(r) == (415, "UNSUPPORTED_ENCODING") and "line 1" in r.json()["error"]["message"]
    r = await mock.post(form(settings(), csv_bytes(PEOPLE), charset="EUC-JP"))
    assert err(r) == (415, "UNSUPPORTED_ENCODING")
    for name in ("Windows-31J", "cp932", None):  # accepted spellings; none = SJIS
        assert (await mock.post(form(settings(), csv_bytes(PEOPLE), charset=name))).status_code == 200


async def test_429_daily_limit_and_retry_after(make_mock) -> None:
    m = await make_mock(quota=2)
    ok = form(settings(), csv_bytes(PEOPLE))
    first = (await m.post(ok)).json()
    assert first["quota"] == {"limit": 2, "used": 1, "remaining": 1}
    assert (await m.post(ok)).json()["quota"] == {"limit": 2, "used": 2, "remaining": 0}
    m.state.clock = lambda: datetime(2025, 4, 1, 23, 59, 0, tzinfo=JST)
    m.state.accounts["demo"].quota_day = m.state.clock().date()
    r = await m.post(ok)
    assert err(r) == (429, "DAILY_LIMIT_EXCEEDED")
    assert r.headers["Retry-After"] == "60"
    assert err(await m.post(form(settings(gid="99"), csv_bytes(PEOPLE)))) == (422, "UNKNOWN_GROUP")
    m.state.clock = lambda: datetime(2025, 4, 2, 0, 0, 1, tzinfo=JST)  # next JST day: quota is back
    again = await m.post(ok)
    assert again.status_code == 200 and again.json()["import_id"].startswith("20250402-")


def test_seconds_until_jst_midnight() -> None:
    assert seconds_until_jst_midnight(datetime(2025, 4, 1, 23, 59, 0, tzinfo=JST)) == 60
    assert seconds_until_jst_midnight(datetime(2025, 4, 1, 0, 0, 0, tzinfo=JST)) == 86400
    assert seconds_until_jst_midnight(datetime(2025, 4, 1, 14, 30, 0, tzinfo=UTC)) == 1800


async def test_5xx_fail_next_then_recovers(mock: Mock) -> None:
    await mock.control("fail-next", {"count": 1, "status": 500})
    await mock.control("fail-next", {"count": 1, "status": 503, "retry_after": 30})
    ok = form(settings(), csv_bytes(PEOPLE))
    assert err(await mock.post(ok)) == (500, "INTERNAL_ERROR")
    r = await mock.post(ok)
    assert err(r) == (503, "INTERNAL_ERROR") and r.headers["Retry-After"] == "30"
    assert (await mock.account())["quota"]["used"] == 0
    assert (await mock.post(ok)).status_code == 200


# ---------------------------------------------------------------- status endpoint


async def test_status_transitions_and_result_not_ready(make_mock) -> None:
    m = await make_mock(MockConfig.demo(TOKEN, processing_delay=60))
    iid = (await m.post(form(settings(gid="12"), csv_bytes(PEOPLE)))).json()["import_id"]
    job = m.state.jobs[iid]

    async def status() -> dict[str, Any]:
        return (await m.client.get(f"{m.url}/{iid}", headers=H)).json()

    assert (await status())["status"] == "queued"
    assert err(await m.client.get(f"{m.url}/{iid}/result.csv", headers=H)) == (409, "NOT_READY")
    await m.control("advance", {"import_id": iid})
    while job.status == "queued":  # the nudge is delivered on the server's next loop turn
        await asyncio.sleep(0)
    assert (await status())["status"] == "processing"
    await m.control("advance", {"import_id": iid})
    await job.task
    done = await status()
    assert done["status"] == "completed" and done["counts"]["success"] == 2
    assert err(await m.client.get(f"{m.url}/{iid}")) == (401, "INVALID_TOKEN")
    assert err(await m.client.get(f"{m.url}/20990101-999999", headers=H)) == (404, "NOT_FOUND")


async def test_failed_processing_and_status_not_offered(make_mock) -> None:
    m = await make_mock()
    await m.control("fail-processing", {"count": 1})
    body = await m.imp(settings(), PEOPLE)
    r = await m.client.get(f"{m.url}/{body['import_id']}", headers=H)
    assert r.json()["status"] == "failed"
    assert (await m.account())["customers"] == []
    await m.control("no-status-endpoint", {"on": True})
    assert err(await m.client.get(f"{m.url}/{body['import_id']}", headers=H)) == (404, "NOT_FOUND")
    assert err(await m.client.get(f"{m.url}/{body['import_id']}/result.csv", headers=H)) == (404, "NOT_FOUND")
    off = await make_mock(MockConfig.demo(TOKEN, processing_delay=0, offer_status=False))
    iid = (await off.imp(settings(), PEOPLE))["import_id"]
    assert err(await off.client.get(f"{off.url}/{iid}", headers=H)) == (404, "NOT_FOUND")


# ---------------------------------------------------------------- fault controls


async def test_delay_before_response_gives_client_timeout_but_import_happened(mock: Mock) -> None:
    await mock.control("delay", {"seconds": 1.5, "when": "before_response"})
    with pytest.raises(httpx.ReadTimeout):
        await mock.post(form(settings(), csv_bytes(PEOPLE)), timeout=httpx.Timeout(5, read=0.2))
    acc = await mock.account()
    assert acc["quota"]["used"] == 1 and len(acc["imports"]) == 1  # the outcome the client cannot know


async def test_reset_mid_body_is_a_connection_error_and_nothing_is_accepted(mock: Mock) -> None:
    await mock.control("reset-mid-body", {"count": 1})
    big = csv_bytes([[EMAIL]] + [[f"user{i}@example.jp"] for i in range(5000)])
    with pytest.raises(httpx.TransportError):
        await mock.post(form(settings(), big))
    acc = await mock.account()
    assert acc["quota"]["used"] == 0 and acc["imports"] == []
    assert (await mock.post(form(settings(), big))).status_code == 200


async def test_maintenance_page_is_2xx_html(mock: Mock) -> None:
    await mock.control("maintenance", {"on": True})
    r = await mock.post(form(settings(), csv_bytes(PEOPLE)))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "メンテナンス" in r.text
    await mock.control("maintenance", {"on": False})
    assert (await mock.post(form(settings(), csv_bytes(PEOPLE)))).json()["result"] == "success"


async def test_controls_reject_bad_input_and_reset_clears_state(mock: Mock) -> None:
    r = await mock.client.post(f"{mock.running.url}/_mock/delay", json={"seconds": "a while"})
    assert r.status_code == 400 and r.json()["ok"] is False
    await mock.imp(settings(), PEOPLE)
    await mock.control("maintenance", {"on": True})
    await mock.control("reset")
    acc = await mock.account()
    assert acc["customers"] == [] and acc["imports"] == [] and acc["quota"]["used"] == 0
    assert (await mock.client.get(f"{mock.running.url}/_mock/requests")).json() == {"requests": []}
    assert (await mock.post(form(settings(), csv_bytes(PEOPLE)))).status_code == 200


async def test_quota_control(mock: Mock) -> None:
    await mock.control("accounts/demo/quota", {"used": 240})
    assert err(await mock.post(form(settings(), csv_bytes(PEOPLE)))) == (429, "DAILY_LIMIT_EXCEEDED")


# ---------------------------------------------------------------- request log and secrets


async def test_request_log_redacts_token_everywhere(mock: Mock, caplog, capsys) -> None:
    caplog.set_level(logging.DEBUG)
    sent = csv_bytes(PEOPLE)
    await mock.post(form(settings(gid="12"), sent))
    await mock.post(form(settings(), sent), headers={"X-HM-apitoken": WRONG})
    await mock.control("fail-next", {"status": 500})
    await mock.post(form(settings(), sent))
    r = await mock.client.get(f"{mock.running.url}/_mock/requests")
    log = r.json()["requests"]
    assert TOKEN not in r.text and WRONG not in r.text
    first = log[0]
    assert first["method"] == "POST" and first["path"] == "/demo/api/v1/custcsv/import"
    assert first["headers"]["X-HM-apitoken"] == "***"
    assert first["settings"] == settings(gid="12")
    assert first["csv"]["content_type"] == "text/csv; charset=Shift_JIS"
    assert base64.b64decode(first["csv"]["raw_b64"]) == sent
    assert first["csv"]["text"].startswith("メールアドレス,会社名")
    assert (first["status"], log[1]["code"], log[2]["status"]) == (200, "INVALID_TOKEN", 500)
    everything = caplog.text + "".join(caplog.messages) + str(capsys.readouterr())
    assert "accepted import" in caplog.text  # the logger did run
    assert TOKEN not in everything and WRONG not in everything
    assert TOKEN not in repr(mock.state.config)


def test_thread_server_for_sync_code() -> None:
    with MockServerThread(MockConfig.demo(TOKEN, processing_delay=0)) as m:
        url = m.url
        assert url.startswith("http://127.0.0.1:")
        r = httpx.post(m.import_url(), files=form(settings(), csv_bytes(PEOPLE)), headers=H)
        assert r.status_code == 200
        assert httpx.get(f"{url}/_mock/accounts/demo").json()["quota"]["used"] == 1
    with pytest.raises(httpx.ConnectError):  # stopped: the port is closed
        httpx.get(f"{url}/_mock/requests", timeout=2)


def test_serve_prints_one_line_without_token() -> None:
    code = textwrap.dedent(f"""
        from haihai_tui.mock import MockConfig, serve
        serve(MockConfig.demo({TOKEN!r}), "127.0.0.1", 0)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        assert re.fullmatch(r"mock HaiHai server on http://127\.0\.0\.1:\d+ \(accounts: demo\)", line), line
        url = line.split()[4]
        assert httpx.get(f"{url}/_mock/accounts/demo").status_code == 200
    finally:
        proc.terminate()
        out, errs = proc.communicate(timeout=10)
    assert TOKEN not in line + out + errs


def test_mock_package_never_imports_textual() -> None:
    code = "import sys, haihai_tui.mock, haihai_tui.mock.server; sys.exit('textual' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


# ---------------------------------------------------------------- config file


def test_load_mock_config_toml(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MOCK_TOKEN_VAR", TOKEN)
    p = tmp_path / "mock.toml"
    p.write_text(
        textwrap.dedent("""
        max_rows = 50
        processing_delay = 0
        [[accounts]]
        path = "acme"
        token_env = "MOCK_TOKEN_VAR"
        login_ids = ["ops01", "ops02"]
        multilang = true
        [accounts.groups]
        12 = "メルマガ会員"
        [accounts.plans]
        7 = "ウェルカムステップ"
        [[accounts.customers]]
        "メールアドレス" = "old@example.jp"
        "会社名" = "旧社"
        groups = { 12 = "stopped" }
    """),
        encoding="utf-8",
    )
    cfg = load_mock_config(p)
    acc = cfg.account("acme")
    assert isinstance(acc, MockAccount) and acc.token == TOKEN and acc.multilang
    assert acc.groups == {"12": "メルマガ会員"} and acc.plans == {"7": "ウェルカムステップ"}
    assert cfg.max_rows_for(acc) == 50 and cfg.quota_for(acc) == 240
    with MockServerThread(cfg) as m:
        snap = httpx.get(f"{m.url}/_mock/accounts/acme").json()
        assert snap["groups"]["12"]["members"] == {"old@example.jp": "stopped"}


@pytest.mark.parametrize(
    "text,needle",
    [
        ('[[accounts]]\npath = "x"\n', "token is required"),
        ('[[accounts]]\npath = "x"\ntoken_env = "HAIHAI_MOCK_UNSET_VAR"\n', "HAIHAI_MOCK_UNSET_VAR is not set"),
        ("quota = 5\n", "no [[accounts]]"),
        ('[[accounts]]\npath = "x"\ntoken = "t"\ncolour = 1\n', "unknown key"),
        ("quota = \n", ":1: TOML syntax"),
    ],
)
def test_load_mock_config_errors(tmp_path: Path, text: str, needle: str) -> None:
    p = tmp_path / "mock.toml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsFileError) as exc:
        load_mock_config(p)
    assert needle in str(exc.value)


# ---------------------------------------------------------------- address checks


async def test_controls_refuse_non_loopback_callers() -> None:
    from unittest import mock as um

    from aiohttp.test_utils import make_mocked_request

    from haihai_tui.mock import create_app
    from haihai_tui.mock.controls import _loopback_only, requests_log

    transport = um.Mock()
    transport.get_extra_info.side_effect = lambda key, default=None: (
        ("203.0.113.5", 40000) if key == "peername" else default
    )
    req = make_mocked_request("GET", "/_mock/requests", app=create_app(MockConfig.demo(TOKEN)), transport=transport)
    resp = await _loopback_only(requests_log)(req)
    assert resp.status == 403


@pytest.mark.parametrize(
    "remote,allow,ok",
    [
        ("127.0.0.1", ["127.0.0.0/8", "::1"], True),
        ("::1", ["127.0.0.0/8", "::1"], True),
        ("::ffff:192.0.2.7", ["192.0.2.0/24"], True),
        ("192.0.2.7", ["198.51.100.1"], False),
        ("192.0.2.7", ["not-an-address", "192.0.2.7"], True),
        (None, ["0.0.0.0/0"], False),
    ],
)
def test_ip_allow_list(remote: str | None, allow: list[str], ok: bool) -> None:
    from haihai_tui.mock.routes import ip_allowed

    assert ip_allowed(remote, allow) is ok


async def test_duplicate_part_is_malformed(mock: Mock) -> None:
    boundary = "b0undary"
    part = (
        '--{b}\r\nContent-Disposition: form-data; name="import_settings"\r\n'
        'Content-Type: application/json\r\n\r\n{{"login_id":"ops01","import_type":"0"}}\r\n'
    )
    body = (part.format(b=boundary) * 2 + f"--{boundary}--\r\n").encode()
    r = await mock.client.post(
        mock.url, content=body, headers={**H, "Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    assert err(r) == (400, "MALFORMED_MULTIPART") and "more than once" in r.json()["error"]["message"]


def test_content_type_parameters_honour_quotes():
    from haihai_tui.mock.upload import parse_content_type

    assert parse_content_type('multipart/form-data; boundary="a;b=c"') == ("multipart/form-data", {"boundary": "a;b=c"})
    assert parse_content_type('Text/CSV;charset="Shift_JIS"') == ("text/csv", {"charset": "Shift_JIS"})
    assert parse_content_type("") == ("", {})
