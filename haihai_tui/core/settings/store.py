"""TOML settings files: strict read, tomlkit round trip, atomic locked write, where-is-this-key.

Reading validates with the standard ``tomllib`` (strict TOML 1.0, exact positions) and then keeps
the ``tomlkit`` document, so ``save()`` writes back comments, order and untouched lines byte for
byte. Writing happens under ``fcntl.flock`` on ``<folder>/.<name>.lock`` (not the settings file
itself: ``os.replace`` swaps that inode), through a 0600 temp file in the same folder, fsync,
``os.replace`` and an fsync of the folder. Only writers holding that lock create temp files, so a
temp file found while holding it was left by a killed writer and is removed.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import re
import secrets as _rand
import shlex
import stat
import time
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import tomlkit
from tomlkit.exceptions import ParseError, TOMLKitError

from haihai_tui.core.paths import ensure_private_dir
from haihai_tui.core.problems import Problem, SettingsFileError
from haihai_tui.core.settings import trust
from haihai_tui.core.settings.tomlpos import MAX_DEPTH, scan

__all__ = [
    "TomlFile",
    "load",
    "parse",
    "save",
    "update",
    "locate",
    "StoreError",
    "ConflictError",
    "LockTimeout",
    "check_private_file",
    "check_folder",
]

Fingerprint = tuple[int, int, str]
_BOM = b"\xef\xbb\xbf"


class StoreError(Exception):
    """A settings file could not be written; the message says why and what to do."""

    def __init__(self, path: Path | str, message: str):
        self.path = str(path)
        super().__init__(message)


class ConflictError(StoreError):
    """The file changed on disk between load() and save()."""

    def __init__(self, path: Path | str):
        super().__init__(
            path,
            f"{path} was changed on disk since it was loaded (by another session or an "
            "editor); reload and apply your change again",
        )


class LockTimeout(StoreError):
    """Another process kept the file's lock for too long."""


@dataclass
class TomlFile:
    path: Path
    doc: tomlkit.TOMLDocument = field(repr=False)
    text: str = field(repr=False)
    fingerprint: Fingerprint | None

    def line(self, keypath: tuple) -> int | None:
        """1-based line where ``keypath`` (or its longest defined prefix) is, in the text as loaded."""
        return locate(self.text, keypath)

    def problem(self, keypath: tuple, message: str, severity: str = "error") -> Problem:
        return Problem(self.path.name, self.line(keypath), message, severity)  # type: ignore[arg-type]


# --- reading ---------------------------------------------------------------------------------------


def _fingerprint(st: os.stat_result, data: bytes) -> Fingerprint:
    return (st.st_mtime_ns, st.st_size, hashlib.sha256(data).hexdigest())


def _read(path: Path, name: str | None = None) -> tuple[bytes, Fingerprint] | None:
    """The file's bytes and fingerprint, or None if it does not exist."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    st = os.fstat(fd)
    if stat.S_ISDIR(st.st_mode):
        os.close(fd)
        raise SettingsFileError(name or path.name, None, f"{path} is a folder, not a settings file")
    with os.fdopen(fd, "rb") as f:
        data = f.read()
    return data, _fingerprint(st, data)


def _looks_cp932(data: bytes) -> bool:
    """Decodes as Windows-31J into Japanese text (cp932 maps almost any byte, so ask for kana/kanji)."""
    try:
        text = data.decode("cp932")
    except UnicodeDecodeError:
        return False
    return bool(re.search(r"[\u3040-\u30ff\u4e00-\u9fff\uff01-\uff60]", text)) and not re.search(
        r"[\x80-\x9f\ue000-\uf8ff]", text
    )


def _decode(path: Path, data: bytes, name: str) -> str:
    q = shlex.quote(str(path))
    if data.startswith(_BOM):
        raise SettingsFileError(
            name,
            1,
            f"file starts with a UTF-8 BOM; save it as UTF-8 without BOM, e.g. `sed -i '1s/^\\xEF\\xBB\\xBF//' {q}`",
        )
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise SettingsFileError(
            name,
            1,
            "file is UTF-16, not UTF-8; save it as UTF-8 (without BOM), e.g. "
            f"`iconv -f UTF-16 -t UTF-8 {q} > {q}.new && mv {q}.new {q}`",
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        bad = e.start
    line = data.count(b"\n", 0, bad) + 1
    col = len(data[data.rfind(b"\n", 0, bad) + 1 : bad].decode("utf-8", "replace")) + 1
    if not _looks_cp932(data):
        raise SettingsFileError(name, line, f"file is not valid UTF-8 (byte 0x{data[bad]:02X}); save it as UTF-8", col)
    raise SettingsFileError(
        name,
        line,
        "file is not UTF-8; looks like Shift_JIS/Windows-31J; convert with "
        f"`iconv -f CP932 -t UTF-8 {q} > {q}.new && mv {q}.new {q}`",
        col,
    )


_HINTS = {
    "Invalid value": 'invalid value (text needs quotes: key = "text"; true/false are lower case)',
    "Invalid statement": "invalid line: expected `key = value`, `[table]` or `[[array]]` (a key with "
    'characters other than A-Z a-z 0-9 _ - needs quotes: "顧客" = ...)',
    "Illegal character '\\n'": 'string is not closed on its line (a "..." string ends on the same line; '
    'use """...""" for text over several lines)',
    "Expected '=' after a key in a key/value pair": "expected '=' after the key (write `key = value`)",
    "Invalid initial character for a key part": (
        "invalid key: use letters, digits, '_' or '-', or put it in quotes (\"キー\" = ...)"
    ),
    "Unclosed array": "array is not closed: missing ']' or a ',' between items",
    "Unclosed inline table": "inline table is not closed: missing '}' or a ',' between items "
    "(an inline table must stay on one line)",
    "Unterminated string": "string is not closed: missing the closing quote",
    "Unescaped '\\' in a string": "unescaped '\\' in a \"...\" string: write \\\\ or use a '...' string",
}
_DUP_WORDS = ("overwrite", "twice", "redefine", "immutable", "Duplicate", "already exists", "Redefinition")


def _syntax_error(name: str, text: str, msg: str, line: int | None, col: int | None) -> SettingsFileError:
    if any(w in msg for w in _DUP_WORDS):
        dups = scan(text).dups
        if dups:  # the scanner knows where the first definition was; prefer the one the parser hit
            d = next((d for d in dups if d.line == line), dups[0])
            return SettingsFileError(name, d.line, d.message)
    nice = _HINTS.get(msg) or (msg[:1].lower() + msg[1:])
    return SettingsFileError(name, line, nice, col)


def _too_deep(name: str, line: int | None) -> SettingsFileError:
    return SettingsFileError(
        name,
        line,
        f"values are nested more than {MAX_DEPTH} levels deep (arrays [ ] or tables "
        "{ } inside each other); settings need only a few levels: look for a run of "
        "brackets that is not closed where you meant",
    )


def _depth(value: object) -> int:
    """How deep lists and tables nest in a parsed document (without recursion)."""
    deepest, todo = 0, [(value, 0)]
    while todo:
        v, d = todo.pop()
        if isinstance(v, dict):
            v = list(v.values())
        elif not isinstance(v, list):
            continue
        deepest = max(deepest, d)
        if d <= MAX_DEPTH:
            todo.extend((x, d + 1) for x in v)
    return deepest


def parse(text: str, name: str = "<text>") -> tomlkit.TOMLDocument:
    """Strictly parse ``text``; SettingsFileError with 1-based line/column on any problem.

    Values nested more than MAX_DEPTH deep are refused before tomllib or tomlkit (both recursive) see them
    whole, so hostile nesting is a message, never a RecursionError."""
    deep = scan(text).too_deep
    if deep is not None:
        raise _too_deep(name, deep)
    try:
        plain = tomllib.loads(text)
    except RecursionError:
        raise _too_deep(name, None) from None
    except tomllib.TOMLDecodeError as e:
        m = re.fullmatch(r"(.*) \(at (?:line (\d+), column (\d+)|end of document)\)", str(e), re.S)
        if not m:
            raise SettingsFileError(name, None, str(e)) from None
        line = int(m[2]) if m[2] else text.count("\n") + (0 if text.endswith("\n") else 1)
        raise _syntax_error(name, text, m[1], line, int(m[3]) if m[3] else None) from None
    if _depth(plain) > MAX_DEPTH:  # e.g. a.b.c... dotted keys, which the scanner does not count
        raise _too_deep(name, None)
    try:
        return tomlkit.parse(text)
    except RecursionError:
        raise _too_deep(name, None) from None
    except ParseError as e:
        msg = re.sub(r" at line \d+ col \d+$", "", str(e))
        raise _syntax_error(name, text, msg, e.line, e.col + 1) from None
    except TOMLKitError as e:  # e.g. KeyAlreadyPresent, raised without a position
        raise _syntax_error(name, text, str(e), None, None) from None


def load(path: Path, *, missing_ok: bool = True, name: str | None = None) -> TomlFile:
    """Read one settings file strictly (see module doc); a missing file is an empty document.

    Errors are SettingsFileError whose ``file`` is ``name`` (default: the file name, as every
    ``file:line: message`` problem shows it); commands in the messages use the full path.
    """
    path = Path(path)
    name = name or path.name
    why = trust.refusal(path)
    if why:
        raise SettingsFileError(name, None, f"not read: {why}")
    try:
        got = _read(path, name)
    except PermissionError:
        raise SettingsFileError(
            name,
            None,
            f"cannot read {path}: permission denied (check its owner and mode: ls -l {shlex.quote(str(path))})",
        ) from None
    except OSError as e:
        raise SettingsFileError(name, None, f"cannot read {path}: {e.strerror or e}") from None
    if got is None:
        if not missing_ok:
            raise SettingsFileError(name, None, f"{path} not found")
        return TomlFile(path, tomlkit.document(), "", None)
    data, fp = got
    text = _decode(path, data, name)
    return TomlFile(path, parse(text, name), text, fp)


# --- writing ---------------------------------------------------------------------------------------


def _target(path: Path) -> Path:
    """The file to replace: ``path`` itself, refused when it is a symbolic link or another account could
    change it (see trust.py); the replace swaps the name in its folder and never follows a link."""
    path = Path(path)
    if path.is_symlink():
        real = os.path.realpath(path)
        raise StoreError(
            path,
            f"not saved: {path} is a symbolic link (to {real}); haihai-tui never writes through "
            "a link, which could put the settings (and a token) wherever it points. Make it a "
            f"plain file: cp --remove-destination {shlex.quote(real)} {shlex.quote(str(path))}",
        )
    why = trust.refusal(path)
    if why:
        raise StoreError(path, f"not saved: {why}")
    return path


@contextmanager
def _locked(path: Path, timeout: float) -> Iterator[None]:
    folder = ensure_private_dir(path.parent)
    lock = folder / f".{path.name}.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        deadline, pause = time.monotonic() + timeout, 0.001
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
                    raise LockTimeout(
                        path,
                        f"{path} is being saved by another process (pid {holder}) "
                        f"for more than {timeout:g} s; try again, or see `fuser {lock}`",
                    ) from None
                time.sleep(pause)
                pause = min(pause * 2, 0.02)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        for stale in folder.glob(f".{_glob_escape(path.name)}.*.tmp"):  # only lock holders create these
            stale.unlink(missing_ok=True)
        yield
    finally:
        os.close(fd)  # releases the flock


def _glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


def _write_new(
    folder: Path, stem: str, data: bytes, mode: int, owner: tuple[int, int] | None
) -> tuple[Path, os.stat_result]:
    """Write ``data`` to a fresh temp file (created 0600, O_EXCL) in ``folder``, give it ``mode``, fsync it."""
    tmp = folder / f".{stem}.{os.getpid()}.{_rand.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if owner and os.geteuid() == 0:
            os.fchown(fd, *owner)
        os.fchmod(fd, mode)
        os.fsync(fd)
        return tmp, os.fstat(fd)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as e:  # some filesystems refuse fsync on folders; the data is already synced
        if e.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)


def _save_locked(tf: TomlFile, target: Path, force: bool, backup: bool = True) -> TomlFile:
    text = tomlkit.dumps(tf.doc)
    try:  # never write what we could not read back
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise StoreError(
            tf.path, f"not saved: the edited {tf.path.name} would not be valid TOML ({e}); the file was not changed"
        ) from None
    doc = tf.doc
    data = text.encode("utf-8")
    old = _read(target, tf.path.name)
    if not force and (old[1][2] if old else None) != (tf.fingerprint[2] if tf.fingerprint else None):
        raise ConflictError(tf.path)  # compared by content: a touch without change is no conflict
    if old and old[0] == data:
        return TomlFile(tf.path, doc, text, old[1])
    folder = target.parent
    if old:
        st = os.stat(target)
        mode, owner = stat.S_IMODE(st.st_mode) & ~0o022, (st.st_uid, st.st_gid)  # never group/other-writable
    else:
        mode, owner = 0o600, None
    tmp, st_new = _write_new(folder, target.name, data, mode, owner)
    try:
        if old and backup:
            bak, _ = _write_new(folder, target.name + ".bak", old[0], 0o600, None)
            os.replace(bak, folder / f"{target.name}.bak")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(folder)
    return TomlFile(tf.path, doc, text, _fingerprint(st_new, data))


def _oserror(path: Path, e: OSError) -> StoreError:
    return StoreError(path, f"cannot write {path}: {e.strerror or e}; the file was not changed")


def save(tf: TomlFile, *, force: bool = False, lock_timeout: float = 30.0, backup: bool = True) -> TomlFile:
    """Write ``tf.doc`` back atomically under the lock; ConflictError if the file changed since load.

    ``backup=False`` keeps no ``.bak`` (secrets.toml: an old token must not linger in a second file)."""
    target = _target(tf.path)
    try:
        with _locked(target, lock_timeout):
            return _save_locked(tf, target, force, backup)
    except (StoreError, SettingsFileError):
        raise
    except OSError as e:
        raise _oserror(target, e) from None


def update(
    path: Path, mutate: Callable[[tomlkit.TOMLDocument], None], *, lock_timeout: float = 30.0, backup: bool = True
) -> TomlFile:
    """Load, ``mutate(doc)`` and save under one lock hold, so concurrent updates never lose each other."""
    path = Path(path)
    target = _target(path)
    try:
        with _locked(target, lock_timeout):
            tf = load(path)
            mutate(tf.doc)
            return _save_locked(tf, target, force=False, backup=backup)
    except (StoreError, SettingsFileError):
        raise
    except OSError as e:
        raise _oserror(target, e) from None


# --- where things are, and who may read them ------------------------------------------------------


def locate(text: str, keypath: tuple[str | int, ...]) -> int | None:
    """1-based line of ``keypath`` in ``text``, else of its longest defined prefix, else None."""
    return scan(text).locate(tuple(keypath))


def _mode_problem(path: Path, allowed: int, fix: str, what: str) -> str | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    mode = stat.S_IMODE(st.st_mode)
    extra = mode & ~allowed & 0o077
    if not extra:
        return None
    how = (
        "readable and writable"
        if extra & 0o044 and extra & 0o022
        else "readable"
        if extra & 0o044
        else "writable"
        if extra & 0o022
        else "usable"
    )
    return f"{what}{path} is {how} by others (mode {mode:04o}); run: chmod {fix} {shlex.quote(str(path))}"


def check_private_file(path: Path) -> str | None:
    """None if ``path`` is missing or only its owner may use it; else the message with the chmod that fixes it."""
    return _mode_problem(Path(path), 0o700, "600", "")


def check_folder(path: Path) -> str | None:
    """A warning when the settings folder is readable or writable by group/others."""
    return _mode_problem(Path(path), 0o700, "700", "settings folder ")
