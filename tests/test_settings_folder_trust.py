"""Settings another account could have written are neither read nor written (OpenSSH StrictModes, see
haihai_tui/core/settings/trust.py), and the files the app creates are never group/other-writable."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from corefixtures import CANARY, make_settings
from haihai_tui.cli.demo import lay_demo
from haihai_tui.cli.main import main
from haihai_tui.core.paths import Paths
from haihai_tui.core.problems import SettingsFileError
from haihai_tui.core.settings import editing, store, trust
from haihai_tui.core.settings.load import load_settings

OTHER = 1000  # another account (tests run as root, which may chown)
EVIL = "https://evil.example/api/v1/custcsv/import"


def mode(p: Path) -> int:
    return stat.S_IMODE(os.lstat(p).st_mode)


def run_check(paths: Paths) -> int:
    return main(["check", "--config-dir", str(paths.config_dir), "--data-dir", str(paths.data_dir)])


@pytest.fixture
def other_users_folder(tmp_path: Path) -> Path:
    """A folder of another account holding its own secrets.toml and a db.toml that sends the token elsewhere."""
    theirs = tmp_path / "mallory"
    theirs.mkdir(mode=0o755)
    (theirs / "secrets.toml").write_text('[tokens]\n"配配メール 顧客登録" = "theirs"\n', encoding="utf-8")
    (theirs / "secrets.toml").chmod(0o600)
    for p in (theirs, theirs / "secrets.toml"):
        os.chown(p, OTHER, OTHER)
    return theirs


def test_a_folder_others_can_write_holding_a_link_into_their_folder_is_neither_read_nor_written(
    tmp_path, other_users_folder, capsys
):
    paths = make_settings(tmp_path)
    paths.config_dir.chmod(0o777)  # the defect: another account could write the settings folder...
    paths.secrets.unlink()  # ...and made secrets.toml a link into its own folder
    paths.secrets.symlink_to(other_users_folder / "secrets.toml")
    os.chown(paths.secrets, OTHER, OTHER, follow_symlinks=False)
    paths.db.write_text(
        paths.db.read_text(encoding="utf-8").replace("https://a01.hm-f.jp/api_sample/api/v1/custcsv/import", EVIL),
        encoding="utf-8",
    )
    loaded = load_settings(paths, {})
    cfg = paths.config_dir
    assert {p.file for p in loaded.errors} == {"admin.toml", "db.toml", "secrets.toml", "tui.toml"}
    first = str(loaded.errors[0])
    assert f"run: chmod go-w {cfg}" in first and "writable by others (mode 0777)" in first
    assert loaded.settings.integrations == [] and loaded.settings.secrets.tokens == {} and loaded.settings.load_errors
    assert run_check(paths) == 1 and f"not read: folder {cfg} above" in capsys.readouterr().out
    with pytest.raises(SettingsFileError, match=f"not read: folder {cfg} above admin.toml"):
        editing.set_token(paths, "admin", "配配メール 顧客登録", CANARY)
    # the fix the message gives makes the folder trusted again; the link someone else owns still is not
    cfg.chmod(0o755)
    assert run_check(paths) == 1
    out = capsys.readouterr().out
    assert f"secrets.toml: not read: {paths.secrets} is a symbolic link owned by " in out and f"uid {OTHER}" in out
    assert "replace it with a file of your own" in out and "theirs" not in out
    with pytest.raises(store.StoreError, match="never writes through a link"):  # nor goes the token through it
        editing.set_token(paths, "admin", "配配メール 顧客登録", CANARY)
    assert CANARY not in (other_users_folder / "secrets.toml").read_text(encoding="utf-8")


def test_a_link_someone_else_owns_is_refused_and_your_own_link_is_read(tmp_path, other_users_folder):
    paths = make_settings(tmp_path)
    real = tmp_path / "dotfiles-tui.toml"
    real.write_text('[keys]\nrun = "f5"\n', encoding="utf-8")
    paths.tui.unlink()
    paths.tui.symlink_to(real)
    assert load_settings(paths, {}).settings.keys == {"run": "f5"}
    os.chown(paths.tui, OTHER, OTHER, follow_symlinks=False)
    [p] = load_settings(paths, {}).problems
    assert p.file == "tui.toml" and "symbolic link owned by" in p.message and f"uid {OTHER}" in p.message


@pytest.mark.parametrize("bits", [0o020, 0o002])
def test_a_settings_file_others_can_write_is_refused_with_the_chmod_that_fixes_it(paths, bits):
    paths.db.chmod(0o644 | bits)
    [p] = load_settings(paths, {}).problems
    assert p.file == "db.toml" and p.message.endswith(f"so another account could change it; run: chmod go-w {paths.db}")
    assert "writable by its group" in p.message if bits == 0o020 else "writable by others" in p.message
    with pytest.raises(store.StoreError, match="not saved: .* chmod go-w"):
        store.update(paths.db, lambda doc: None)
    paths.db.chmod(0o644)
    assert load_settings(paths, {}).problems == []


def test_a_folder_above_the_settings_writable_by_others_is_refused_unless_sticky(tmp_path):
    above = tmp_path / "shared"
    above.mkdir()
    paths = make_settings(above)
    above.chmod(0o777)
    problems = load_settings(paths, {}).problems
    assert len(problems) == 4 and all(f"folder {above} above" in p.message for p in problems)
    assert f"could replace config; run: chmod go-w {above}" in problems[0].message
    above.chmod(0o1777)  # like /tmp: nobody but an entry's owner may rename it
    assert load_settings(paths, {}).problems == []
    assert trust.refusal(paths.db) is None


def test_the_walk_stops_at_the_home_folder(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    paths = make_settings(home)
    tmp_path.chmod(0o777)  # above home: not the user's business (like a shared /home)
    try:
        assert trust.refusal(paths.db, home=home) is None
        assert "folder" in trust.refusal(paths.db, home=tmp_path / "elsewhere")
        home.chmod(0o775)
        assert f"folder {home} above db.toml is writable by its group" in trust.refusal(paths.db, home=home)
    finally:
        tmp_path.chmod(0o700)


def test_files_the_app_creates_are_never_group_or_other_writable_whatever_the_umask(tmp_path):
    old = os.umask(0)
    try:
        paths = lay_demo(tmp_path / "demo", login="admin", token=CANARY, mock_url="http://127.0.0.1:9", rows=3)
        assert main(["init", "--config-dir", str(tmp_path / "init")]) == 0
        store.update(paths.config_dir / "new.toml", lambda doc: doc.update(a=1))
    finally:
        os.umask(old)
    for name in ("admin.toml", "db.toml", "tui.toml"):
        assert mode(paths.config_dir / name) == 0o644, name
        assert mode(tmp_path / "init" / name) == 0o644, name
    for p in (paths.secrets, tmp_path / "init" / "secrets.toml", paths.config_dir / "new.toml"):
        assert mode(p) == 0o600, p
    assert mode(paths.config_dir) == 0o700 and mode(tmp_path / "init") == 0o700
    assert load_settings(paths, {}).errors == []
