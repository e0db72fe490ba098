"""Whether a settings file may be trusted before it is read or written: OpenSSH's StrictModes, for settings.

The settings say where the API token is sent, so whoever can change them can take the token. A file is
refused (not read, not written) when another account could have put it there:

1. the settings file is a symbolic link owned by neither you nor root (someone else chose where it points);
2. the file itself (the link followed) is writable by group or others;
3. a folder on its real path (links resolved), from the one holding it up to your home folder inclusive,
   or up to ``/`` when the file is outside your home, is writable by group or others, so another
   account could rename the file or a folder on the way and put its own in place.

A folder with the sticky bit (``/tmp``, mode 1777) does not count as writable by others in rule 3: there
only an entry's owner, the folder's owner and root may rename or remove an entry, so nobody else can
swap what is below it. A file or folder owned by another account that only its owner (and root) can
write is accepted: you trust that owner as you would trust their copy of the settings.

Every refusal says which path, why, and the command that fixes it (``chmod go-w PATH``...).
"""

from __future__ import annotations

import os
import pwd
import shlex
import stat
from pathlib import Path


def _who(uid: int) -> str:
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def home_folder() -> Path:
    """The home folder of the account running the process (from the password database, not $HOME)."""
    try:
        return Path(pwd.getpwuid(os.geteuid()).pw_dir)
    except KeyError:
        return Path.home()


def _writable_by_others(st: os.stat_result) -> str | None:
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o002:
        return f"writable by others (mode {mode:04o})"
    if mode & 0o020:
        return f"writable by its group (mode {mode:04o})"
    return None


def _is_under(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def refusal(path: Path | str, *, home: Path | None = None, uid: int | None = None) -> str | None:
    """Why the settings file ``path`` must not be trusted (read or written), with the fix; None when it may be.

    A missing file is judged by the folders it would be in."""
    path = Path(path)
    me = os.geteuid() if uid is None else uid
    q = shlex.quote
    try:
        lst = os.lstat(path)
    except FileNotFoundError:
        lst = None
    except OSError:
        return None  # unreadable: the read itself reports it with its own message
    for link, st in ((path, lst), (path.parent, _lstat(path.parent))):
        if st is not None and stat.S_ISLNK(st.st_mode) and st.st_uid not in (me, 0):
            return (
                f"{link} is a symbolic link owned by {_who(st.st_uid)}, not by you or root: another account "
                f"chose where it points (see: ls -l {q(str(link))}); replace it with a file of your own"
            )
    real = Path(os.path.realpath(path))
    if lst is not None:
        try:
            st = os.stat(real)
        except OSError:
            st = None
        why = _writable_by_others(st) if st is not None and not stat.S_ISDIR(st.st_mode) else None
        if why:
            shown = str(path) if real == path else f"{path} (really {real})"
            return f"{shown} is {why}, so another account could change it; run: chmod go-w {q(str(real))}"
    top = Path(os.path.realpath(home if home is not None else home_folder()))
    stop = top if _is_under(real, top) else Path(real.anchor or "/")
    below: Path = real
    for folder in real.parents:
        st = _lstat(folder)
        if st is not None:
            why = _writable_by_others(st)
            if why and not st.st_mode & stat.S_ISVTX:
                return (
                    f"folder {folder} above {path.name} is {why}, so another account could replace "
                    f"{below.name}; run: chmod go-w {q(str(folder))}"
                )
        if folder == stop:
            break
        below = folder
    return None


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except OSError:
        return None
