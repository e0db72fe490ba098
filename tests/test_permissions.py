"""The 全体権限 rules, the Secret type, and edits written back through the store."""

from __future__ import annotations

import pickle

import pytest

from corefixtures import CANARY
from haihai_tui.core.secret import Secret
from haihai_tui.core.settings import editing
from haihai_tui.core.settings import permissions as perm
from haihai_tui.core.settings.editing import EditRefused
from haihai_tui.core.settings.load import load_settings
from haihai_tui.core.settings.model import Integration, Menu
from haihai_tui.core.settings.permissions import PermissionDenied, User


def users():
    return [
        User("boss", permissions=[perm.GRANT, perm.DB_SETTINGS, perm.INTEGRATION, perm.USER_SETTINGS]),
        User("ops", permissions=[perm.DB_SETTINGS]),
        User("viewer"),
    ]


def test_fifteen_permissions():
    assert len(perm.PERMISSION_NAMES) == 15
    assert perm.PERMISSION_NAMES[-1] == "システム連携" and "DB設定" in perm.PERMISSION_NAMES


def test_configure_needs_both():
    u = users()
    assert perm.may_configure(u[0])
    assert not perm.may_configure(u[1]) and perm.missing_to_configure(u[1]) == [perm.INTEGRATION]
    assert not perm.may_configure(None)
    assert "no user entry" in perm.configure_refusal(None, "ghost")
    assert "システム連携" in perm.configure_refusal(u[1], "ops")
    assert all(perm.may_run(x) for x in u + [None])


def test_grant_rules():
    u = users()
    perm.check_permission_change(u, u[0], "ops", [perm.DB_SETTINGS, perm.INTEGRATION])
    with pytest.raises(PermissionDenied, match="権限付与"):
        perm.check_permission_change(u, u[1], "viewer", [perm.DB_SETTINGS])
    u[1].permissions.append(perm.GRANT)
    with pytest.raises(PermissionDenied, match="do not hold it yourself"):
        perm.check_permission_change(u, u[1], "viewer", ["ログ閲覧"])
    with pytest.raises(PermissionDenied, match="unknown permission"):
        perm.check_permission_change(u, u[0], "ops", ["nope"])


def test_last_grant_holder_keeps_it():
    u = users()
    with pytest.raises(PermissionDenied, match="last holder"):
        perm.check_permission_change(u, u[0], "boss", [perm.DB_SETTINGS])
    with pytest.raises(PermissionDenied, match="last holder"):
        perm.check_user_removal(u, u[0], "boss")
    u[1].permissions.append(perm.GRANT)
    perm.check_permission_change(u, u[0], "boss", [perm.DB_SETTINGS, perm.INTEGRATION])


def test_secret_never_prints():
    s = Secret(CANARY, "test")
    for text in (repr(s), str(s), f"{s}", f"{s!r}", "%s" % s, str([s]), str({"t": s})):  # noqa: UP031
        assert CANARY not in text
    assert s.reveal() == CANARY
    with pytest.raises(TypeError):
        pickle.dumps(s)
    try:
        raise ValueError(f"bad token {s}")
    except ValueError as e:
        assert CANARY not in str(e)


def test_set_permissions_changes_one_line(paths):
    before = paths.admin.read_text(encoding="utf-8").splitlines()
    editing.set_permissions(paths, "admin", "tanaka", ["DB設定", "システム連携"])
    after = paths.admin.read_text(encoding="utf-8").splitlines()
    changed = [(a, b) for a, b in zip(before, after) if a != b]
    assert len(before) == len(after) and len(changed) == 1
    assert changed[0][1].startswith('permissions = ["DB設定", "システム連携"]')
    assert changed[0][1].endswith("# may look and run, may not change settings")  # its comment survives
    assert "# ユーザ (users)" in "\n".join(after)
    assert perm.may_configure(perm.find_user(load_settings(paths, {}).settings.users, "tanaka"))


def test_set_permissions_refuses_a_lost_update(paths):
    editing.set_permissions(paths, "admin", "tanaka", ["DB設定"], expected=["ログ閲覧"])
    with pytest.raises(EditRefused, match="someone else changed"):
        editing.set_permissions(paths, "admin", "tanaka", ["システム連携"], expected=["ログ閲覧"])


def test_adding_an_existing_login_is_refused(paths):
    with pytest.raises(EditRefused, match="already exists"):
        editing.save_user(paths, "admin", User("tanaka", "別人", "", []))


def test_bootstrap_only_into_an_empty_user_list(paths):
    with pytest.raises(EditRefused, match="already has users"):
        editing.bootstrap_first_admin(paths, "intruder")
    paths.admin.write_text("[system]\nadmin_emails = []\n", encoding="utf-8")
    editing.bootstrap_first_admin(paths, "newadmin")
    s = load_settings(paths, {}).settings
    assert [u.login for u in s.users] == ["newadmin"] and len(s.users[0].permissions) == 15
    with pytest.raises(EditRefused):
        editing.bootstrap_first_admin(paths, "second")


def test_set_permissions_refused_for_non_granter(paths):
    with pytest.raises(EditRefused, match="権限付与"):
        editing.set_permissions(paths, "tanaka", "tanaka", ["DB設定"])
    with pytest.raises(EditRefused, match="last holder"):
        editing.set_permissions(paths, "admin", "admin", ["DB設定"])


def test_users_add_edit_remove(paths):
    editing.save_user(paths, "admin", User("suzuki", "鈴木", "s@example.co.jp", ["DB設定"]))
    editing.save_user(paths, "admin", User("suzuki2", "鈴木", "s@example.co.jp", ["DB設定"]), "suzuki")
    with pytest.raises(EditRefused, match="do not hold it yourself"):
        editing.save_user(paths, "admin", User("sato", "佐藤", "", ["ログ閲覧"]))
    s = load_settings(paths, {}).settings
    assert [u.login for u in s.users] == ["admin", "tanaka", "suzuki2"]
    editing.remove_user(paths, "admin", "suzuki2")
    with pytest.raises(EditRefused, match="ユーザ設定"):
        editing.save_user(paths, "tanaka", User("x"))
    with pytest.raises(EditRefused, match="already exists"):
        editing.save_user(paths, "admin", User("tanaka"), "admin")


def test_save_integration_new_rename_delete(paths):
    s = load_settings(paths, {}).settings
    g = Integration(
        name="新しい連携",
        url="https://a01.hm-f.jp/x/api/v1/custcsv/import",
        headers={"X-HM-apitoken": "${secret:配配メール 顧客登録}"},
        params={"login_id": "ops01", "import_type": "2", "spid": "7"},
    )
    editing.save_integration(paths, "admin", g, environ={})
    loaded = load_settings(paths, {})
    assert loaded.settings.integration("新しい連携").params == g.params
    assert not loaded.errors
    text = paths.db.read_text(encoding="utf-8")
    assert "# URL: https://{HOST}/{PATH}" in text  # comments survive
    # rename the original: menus follow
    orig = s.integration("配配メール 顧客登録")
    orig.name = "顧客登録 v2"
    editing.save_integration(paths, "admin", orig, "配配メール 顧客登録", environ={})
    s2 = load_settings(paths, {}).settings
    assert s2.menus[0].integrations[0] == "顧客登録 v2"
    assert editing.delete_integration(paths, "admin", "顧客登録 v2") == ["顧客一覧"]
    assert "顧客登録 v2" not in load_settings(paths, {}).settings.menus[0].integrations


def test_save_integration_refuses_errors_and_non_configurers(paths):
    g = Integration(
        name="bad",
        url="http://example.com/api/v1/custcsv/import",
        headers={"X-HM-apitoken": "${secret:配配メール 顧客登録}"},
        params={"import_type": "4"},
    )
    with pytest.raises(EditRefused) as e:
        editing.save_integration(paths, "admin", g, environ={})
    assert any("https" in p for p in e.value.problems) and any("login_id" in p for p in e.value.problems)
    with pytest.raises(EditRefused, match="システム連携"):
        editing.save_integration(paths, "tanaka", g, environ={})


def test_save_menu(paths):
    m = Menu(name="顧客一覧", database="customers", columns=["email", "name"], integrations=["配配メール 配信停止"])
    editing.save_menu(paths, "admin", m, "顧客一覧")
    assert load_settings(paths, {}).settings.menus[0].columns == ["email", "name"]
    with pytest.raises(EditRefused, match="no column"):
        editing.save_menu(paths, "admin", Menu(name="x", database="customers", columns=["nope"]))


def test_set_token_goes_to_private_secrets(paths):
    editing.set_token(paths, "admin", "新しい連携", "tok-" + CANARY)
    assert paths.secrets.stat().st_mode & 0o777 == 0o600
    assert "tok-" + CANARY not in paths.db.read_text(encoding="utf-8")
    assert load_settings(paths, {}).settings.secrets.tokens["新しい連携"].reveal() == "tok-" + CANARY
