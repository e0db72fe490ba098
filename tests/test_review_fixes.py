"""Regression tests for defects found in review: secrets, settings errors, failures after an upload."""

from __future__ import annotations

import httpx
import pytest

from haihai_tui.core.settings import editing
from haihai_tui.core.settings import store
from haihai_tui.core.settings.context import AppContext
from haihai_tui.core.run.history import History
from haihai_tui.core.settings.load import load_settings

from corefixtures import CANARY
from test_run import cli, env, mock, received  # noqa: F401  (fixtures)


def test_secret_reference_in_any_header_is_masked(env, mock, capsys):
    def add(doc):
        doc["integrations"][0]["headers"]["X-HM-Sig"] = "${secret:配配メール 顧客登録}"
    store.update(env.db, add)
    assert cli(env, "--integration", "配配メール 顧客登録", "--dry-run") == 0
    out = capsys.readouterr()
    assert "X-HM-Sig: ********" in out.out and CANARY not in out.out + out.err


def test_check_never_echoes_secret_values(env, capsys):
    env.secrets.write_text(f'tokens = "{CANARY}"\n[smtp]\npassword = 7777123456\n', encoding="utf-8")
    env.secrets.chmod(0o600)
    problems = [str(p) for p in load_settings(env, {}).problems]
    assert problems and not any(CANARY in p or "7777123456" in p for p in problems)


def test_reprs_hold_no_secret(env):
    ctx = AppContext(env, environ={"HAIHAI_API_TOKEN": CANARY})
    assert CANARY not in repr(ctx) and CANARY not in repr(ctx.loaded) and CANARY not in repr(ctx.settings)


def test_new_token_leaves_no_backup_copy(env):
    from haihai_tui.core.settings.permissions import current_login
    editing.set_token(env, current_login(), "配配メール 顧客登録", "new-token-123")
    assert not (env.config_dir / "secrets.toml.bak").exists()
    old = f'= "{CANARY}"'   # the old token's line (the SMTP password "smtp-..." legitimately stays)
    assert old not in "".join(p.read_text(encoding="utf-8", errors="replace")
                              for p in env.config_dir.iterdir() if p.is_file())


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
    from haihai_tui.core.haihai import client

    async def boom(*a, **k):
        raise client.ClientError("result.csv: the server stopped answering")
    monkeypatch.setattr(client, "fetch_result_csv", boom)
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
