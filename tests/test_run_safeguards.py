"""Safeguards of a run: bad settings block it, failures after an accepted upload keep its outcome,
stale files of dead processes are swept, refused requests do not count against the quota."""

from __future__ import annotations

from haihai_tui.core.run.history import History
from haihai_tui.core.settings import store
from test_run import cli, env, mock, received  # noqa: F401  (fixtures)


def test_wrong_typed_param_blocks_the_run(env, mock, capsys):
    def bad(doc):
        doc["integrations"][0]["params"]["gid"] = 12.0

    store.update(env.db, bad)
    assert cli(env, "--integration", "配配メール 顧客登録", "--dry-run") == 1
    err = capsys.readouterr().err
    assert "params.gid must be a string" in err and "haihai-tui check" in err
    assert received(mock) == []


def test_bad_report_address_does_not_fail_the_run(env, mock, capsys):
    def bad(doc):
        doc["users"][0]["email"] = "not an address"

    store.update(env.admin, bad)
    assert cli(env, "--integration", "配配メール 顧客登録") == 0
    assert History(env.history_db).list()[0].outcome.value == "done"


def test_result_fetch_failure_after_upload_keeps_done(env, mock, monkeypatch, capsys):
    from haihai_tui.core.haihai import status
    from haihai_tui.core.haihai.answers import ClientError

    async def boom(*a, **k):
        raise ClientError("result.csv: the server stopped answering")

    monkeypatch.setattr(status, "fetch_result_csv", boom)
    assert cli(env, "--integration", "配配メール 顧客登録") == 0
    rec = History(env.history_db).list()[0]
    assert rec.outcome.value == "done" and rec.ended_at
    assert "could not read the row results" in capsys.readouterr().err


def test_stale_csv_of_dead_process_is_swept(env, mock):
    env.runs_dir.mkdir(parents=True, exist_ok=True)
    stale = env.runs_dir / "customer_list-999999-dead.csv"
    stale.write_bytes(b"x")
    assert cli(env, "--integration", "配配メール 顧客登録", "--dry-run") == 0
    assert not stale.exists()


def test_failed_request_does_not_count_against_quota(env, mock):
    env.secrets.write_text('[tokens]\n"配配メール 顧客登録" = "wrong"\n', encoding="utf-8")
    env.secrets.chmod(0o600)
    assert cli(env, "--integration", "配配メール 顧客登録") == 1
    assert History(env.history_db).used_today("127.0.0.1") == 0
