"""One run end to end through `haihai-tui run` against the mock HaiHai server (the same core path as the TUI)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from corefixtures import CANARY, make_settings
from haihai_tui.cli.main import main
from haihai_tui.core.records.samples import SAMPLE_DATABASE
from haihai_tui.core.records.store import RecordStore
from haihai_tui.core.run.history import History
from haihai_tui.core.settings import store
from haihai_tui.mock.config import MockConfig
from haihai_tui.mock.server import MockServerThread

ROWS = [
    ("takahashi@example.co.jp", "髙橋商事㈱", "髙橋 一郎", "タカハシ", "東京都", "03-0000-0001"),
    ("yamasaki@example.co.jp", "山﨑工業", "山﨑 花子", "ヤマサキ", "大阪府", "06-0000-0002"),
    ("maru@example.co.jp", "①商店, 本店", '"丸" 太郎', "マル", "京都府", "075-000-0003"),
    ("nami@example.co.jp", "波～株式会社", "波 次郎", "ナミ", "北海道", "011-000-0004"),
]


@pytest.fixture(scope="module")
def mock():
    with MockServerThread(MockConfig.demo(CANARY, processing_delay=0.05)) as m:
        yield m


@pytest.fixture
def env(tmp_path, mock):
    httpx.post(f"{mock.url}/_mock/reset")
    paths = make_settings(tmp_path, login="admin")
    url = f"{mock.url}/demo/api/v1/custcsv/import"

    def point(doc):
        for g in doc["integrations"]:
            g["url"] = url
        doc["integrations"][0]["report_mail"] = 1

    store.update(paths.db, point)
    from haihai_tui.core.settings.permissions import current_login

    def me(doc):
        doc["users"][0]["login"] = current_login()

    store.update(paths.admin, me)
    rs = RecordStore.open(paths.records_dir, SAMPLE_DATABASE)
    rs.insert_rows(ROWS, [f.id for f in SAMPLE_DATABASE.fields])
    rs.close()
    return paths


def cli(paths, *args):
    return main(
        ["run", "--config-dir", str(paths.config_dir), "--data-dir", str(paths.data_dir), "--menu", "顧客一覧", *args]
    )


def received(mock):
    """The import POSTs the mock received (status polls left out)."""
    return [r for r in httpx.get(f"{mock.url}/_mock/requests").json()["requests"] if r["method"] == "POST"]


def no_temp_files(paths: Path):
    runs = paths.runs_dir
    return not runs.exists() or not any(runs.iterdir())


def everything_written(paths, capsys) -> str:
    out = capsys.readouterr()
    blobs = [out.out, out.err]
    for p in paths.data_dir.rglob("*"):
        if p.is_file():
            blobs.append(p.read_bytes().decode("utf-8", "replace"))
    return "\n".join(blobs)


def _csv_cell(value: str) -> str:
    """A cell as csv.writer's minimal quoting writes it (quotes doubled inside quotes)."""
    if any(c in value for c in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def test_run_sends_exact_bytes_and_records_history(env, mock, capsys):
    assert cli(env, "--integration", "配配メール 顧客登録", "--memo", "定例") == 0
    reqs = received(mock)
    assert len(reqs) == 1
    r = reqs[0]
    assert r["settings"] == {
        "login_id": "ops01",
        "import_type": "0",
        "is_overwrite": "1",
        "overwrite_type": "1",
        "gid": "12",
        "report_option": "2",
    }
    expected = (
        "メールアドレス,会社名,お名前\r\n" + "".join(f"{a},{_csv_cell(b)},{_csv_cell(c)}\r\n" for a, b, c, *_ in ROWS)
    ).encode("cp932")
    import base64

    assert base64.b64decode(r["csv"]["raw_b64"]) == expected
    assert "Shift_JIS" in r["csv"]["content_type"]
    assert r["headers"].get("X-HM-apitoken") == "***"
    h = History(env.history_db).list()
    assert len(h) == 1 and h[0].outcome.value == "done" and h[0].rows == 4 and h[0].memo == "定例"
    assert h[0].counts and h[0].counts["success"] == 4
    assert no_temp_files(env)
    mails = list(env.outbox.glob("*.eml"))
    assert len(mails) == 1 and "完了" in mails[0].read_bytes().decode("utf-8", "replace") or mails
    assert CANARY not in everything_written(env, capsys)


def test_dry_run_sends_nothing_and_masks_token(env, mock, capsys):
    assert cli(env, "--integration", "配配メール 顧客登録", "--dry-run") == 0
    out = capsys.readouterr().out
    assert "X-HM-apitoken: ********" in out and "import_settings" in out and "髙橋商事㈱" in out
    assert CANARY not in out
    assert received(mock) == []
    assert no_temp_files(env)


def test_5xx_after_body_is_unknown_and_not_resent(env, mock, capsys):
    httpx.post(f"{mock.url}/_mock/fail-next", json={"count": 1, "status": 500})
    assert cli(env, "--integration", "配配メール 顧客登録") == 3
    assert len(received(mock)) == 1
    rec = History(env.history_db).list()[0]
    assert rec.outcome.value == "unknown" and rec.http_status == 500
    assert "一括登録・削除の処理結果" in rec.message or "HaiHai" in rec.message
    assert no_temp_files(env)
    assert CANARY not in everything_written(env, capsys)


def test_wrong_token_is_error(env, mock, capsys):
    env.secrets.write_text('[tokens]\n"配配メール 顧客登録" = "wrong-token"\n', encoding="utf-8")
    env.secrets.chmod(0o600)
    assert cli(env, "--integration", "配配メール 顧客登録") == 1
    rec = History(env.history_db).list()[0]
    assert rec.outcome.value == "error" and rec.http_status == 401 and rec.code == "INVALID_TOKEN"
    assert "wrong-token" not in everything_written(env, capsys)


def test_preflight_error_blocks(env, mock, capsys):
    rs = RecordStore.open(env.records_dir, SAMPLE_DATABASE)
    rs.insert_rows([("emoji@example.co.jp", "絵文字😀商店", "x", "", "", "")], [f.id for f in SAMPLE_DATABASE.fields])
    rs.close()
    assert cli(env, "--integration", "配配メール 顧客登録") == 1
    err = capsys.readouterr().err
    assert "U+1F600" in err and "row 5" in err
    assert received(mock) == []
    assert no_temp_files(env)
    # narrowing the result with --where leaves the bad row out
    assert cli(env, "--integration", "配配メール 顧客登録", "--where", "会社名~株") == 0
    # ㈱ is its own character, not 株: only 波～株式会社 matches, and it arrives unchanged
    assert (
        received(mock)[0]["csv"]["text"]
        == "メールアドレス,会社名,お名前\r\nnami@example.co.jp,波～株式会社,波 次郎\r\n"
    )


def test_dangerous_run_needs_yes(env, mock, capsys):
    def delete_all(doc):
        p = doc["integrations"][1]["params"]
        p["import_type"] = "1"
        del p["gid"]

    store.update(env.db, delete_all)
    assert cli(env, "--integration", "配配メール 配信停止") == 1
    assert "--yes" in capsys.readouterr().err
    assert received(mock) == []
    assert cli(env, "--integration", "配配メール 配信停止", "--yes") == 0
    assert len(received(mock)) == 1


def test_bad_usage_exit_2(env, capsys):
    assert cli(env, "--integration", "nope") == 2
    assert cli(env, "--integration", "配配メール 顧客登録", "--where", "色=赤") == 2
    assert "columns are" in capsys.readouterr().err


def test_history_json(env, mock, capsys):
    cli(env, "--integration", "配配メール 顧客登録")
    capsys.readouterr()
    assert main(["history", "--json", "--data-dir", str(env.data_dir), "--config-dir", str(env.config_dir)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows[0]["integration"] == "配配メール 顧客登録" and rows[0]["state"] == "完了"
