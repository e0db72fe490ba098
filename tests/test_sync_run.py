"""Sync modes end to end: `haihai-tui run --sync changes|mirror` and `--retry-failed` against the mock HaiHai
server, which reports 失敗 rows in result.csv (POST /_mock/refuse)."""

from __future__ import annotations

import json
import sqlite3

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

INTEG = "配配メール 顧客登録"
ROWS = [
    ("takahashi@example.co.jp", "髙橋商事㈱", "髙橋 一郎", "タカハシ", "東京都", "03-0000-0001"),
    ("Yamasaki@Example.co.jp", "山﨑工業", "山﨑 花子", "ヤマサキ", "大阪府", "06-0000-0002"),
    ("maru@example.co.jp", "①商店", "丸 太郎", "マル", "京都府", "075-000-0003"),
    ("nami@example.co.jp", "波～株式会社", "波 次郎", "ナミ", "北海道", "011-000-0004"),
]
HEAD = "メールアドレス,会社名,お名前\r\n"


@pytest.fixture(scope="module")
def mock():
    with MockServerThread(MockConfig.demo(CANARY, processing_delay=0.01)) as m:
        yield m


@pytest.fixture
def env(tmp_path, mock):
    httpx.post(f"{mock.url}/_mock/reset")
    paths = make_settings(tmp_path, login="admin")
    url = f"{mock.url}/demo/api/v1/custcsv/import"

    def point(doc):
        for g in doc["integrations"]:
            g["url"] = url

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
        [
            "run",
            "--config-dir",
            str(paths.config_dir),
            "--data-dir",
            str(paths.data_dir),
            "--menu",
            "顧客一覧",
            "--integration",
            INTEG,
            *args,
        ]
    )


def posts(mock):
    return [r for r in httpx.get(f"{mock.url}/_mock/requests").json()["requests"] if r["method"] == "POST"]


def sql(paths, statement, *params):
    db = sqlite3.connect(paths.records_dir / "customers.sqlite3")
    with db:
        db.execute(statement, params)
    db.close()


def history(paths):
    return History(paths.history_db).list()


def test_changes_first_sends_all_then_nothing(env, mock, capsys):
    assert cli(env, "--sync", "changes") == 0
    assert len(posts(mock)) == 1
    first = history(env)[0]
    assert first.sync["mode"] == "changes" and first.sync["new"] == 4 and first.sync["unchanged"] == 0
    capsys.readouterr()
    assert cli(env, "--sync", "changes") == 0
    out = capsys.readouterr()
    assert len(posts(mock)) == 1  # no request at all
    assert f"nothing changed since run #{first.run_id}" in out.out + out.err
    second = history(env)[0]
    assert second.run_id != first.run_id and second.requests == 0 and second.outcome.value == "done"
    assert f"nothing changed since run #{first.run_id}" in second.message
    assert second.sync["unchanged"] == 4 and second.sync["new"] == second.sync["changed"] == 0
    # the dry run says so too, and shows no request
    assert cli(env, "--sync", "changes", "--dry-run") == 0
    dry = capsys.readouterr().out
    assert f"nothing changed since run #{first.run_id}" in dry and "import_settings" not in dry
    assert CANARY not in out.out + out.err


def test_run_lets_the_lock_go_and_leaves_no_holder(env, mock):
    from haihai_tui.core.run.lock import acquire, lock_path

    assert cli(env, "--sync", "changes") == 0
    assert lock_path(env.data_dir, INTEG).read_text() == ""  # no holder named once the run ended
    acquire(env.data_dir, INTEG, login="cron").release()


def test_edit_add_remove_sends_exactly_those(env, mock, capsys):
    assert cli(env, "--sync", "changes") == 0
    sql(env, "UPDATE records SET f_company = ? WHERE f_email = ?", "髙橋ホールディングス", "takahashi@example.co.jp")
    sql(env, "DELETE FROM records WHERE f_email = ?", "maru@example.co.jp")
    rs = RecordStore.open(env.records_dir, SAMPLE_DATABASE)
    rs.insert_rows([("new@example.co.jp", "新規", "新 太郎", "", "", "")], [f.id for f in SAMPLE_DATABASE.fields])
    rs.close()
    capsys.readouterr()
    assert cli(env, "--sync", "changes", "--dry-run") == 0
    out = capsys.readouterr().out
    assert "1 new (e.g. new@example.co.jp)" in out
    assert "1 changed (e.g. takahashi@example.co.jp)" in out
    assert "2 unchanged (not sent)" in out and "0 retried" in out
    assert len(posts(mock)) == 1
    assert cli(env, "--sync", "changes") == 0
    sent = posts(mock)[-1]["csv"]["text"]
    assert sent == HEAD + "takahashi@example.co.jp,髙橋ホールディングス,髙橋 一郎\r\nnew@example.co.jp,新規,新 太郎\r\n"
    rec = history(env)[0]
    assert (rec.sync["new"], rec.sync["changed"], rec.sync["unchanged"], rec.sync["removed"]) == (1, 1, 2, 0)
    # changes never removes: the deleted row is not sent anywhere
    assert "maru" not in sent


def test_refused_row_is_resent_next_time(env, mock, capsys):
    httpx.post(f"{mock.url}/_mock/refuse", json={"addresses": ["yamasaki@example.co.jp"], "reason": "受信拒否"})
    assert cli(env, "--sync", "changes") == 0
    first = history(env)[0]
    assert first.counts["failure"] == 1
    httpx.post(f"{mock.url}/_mock/refuse", json={"addresses": []})
    capsys.readouterr()
    assert cli(env, "--sync", "changes") == 0
    assert posts(mock)[-1]["csv"]["text"] == HEAD + "Yamasaki@Example.co.jp,山﨑工業,山﨑 花子\r\n"
    rec = history(env)[0]
    assert rec.sync["retried"] == 1 and rec.sync["unchanged"] == 3
    assert "1 retried" in capsys.readouterr().out
    # confirmed now: the third run sends nothing
    assert cli(env, "--sync", "changes") == 0
    assert len(posts(mock)) == 2


def test_unknown_confirms_nothing(env, mock, capsys):
    httpx.post(f"{mock.url}/_mock/fail-next", json={"count": 1, "status": 500})
    assert cli(env, "--sync", "changes") == 3
    assert history(env)[0].outcome.value == "unknown"
    assert cli(env, "--sync", "changes", "--dry-run") == 0
    assert "4 new" in capsys.readouterr().out


def test_processing_failed_confirms_nothing(env, mock, capsys):
    httpx.post(f"{mock.url}/_mock/fail-processing", json={"count": 1})
    cli(env, "--sync", "changes")
    assert "nothing confirmed" in capsys.readouterr().err
    assert cli(env, "--sync", "changes", "--dry-run") == 0
    assert "4 new" in capsys.readouterr().out


def test_without_row_results_every_row_of_a_done_request_counts(env, mock, capsys):
    httpx.post(f"{mock.url}/_mock/no-status-endpoint", json={"on": True})
    assert cli(env, "--sync", "changes") == 0
    assert cli(env, "--sync", "changes") == 0
    assert len(posts(mock)) == 1


def test_mirror_removes_only_confirmed_keys_from_the_same_gid(env, mock, capsys):
    assert cli(env, "--sync", "mirror") == 0  # first run: all new, nothing to remove
    assert len(posts(mock)) == 1
    sql(env, "DELETE FROM records WHERE f_email IN (?, ?)", "maru@example.co.jp", "Yamasaki@Example.co.jp")
    capsys.readouterr()
    assert cli(env, "--sync", "mirror") == 1  # removals need --yes
    err = capsys.readouterr().err
    assert "removes 2 customer(s)" in err and "--yes" in err
    assert "maru@example.co.jp" in err and "Yamasaki@Example.co.jp" in err
    assert len(posts(mock)) == 1  # nothing sent
    assert cli(env, "--sync", "mirror", "--yes") == 0
    reqs = posts(mock)
    assert len(reqs) == 2  # nothing changed to register; one removal request
    removal = reqs[-1]
    assert removal["settings"] == {"login_id": "ops01", "import_type": "1", "gid": "12", "report_option": "2"}
    assert removal["csv"]["text"] == "メールアドレス\r\nmaru@example.co.jp\r\nYamasaki@Example.co.jp\r\n"
    acc = httpx.get(f"{mock.url}/_mock/accounts/demo").json()
    group = acc["groups"]["12"]["members"]
    assert "maru@example.co.jp" not in group and "yamasaki@example.co.jp" not in group
    assert "takahashi@example.co.jp" in group  # removed from the group only, never from the database:
    assert "maru@example.co.jp" in {c["メールアドレス"] for c in acc["customers"]}
    runs = history(env)
    main_run, rem_run = runs[1], runs[0]
    assert main_run.sync["removal_run"] == rem_run.run_id and rem_run.sync["removal_of"] == main_run.run_id
    assert main_run.sync["removed"] == 2
    # removed keys are forgotten: the next mirror run removes nobody and sends nothing
    assert cli(env, "--sync", "mirror") == 0
    assert len(posts(mock)) == 2


def test_mirror_refused_without_gid(env, mock, capsys):
    def no_gid(doc):
        del doc["integrations"][0]["params"]["gid"]

    store.update(env.db, no_gid)
    assert cli(env, "--sync", "mirror", "--yes") == 1
    assert "whole HaiHai database" in capsys.readouterr().err
    assert posts(mock) == []


def test_sync_setting_checked_with_file_and_line(env, capsys):
    def mirror(doc):
        doc["integrations"][1]["sync"] = "mirror"

    store.update(env.db, mirror)
    assert main(["check", "--config-dir", str(env.config_dir), "--data-dir", str(env.data_dir)]) != 0
    out = capsys.readouterr()
    text = out.out + out.err
    line = next(x for x in text.splitlines() if "sync = mirror" in x)
    assert line.startswith("db.toml:") or "db.toml:" in line
    assert "import_type 0" in line


def test_retry_failed_sends_exactly_the_refused_rows_with_current_values(env, mock, capsys):
    httpx.post(
        f"{mock.url}/_mock/refuse", json={"addresses": ["yamasaki@example.co.jp", "nami@example.co.jp"], "reason": "x"}
    )
    assert cli(env) == 0  # full mode
    failed_run = history(env)[0].run_id
    httpx.post(f"{mock.url}/_mock/refuse", json={"addresses": []})
    sql(env, "UPDATE records SET f_company = ? WHERE f_email = ?", "山﨑工業（新）", "Yamasaki@Example.co.jp")
    sql(env, "DELETE FROM records WHERE f_email = ?", "nami@example.co.jp")
    capsys.readouterr()
    assert cli(env, "--retry-failed", str(failed_run)) == 0
    err = capsys.readouterr().err
    assert "no longer in the database" in err and "nami@example.co.jp" in err
    assert posts(mock)[-1]["csv"]["text"] == HEAD + "Yamasaki@Example.co.jp,山﨑工業（新）,山﨑 花子\r\n"
    rec = history(env)[0]
    assert rec.sync["mode"] == "retry" and rec.sync["retry_of"] == failed_run and rec.sync["missing"] == 1
    assert cli(env, "--retry-failed", str(failed_run), "--where", "会社名~株") == 2  # a retry takes no conditions
    assert "leave out --where" in capsys.readouterr().err
    # a run without 失敗 rows has nothing to retry
    assert cli(env, "--retry-failed", str(rec.run_id)) == 1
    assert "nothing to retry" in capsys.readouterr().err


def test_history_carries_mode_and_counts(env, mock, capsys):
    assert cli(env, "--sync", "changes") == 0
    capsys.readouterr()
    args = ["--data-dir", str(env.data_dir), "--config-dir", str(env.config_dir)]
    assert main(["history", "--json", *args]) == 0
    row = json.loads(capsys.readouterr().out.splitlines()[0])
    assert row["sync"]["mode"] == "changes" and row["sync"]["new"] == 4 and row["sync"]["removed"] == 0
    assert main(["history", *args]) == 0
    assert "changes +4 ~0 !0" in capsys.readouterr().out


def test_a_refused_removal_is_not_asked_again_and_cannot_be_retried_as_a_registration(env, mock, capsys):
    assert cli(env, "--sync", "mirror") == 0
    sql(env, "DELETE FROM records WHERE f_email = ?", "maru@example.co.jp")
    httpx.post(f"{mock.url}/_mock/refuse", json={"addresses": ["maru@example.co.jp"], "reason": "処理できません"})
    assert cli(env, "--sync", "mirror", "--yes") == 0
    removal_run = history(env)[0]
    assert removal_run.sync["mode"] == "removal" and removal_run.counts["failure"] == 1
    capsys.readouterr()
    assert cli(env, "--sync", "mirror", "--dry-run") == 0
    assert "nothing changed since run #1" in capsys.readouterr().out  # and nobody to remove
    assert cli(env, "--retry-failed", str(removal_run.run_id)) == 1
    assert "run the mirror again" in capsys.readouterr().err
    assert len(posts(mock)) == 2
