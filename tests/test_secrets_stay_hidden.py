"""Secrets stay hidden: masked in every header, never echoed by check, absent from reprs and backups."""

from __future__ import annotations

from corefixtures import CANARY
from haihai_tui.core.settings import editing, store
from haihai_tui.core.settings.context import AppContext
from haihai_tui.core.settings.load import load_settings
from haihai_tui.core.settings.permissions import current_login
from test_run import cli, env, mock  # noqa: F401  (fixtures)


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
    editing.set_token(env, current_login(), "配配メール 顧客登録", "new-token-123")
    assert not (env.config_dir / "secrets.toml.bak").exists()
    old = f'= "{CANARY}"'  # the old token's line (the SMTP password "smtp-..." legitimately stays)
    assert old not in "".join(
        p.read_text(encoding="utf-8", errors="replace") for p in env.config_dir.iterdir() if p.is_file()
    )
