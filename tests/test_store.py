"""The settings-file store: strict read, byte-exact round trip, atomic locked writes, locate()."""

from __future__ import annotations

import os
import random
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tomlkit

from haihai_tui.core.problems import SettingsFileError
from haihai_tui.core.settings import store

WORKER = Path(__file__).with_name("_store_worker.py")

RICH = '''\
# 管理者設定 — edited by hand; keep my comments!

[system]                                   # システム設定
admin_emails = ["admin@example.co.jp"]     # where レポートメール goes

[system.smtp]                              # how report mail is sent
host = "mail.example.co.jp"
port = 587
starttls = true
from = "rakuraku@example.co.jp"

# --- users ---------------------------------------------------------

[[users]]
login = "tanaka"
name = "田中 一郎"
permissions = ["DB設定", "システム連携", "権限付与"]   # 全体権限

[[users]]   # second
login = "suzuki"
name = 'Suzuki "#1" [ops]'
permissions = [
  "DB設定",      # a comment inside the array
  # [not.a.table]
  "システム連携",
]

[[users]]
login = "sato"
name = "佐藤 花子"
permissions = []

[[databases]]
id = "customers"
name = "顧客管理"
fields = [
  { id = "email",   label = "メールアドレス", type = "email" },
  { id = "company", label = "会社名 [株]",    type = "text" },
  { id = "name",    label = "お名前",         type = "text" },
]

[[integrations]]
name = "配配メール 顧客登録"
note = """
  multi-line text with [brackets] and # hashes
  [integrations.params]
"""
limits = { rows = 5000, gid = "7" }
options.report_mail = 2

[integrations.headers]
"X-HM-apitoken" = "${HAIHAI_API_TOKEN}"

[integrations.params]
import_type = "0"
gid = "12"

[[integrations]]
name = "second"
params = { gid = "1", import_type = "0" }

[[integrations]]
name = "third"
params.gid = "3"  # dotted
'''


def write(path: Path, data: str | bytes) -> Path:
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def line_of(text: str, needle: str) -> int:
    return next(i for i, ln in enumerate(text.splitlines(), 1) if needle in ln)


# --- round trip --------------------------------------------------------------------------------------


def test_round_trip_is_byte_identical(tmp_path):
    p = write(tmp_path / "admin.toml", RICH)
    tf = store.load(p)
    assert tf.text == RICH
    assert tomlkit.dumps(tf.doc) == RICH
    tf.doc["system"]["smtp"]["port"] = 587  # same value: nothing to write
    new = store.save(tf)
    assert p.read_bytes() == RICH.encode()
    assert new.fingerprint == store.load(p).fingerprint


def test_crlf_file_round_trips(tmp_path):
    text = RICH.replace("\n", "\r\n")
    p = write(tmp_path / "admin.toml", text)
    tf = store.load(p)
    tf.doc["system"]["smtp"]["port"] = 25
    store.save(tf)
    after = p.read_bytes().decode()
    assert after == text.replace("port = 587", "port = 25")


def test_one_value_edit_changes_exactly_one_line(tmp_path):
    p = write(tmp_path / "admin.toml", RICH)
    tf = store.load(p)
    tf.doc["system"]["smtp"]["port"] = 2525
    store.save(tf)
    before, after = RICH.splitlines(), p.read_text().splitlines()
    assert len(before) == len(after)
    diff = [(a, b) for a, b in zip(before, after) if a != b]
    assert diff == [("port = 587", "port = 2525")]


def test_edit_inside_array_of_tables_keeps_its_comment(tmp_path):
    p = write(tmp_path / "admin.toml", RICH)
    tf = store.load(p)
    tf.doc["integrations"][0]["params"]["gid"] = "13"
    tf.doc["users"][1]["login"] = "suzuki2"
    store.save(tf)
    before, after = RICH.splitlines(), p.read_text().splitlines()
    diff = [(a, b) for a, b in zip(before, after) if a != b]
    assert len(before) == len(after)
    assert diff == [('login = "suzuki"', 'login = "suzuki2"'), ('gid = "12"', 'gid = "13"')]


# --- strict reading ----------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    tf = store.load(tmp_path / "nope.toml")
    assert tf.fingerprint is None and tf.text == "" and dict(tf.doc) == {}
    with pytest.raises(SettingsFileError, match=r"nope\.toml not found"):
        store.load(tmp_path / "nope.toml", missing_ok=False)
    with pytest.raises(SettingsFileError, match="is a folder") as ei:
        store.load(tmp_path, name="cfg")
    assert ei.value.file == "cfg"


@pytest.mark.parametrize(
    "text, line, column, words",
    [
        ("a = 1\n\n[t]\nport = \nx = 2\n", 4, 8, "invalid value"),
        ("[system]\nfrom = rakuraku@example\n", 2, 8, "needs quotes"),
        ('a = 1\nb = "never closed\n', 2, 18, "not closed"),
        ("ok = true\n顧客 = 1\n", 2, 1, '"顧客"'),
        ("x = 1\ny 2\n", 2, 3, "expected '='"),
    ],
)
def test_syntax_error_line_and_column(tmp_path, text, line, column, words):
    p = write(tmp_path / "db.toml", text)
    with pytest.raises(SettingsFileError) as ei:
        store.load(p)
    e = ei.value
    assert (e.file, e.line, e.column) == ("db.toml", line, column)
    assert words in e.message
    assert str(e).startswith(f"db.toml:{line}:{column}: ")
    assert "Traceback" not in str(e)


def test_unclosed_array_points_at_the_end(tmp_path):
    p = write(tmp_path / "db.toml", 'a = 1\ncols = ["x",\n  "y"\n')
    with pytest.raises(SettingsFileError) as ei:
        store.load(p)
    assert ei.value.line == 3 and "missing ']'" in ei.value.message


def test_bom_is_refused_with_the_fix(tmp_path):
    p = write(tmp_path / "admin.toml", b"\xef\xbb\xbfa = 1\n")
    with pytest.raises(SettingsFileError) as ei:
        store.load(p)
    assert (ei.value.file, ei.value.line) == ("admin.toml", 1)
    assert ei.value.message == (
        f"file starts with a UTF-8 BOM; save it as UTF-8 without BOM, e.g. `sed -i '1s/^\\xEF\\xBB\\xBF//' {p}`"
    )


def test_cp932_file_gets_the_iconv_command(tmp_path):
    data = 'a = 1\n# コメント\nname = "顧客管理"\n'.encode("cp932")
    p = write(tmp_path / "db.toml", data)
    with pytest.raises(SettingsFileError) as ei:
        store.load(p)
    e = ei.value
    assert e.line == 2 and e.column == 3
    assert "looks like Shift_JIS/Windows-31J" in e.message
    assert f"`iconv -f CP932 -t UTF-8 {p} > {p}.new && mv {p}.new {p}`" in e.message


def test_other_bad_encoding_names_the_line(tmp_path):
    p = write(tmp_path / "db.toml", b'a = 1\nb = 2\nc = "caf\xff"\n')
    with pytest.raises(SettingsFileError) as ei:
        store.load(p)
    e = ei.value
    assert (e.line, e.column) == (3, 9)
    assert "not valid UTF-8 (byte 0xFF)" in e.message and "Shift_JIS" not in e.message


def test_utf16_is_named(tmp_path):
    p = write(tmp_path / "db.toml", "a = 1\n".encode("utf-16"))
    with pytest.raises(SettingsFileError, match="UTF-16"):
        store.load(p)


@pytest.mark.parametrize(
    "text, line, words",
    [
        ("a = 1\nb = 2\na = 3\n", 3, "duplicate key a (first defined at line 1)"),
        (
            '[system.smtp]\nport = 1\n\n[system.smtp]\nhost = "x"\n',
            4,
            "table [system.smtp] is defined twice (first at line 1)",
        ),
        (
            '[[users]]\nlogin = "a"\n[[users]]\nlogin = "b"\nname = "x"\nlogin = "c"\n',
            6,
            "duplicate key users[1].login (first defined at line 4)",
        ),
        ("[x]\nf = { a = 1, a = 2 }\n", 2, "duplicate key x.f.a"),
        ("[a]\nb = 1\n[a.b]\n", 3, "[a.b] conflicts with a.b"),
    ],
)
def test_duplicates(tmp_path, text, line, words):
    p = write(tmp_path / "admin.toml", text)
    with pytest.raises(SettingsFileError) as ei:
        store.load(p)
    assert ei.value.line == line
    assert words in ei.value.message


def test_errors_never_show_a_secret(tmp_path):
    canary = "CANARY-7f3a9c"
    for text in (
        f'[tokens]\n"x" = "{canary}\n',
        f'[tokens]\n"x" = {canary}\n',
        f'[tokens]\nx = "{canary}"\nx = "{canary}"\n',
        f'[tokens]\nx = "{canary}" junk\n',
    ):
        p = write(tmp_path / "secrets.toml", text)
        with pytest.raises(SettingsFileError) as ei:
            store.load(p)
        assert canary not in str(ei.value) and canary not in repr(ei.value.args)


# --- saving ------------------------------------------------------------------------------------------


def test_conflict_when_changed_on_disk(tmp_path):
    p = write(tmp_path / "admin.toml", RICH)
    tf = store.load(p)
    tf.doc["system"]["smtp"]["port"] = 2525
    write(p, RICH.replace("tanaka", "tanaka2"))  # another session saved in between
    with pytest.raises(store.ConflictError) as ei:
        store.save(tf)
    assert str(ei.value) == (
        f"{p} was changed on disk since it was loaded (by another session or an editor); "
        "reload and apply your change again"
    )
    assert "tanaka2" in p.read_text()
    store.save(tf, force=True)
    assert "port = 2525" in p.read_text() and "tanaka2" not in p.read_text()


def test_conflict_when_created_or_deleted_since_load(tmp_path):
    p = tmp_path / "db.toml"
    tf = store.load(p)
    tf.doc["x"] = 1
    write(p, "y = 2\n")
    with pytest.raises(store.ConflictError):
        store.save(tf)
    tf2 = store.load(p)
    p.unlink()
    with pytest.raises(store.ConflictError):
        store.save(tf2)


def test_touch_without_change_is_no_conflict_and_saves_chain(tmp_path):
    p = write(tmp_path / "db.toml", "n = 0\n")
    tf = store.load(p)
    os.utime(p, ns=(1, 1))
    for n in range(1, 4):
        tf.doc["n"] = n
        tf = store.save(tf)
    assert p.read_text() == "n = 3\n"
    assert tf.fingerprint == store.load(p).fingerprint


def test_bak_holds_previous_version(tmp_path):
    p = write(tmp_path / "admin.toml", RICH)
    assert not (tmp_path / "admin.toml.bak").exists()
    tf = store.load(p)
    tf.doc["system"]["smtp"]["port"] = 1
    tf = store.save(tf)
    bak = tmp_path / "admin.toml.bak"
    assert bak.read_bytes() == RICH.encode()
    tf.doc["system"]["smtp"]["port"] = 2
    store.save(tf)
    assert "port = 1\n" in bak.read_text() and "port = 2\n" in p.read_text()
    assert sorted(x.name for x in tmp_path.iterdir()) == [".admin.toml.lock", "admin.toml", "admin.toml.bak"]


def test_modes_under_umask_zero(tmp_path, monkeypatch):
    folder = tmp_path / "cfg" / "haihai-tui"
    p = folder / "secrets.toml"
    seen: list[tuple[str, int]] = []
    real_replace = os.replace

    def spy(src, dst, *a, **kw):
        seen.append((Path(src).name, stat.S_IMODE(os.stat(src).st_mode)))
        return real_replace(src, dst, *a, **kw)

    monkeypatch.setattr(os, "replace", spy)
    old = os.umask(0)
    try:
        tf = store.load(p)
        tf.doc["tokens"] = {"a": "one"}
        tf = store.save(tf)
        tf.doc["tokens"]["a"] = "two"
        store.save(tf)
        other = write(folder / "admin.toml", "a = 1\n")
        os.chmod(other, 0o640)
        store.update(other, lambda d: d.update(a=2))
    finally:
        os.umask(old)
    mode = lambda q: stat.S_IMODE(os.stat(q).st_mode)  # noqa: E731
    assert mode(folder) == 0o700
    assert mode(p) == 0o600
    assert mode(folder / "secrets.toml.bak") == 0o600
    assert mode(folder / ".secrets.toml.lock") == 0o600
    assert mode(other) == 0o640  # an existing file keeps its mode
    assert mode(folder / "admin.toml.bak") == 0o600
    assert seen and all(name.endswith(".tmp") for name, _ in seen)
    # every temp file is 0600 while written; the admin.toml one gets 0640 just before it replaces it
    assert [m for n, m in seen if not n.startswith(".admin.toml.") or ".bak." in n] == [0o600] * (len(seen) - 1)
    assert store.check_private_file(p) is None and store.check_folder(folder) is None


def test_a_symlinked_settings_file_of_your_own_is_read_but_never_written_through(tmp_path):
    (tmp_path / "dotfiles").mkdir()
    real = write(tmp_path / "dotfiles" / "admin.toml", "a = 1\n")
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "admin.toml").symlink_to(real)
    tf = store.load(cfg / "admin.toml")
    assert tf.doc["a"] == 1
    tf.doc["a"] = 2
    for write_it in (lambda: store.update(cfg / "admin.toml", lambda d: d.update(a=2)), lambda: store.save(tf)):
        with pytest.raises(store.StoreError, match="is a symbolic link .* never writes through a link") as e:
            write_it()
        assert f"cp --remove-destination {real} {cfg / 'admin.toml'}" in str(e.value)
    assert (cfg / "admin.toml").is_symlink() and real.read_text() == "a = 1\n"
    assert sorted(p.name for p in cfg.iterdir()) == ["admin.toml"]  # no temp file, no .bak, no lock left behind


def test_update_that_raises_writes_nothing_and_releases_the_lock(tmp_path):
    p = write(tmp_path / "db.toml", "n = 1\n")

    def boom(doc):
        doc["n"] = 99
        raise ValueError("refused")

    with pytest.raises(ValueError):
        store.update(p, boom)
    assert p.read_text() == "n = 1\n"
    tf = store.update(p, lambda d: d.update(n=2))
    assert p.read_text() == "n = 2\n" and tf.doc["n"] == 2


def test_lock_timeout_names_the_holder(tmp_path):
    import fcntl

    p = write(tmp_path / "db.toml", "n = 1\n")
    fd = os.open(tmp_path / ".db.toml.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.write(fd, b"4242\n")
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(store.LockTimeout, match=r"pid 4242"):
            store.update(p, lambda d: d.update(n=2), lock_timeout=0.05)
    finally:
        os.close(fd)
    assert p.read_text() == "n = 1\n"


def test_folder_that_cannot_be_made_is_a_clear_error(tmp_path):
    blocker = write(tmp_path / "not-a-folder", "")
    with pytest.raises(SettingsFileError, match="cannot read .*: Not a directory"):
        store.load(blocker / "db.toml")
    tf = store.TomlFile(blocker / "db.toml", tomlkit.parse("n = 1\n"), "", None)
    with pytest.raises(store.StoreError, match=r"cannot write .*not-a-folder/db.toml: .*; the file was not changed"):
        store.save(tf)


def test_disk_full_leaves_the_file_and_no_temp(tmp_path, monkeypatch):
    import errno

    p = write(tmp_path / "db.toml", "n = 1  # keep\n")

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(store.StoreError) as ei:
        store.update(p, lambda d: d.update(n=2))
    assert str(ei.value) == f"cannot write {p}: No space left on device; the file was not changed"
    monkeypatch.undo()
    assert p.read_text() == "n = 1  # keep\n"
    assert _leftovers(tmp_path, p.name) == []


def test_unwritable_folder_is_a_clear_error(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root ignores folder permissions")
    p = write(tmp_path / "db.toml", "n = 1\n")
    store.update(p, lambda d: d.update(n=2))  # creates the lock file while allowed
    os.chmod(tmp_path, 0o500)
    try:
        with pytest.raises(store.StoreError, match=r"cannot write .*db.toml: Permission denied; the file was not"):
            store.update(p, lambda d: d.update(n=3))
    finally:
        os.chmod(tmp_path, 0o700)


# --- concurrency and crashes -------------------------------------------------------------------------


def _worker(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(WORKER), *map(str, args)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )


def test_two_processes_lose_no_update(tmp_path):
    p = write(tmp_path / "db.toml", "# counter shared by two processes\ncounter = 0\n")
    procs = [_worker("incr", p, 200, tag) for tag in ("a", "b")]
    for pr in procs:
        assert pr.stdout.readline().strip() == "ready"
    for pr in procs:  # start both together so they really contend for the lock
        pr.stdin.write("go\n")
        pr.stdin.flush()
    for pr in procs:
        assert pr.stdout.readline().strip() == "done"
        assert pr.wait(timeout=30) == 0
    doc = store.load(p).doc
    assert doc["counter"] == 400
    assert doc["by"]["a"] == 200 and doc["by"]["b"] == 200
    assert p.read_text().startswith("# counter shared by two processes\n")


def _leftovers(folder: Path, name: str) -> list[str]:
    return sorted(x.name for x in folder.iterdir() if x.name not in {name, name + ".bak", f".{name}.lock"})


def test_sigkill_during_saves_leaves_a_parseable_file(tmp_path):
    p = tmp_path / "big.toml"
    rng = random.Random(20240607)
    last = 0
    for _ in range(5):
        pr = _worker("churn", p)
        assert pr.stdout.readline().strip() == "start"
        # a random kill point is the point of this test, so here a sleep is the event
        time.sleep(rng.uniform(0.0, 0.4))
        pr.send_signal(signal.SIGKILL)
        reported = [int(x) for x in pr.stdout.read().split()]
        pr.wait()
        last = reported[-1] if reported else last
        tf = store.load(p)  # parses: never a half-written file
        assert tf.doc["version"] in (last, last + 1)
        assert len(tf.doc["item"]) == 800
        last = tf.doc["version"]
        for name in _leftovers(tmp_path, p.name):  # a temp file is never taken for the settings file
            assert re.fullmatch(r"\.big\.toml\.(bak\.)?\d+\.[0-9a-f]{8}\.tmp", name), name
        if (tmp_path / "big.toml.bak").exists():
            store.parse((tmp_path / "big.toml.bak").read_text())
    store.update(p, lambda d: d.update(version=last + 1))
    assert _leftovers(tmp_path, p.name) == []  # the next writer clears what a killed one left


def test_kill_right_before_replace_keeps_the_old_file(tmp_path):
    p = write(tmp_path / "big.toml", "version = 7  # keep\n")
    os.chmod(p, 0o600)
    pr = _worker("hang", p)
    assert pr.stdout.readline().strip() == "replacing"
    pr.send_signal(signal.SIGKILL)
    pr.wait()
    assert p.read_text() == "version = 7  # keep\n"
    temps = _leftovers(tmp_path, p.name)
    assert len(temps) == 1 and temps[0].startswith(".big.toml.") and temps[0].endswith(".tmp")
    assert "version = 8" in (tmp_path / temps[0]).read_text()
    assert stat.S_IMODE(os.stat(tmp_path / temps[0]).st_mode) == 0o600
    tf = store.load(p)
    assert tf.doc["version"] == 7
    tf.doc["version"] = 9
    store.save(tf)
    assert _leftovers(tmp_path, p.name) == [] and "version = 9" in p.read_text()


# --- locate ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "keypath, needle",
    [
        (("system", "smtp", "port"), "port = 587"),
        (("system", "admin_emails"), "admin_emails"),
        (("system",), "[system]"),
        (("users",), 'login = "tanaka"'),  # the first [[users]] header is one line above
        (("users", 2, "permissions"), "permissions = []"),
        (("users", 1, "permissions", 1), '  "システム連携",'),
        (("users", -1, "login"), 'login = "sato"'),
        (("integrations", 0, "params", "gid"), 'gid = "12"'),
        (("integrations", 0, "options", "report_mail"), "options.report_mail"),
        (("integrations", 2, "params", "gid"), 'params.gid = "3"'),
        (("integrations", 0, "limits", "gid"), "limits = { rows"),
        (("integrations", 1, "params", "gid"), 'params = { gid = "1"'),
        (("integrations", 0, "headers", "X-HM-apitoken"), '"X-HM-apitoken"'),
        (("databases", 0, "fields", 1), '{ id = "company"'),
        (("databases", 0, "fields", 2, "label"), '{ id = "name"'),
        (("databases", 0, "fields", 9), "fields = ["),
        (("integrations", 0, "nope"), 'name = "配配メール 顧客登録"'),
    ],
)
def test_locate(keypath, needle):
    expected = line_of(RICH, needle) - (1 if keypath == ("users",) else 0)
    if keypath == ("integrations", 0, "nope"):
        expected -= 1  # the [[integrations]] header line
    assert store.locate(RICH, keypath) == expected


def test_locate_is_not_fooled_by_comments_and_strings():
    assert store.locate(RICH, ("not", "a", "table")) is None
    assert store.locate(RICH, ("brackets",)) is None
    # the "[integrations.params]" inside the multi-line string is not a header
    assert store.locate(RICH, ("integrations", 0, "params")) == RICH.splitlines().index("[integrations.params]") + 1
    assert store.locate(RICH, ("users", 1, "name")) == line_of(RICH, "Suzuki")
    assert store.locate("", ("a",)) is None
    assert store.locate("a = [1, 2\n", ("a", 1)) == 1  # broken text: what was found so far
    tf = store.TomlFile(Path("admin.toml"), tomlkit.parse(RICH), RICH, None)
    assert str(tf.problem(("system", "smtp", "port"), "bad")) == f"admin.toml:{line_of(RICH, 'port = 587')}: bad"


# --- file permissions --------------------------------------------------------------------------------


def test_check_private_file(tmp_path):
    p = tmp_path / "secrets.toml"
    assert store.check_private_file(p) is None
    write(p, "[tokens]\n")
    for mode in (0o600, 0o400, 0o700):
        os.chmod(p, mode)
        assert store.check_private_file(p) is None
    os.chmod(p, 0o644)
    assert store.check_private_file(p) == f"{p} is readable by others (mode 0644); run: chmod 600 {p}"
    os.chmod(p, 0o620)
    assert store.check_private_file(p) == f"{p} is writable by others (mode 0620); run: chmod 600 {p}"
    os.chmod(p, 0o666)
    assert store.check_private_file(p) == f"{p} is readable and writable by others (mode 0666); run: chmod 600 {p}"
    spaced = write(tmp_path / "my secrets.toml", "")
    os.chmod(spaced, 0o640)
    assert store.check_private_file(spaced).endswith(f"run: chmod 600 '{spaced}'")


def test_check_folder(tmp_path):
    d = tmp_path / "cfg"
    assert store.check_folder(d) is None
    d.mkdir()
    os.chmod(d, 0o700)
    assert store.check_folder(d) is None
    os.chmod(d, 0o755)
    assert store.check_folder(d) == f"settings folder {d} is readable by others (mode 0755); run: chmod 700 {d}"
    os.chmod(d, 0o770)
    assert "writable by others (mode 0770); run: chmod 700" in store.check_folder(d)


def _leaves(node, path=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _leaves(v, path + (i,))
    else:
        yield path


def test_locate_finds_every_value_of_the_document():
    import tomllib

    lines = RICH.splitlines()
    leaves = list(_leaves(tomllib.loads(RICH)))
    assert len(leaves) >= 40
    for path in leaves:
        line = store.locate(RICH, path)
        assert line is not None, path
        key = next(k for k in reversed(path) if isinstance(k, str))
        assert key in lines[line - 1] or isinstance(path[-1], int), (path, line)


def test_scanner_survives_any_truncation_or_damage():
    import random

    rng = random.Random(7)
    for i in range(0, len(RICH) + 1, 3):
        store.locate(RICH[:i], ("integrations", 0, "params", "gid"))
    for _ in range(300):
        chars = list(RICH)
        for _ in range(5):
            chars[rng.randrange(len(chars))] = rng.choice("[]{}\"'#=.,\n \\")
        store.locate("".join(chars), ("users", 1, "permissions", 0))
