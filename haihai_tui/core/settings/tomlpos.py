"""Where each key of a TOML text is defined: a position scanner for ``file:line`` problems.

Not a TOML parser (tomllib and tomlkit do that); it follows the text closely enough to know table
headers, keys, inline tables and array elements, skipping strings and comments.
"""

from __future__ import annotations

import bisect
import functools
import re
from dataclasses import dataclass

# --- a position scanner: which line defines which key path -----------------------------------------
# Not a TOML parser (tomllib and tomlkit do that); it only follows the text closely enough to know
# table headers, keys, inline tables and array elements, skipping strings and comments.

_BARE = re.compile(r"[A-Za-z0-9_-]+")
_WS = re.compile(r"[ \t]*")
_WS_NL = re.compile(r"(?:[ \t\r\n]+|#[^\n]*)*")
_BASIC_KEY = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)")
_SIMPLE_ESC = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\", "e": "\x1b"}
_STRINGS = (
    re.compile(r'"""(?:[^"\\]|\\.|"(?!""))*"""(?:"{0,2})', re.S),
    re.compile(r"'''(?:[^']|'(?!''))*'''(?:'{0,2})"),
    re.compile(r'"(?:[^"\\\n]|\\.)*"'),
    re.compile(r"'[^'\n]*'"),
)
_SCALAR = re.compile(r"[^,\]}#\r\n]+")

#: arrays and inline tables nested deeper than this are not followed (settings need three or four levels;
#: the store refuses a file that nests deeper, before any recursive parser sees it)
MAX_DEPTH = 32


class _Stop(Exception):
    """The text stops making sense here; keep what was found so far."""


@dataclass(frozen=True)
class Dup:
    path: tuple
    first: int | None
    line: int
    message: str


def _show(path: tuple) -> str:
    out = ""
    for k in path:
        if isinstance(k, int):
            out += f"[{k}]"
        else:
            out += ("." if out else "") + (k if _BARE.fullmatch(k) else '"' + k.replace('"', '\\"') + '"')
    return out


class TomlScan:
    """Lines of every key path in one text: ``lines``, ``dups`` (definitions that repeat), ``locate()``."""

    def __init__(self, text: str):
        self.s, self.i = text, 0
        self._nl = [m.start() for m in re.finditer("\n", text)]
        self.lines: dict[tuple, int] = {}
        self.kinds: dict[tuple, str] = {}  # value | table | aot | implicit | dotted
        self.aot: dict[tuple, int] = {}  # array of tables -> how many so far
        self.sizes: dict[tuple, int] = {}  # array value -> element count
        self.dups: list[Dup] = []
        self.too_deep: int | None = None  # line where values nest deeper than MAX_DEPTH, if they do
        self._depth = 0
        try:
            self._document()
        except (_Stop, IndexError, ValueError, RecursionError):
            pass  # the text stops making sense (or is hostile): keep what was found so far

    def locate(self, keypath: tuple) -> int | None:
        resolved: tuple = ()
        best = None
        for k in keypath:
            if isinstance(k, int) and k < 0:
                n = self.aot.get(resolved, self.sizes.get(resolved))
                if n is None:
                    break
                k += n
            resolved += (k,)
            if resolved not in self.lines:
                break
            best = self.lines[resolved]
        return best

    # -- helpers
    def _line(self) -> int:
        return bisect.bisect_left(self._nl, self.i) + 1

    def _peek(self) -> str:
        return self.s[self.i : self.i + 1]

    def _skip(self, rx: re.Pattern) -> None:
        self.i = rx.match(self.s, self.i).end()

    def _expect(self, token: str) -> None:
        self._skip(_WS)
        if not self.s.startswith(token, self.i):
            raise _Stop
        self.i += len(token)

    def _dup(self, path: tuple, line: int, message: str) -> None:
        self.dups.append(Dup(path, self.lines.get(path), line, message))

    # -- grammar
    def _document(self) -> None:
        table: tuple = ()
        while True:
            self._skip(_WS_NL)
            if self.i >= len(self.s):
                return
            line = self._line()
            if self._peek() == "[":
                aot = self.s.startswith("[[", self.i)
                self.i += 2 if aot else 1
                keys = self._key()
                self._expect("]]" if aot else "]")
                table = self._header(keys, aot, line)
            else:
                keys = self._key()
                self._expect("=")
                self._skip(_WS)
                self._define(table, keys, line)
                self._value(table + tuple(keys))

    def _key(self) -> list[str]:
        parts = []
        while True:
            self._skip(_WS)
            c = self._peek()
            if c == '"':
                m = _BASIC_KEY.match(self.s, self.i)
                if not m:
                    raise _Stop
                parts.append(_ESCAPE.sub(_unescape, m[1]))
            elif c == "'":
                m = _STRINGS[3].match(self.s, self.i)
                if not m:
                    raise _Stop
                parts.append(m[0][1:-1])
            else:
                m = _BARE.match(self.s, self.i)
                if not m:
                    raise _Stop
                parts.append(m[0])
            self.i = m.end()
            self._skip(_WS)
            if self._peek() != ".":
                return parts
            self.i += 1

    def _header(self, keys: list[str], aot: bool, line: int) -> tuple:
        path: tuple = ()
        for k in keys[:-1]:
            path += (k,)
            kind = self.kinds.get(path)
            if kind == "aot":
                path += (self.aot[path] - 1,)
            elif kind == "value":
                self._dup(
                    path,
                    line,
                    f"[{_show(tuple(keys))}] conflicts with the value {_show(path)} (line {self.lines[path]})",
                )
            elif kind is None:
                self.kinds[path], self.lines[path] = "implicit", line
        path += (keys[-1],)
        kind = self.kinds.get(path)
        brackets = "[[{}]]" if aot else "[{}]"
        if aot and kind in (None, "aot"):
            n = self.aot.get(path, 0)
            self.aot[path], self.kinds[path] = n + 1, "aot"
            self.lines.setdefault(path, line)
            path += (n,)
            self.kinds[path], self.lines[path] = "table", line
            return path
        if kind == "table" and not aot:
            self._dup(path, line, f"table [{_show(path)}] is defined twice (first at line {self.lines[path]})")
        elif kind not in (None, "implicit"):
            self._dup(
                path,
                line,
                f"{brackets.format(_show(path))} conflicts with {_show(path)} defined at line {self.lines[path]}",
            )
        else:
            self.kinds[path], self.lines[path] = "table", line
        return path

    def _define(self, table: tuple, keys: list[str], line: int) -> None:
        path = table
        for k in keys[:-1]:
            path += (k,)
            kind = self.kinds.get(path)
            if kind == "value":
                self._dup(path, line, f"{_show(path)} is already set to a value at line {self.lines[path]}")
            elif kind is None:
                self.kinds[path], self.lines[path] = "dotted", line
        path += (keys[-1],)
        if path in self.kinds:
            self._dup(path, line, f"duplicate key {_show(path)} (first defined at line {self.lines[path]})")
        else:
            self.kinds[path], self.lines[path] = "value", line

    def _value(self, path: tuple) -> None:
        c = self._peek()
        if c in ("[", "{"):
            if self._depth >= MAX_DEPTH:
                self.too_deep = self._line()
                raise _Stop
            self._depth += 1
            try:
                self._nested(path, c)
            finally:
                self._depth -= 1
            return
        for rx in _STRINGS if c in "\"'" else (_SCALAR,):
            m = rx.match(self.s, self.i)
            if m:
                self.i = m.end()
                return
        raise _Stop

    def _nested(self, path: tuple, c: str) -> None:
        if c == "[":
            self.i += 1
            n = 0
            while True:
                self._skip(_WS_NL)
                if self._peek() == "]":
                    break
                self.lines.setdefault(path + (n,), self._line())
                self._value(path + (n,))
                n += 1
                self._skip(_WS_NL)
                if self._peek() != ",":
                    break
                self.i += 1
            self.sizes[path] = n
            self._expect("]")
        else:
            self.i += 1
            while True:
                self._skip(_WS_NL)
                if self._peek() == "}":
                    break
                line = self._line()
                keys = self._key()
                self._expect("=")
                self._skip(_WS)
                self._define(path, keys, line)
                self._value(path + tuple(keys))
                self._skip(_WS_NL)
                if self._peek() != ",":
                    break
                self.i += 1
            self._expect("}")


def _unescape(m: re.Match) -> str:
    e = m[1]
    if e[0] in "uU" and len(e) > 1:
        code = int(e[1:], 16)
        return chr(code) if code < 0x110000 else "\ufffd"  # tomllib reports the bad escape itself
    return _SIMPLE_ESC.get(e, e)


@functools.lru_cache(maxsize=16)
def scan(text: str) -> TomlScan:
    """The (cached) position scan of ``text``."""
    return TomlScan(text)
