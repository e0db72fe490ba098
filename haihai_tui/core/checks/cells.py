"""What a cell may hold besides characters the encoding has: control characters, characters the encoding
changes on the way, and text a spreadsheet would run as a formula. The rules, and fast checks that clear a
whole chunk of rows at once so that only a suspect row is looked at cell by cell.

Control characters (an ERROR): C0 (U+0000..U+001F), DEL (U+007F) and C1 (U+0080..U+009F), except TAB and
the line breaks CR and LF, which are ordinary data in a quoted CSV cell (RFC 4180) and common in memos.

Formula-like cells (a WARNING; the value is still sent exactly as it is). HaiHai users export lists to
Excel, which runs a cell starting with = + - @ as a formula. A cell counts as formula-like when it starts
  - with '=' followed by anything ('=HYPERLINK(...)', '=1+1'), or
  - with '+', '-' or '@' followed by text that holds a function call (ASCII name directly followed by
    '(': '@SUM(A1)', '-cmd(...)'), a DDE pipe '|', or one of the operators + * ^ & ('+1+1', '-2+3').
So a lone '-' (a common "none" in Japanese lists), a phone number ('+81 3 1234 5678', '+81-3-1234-5678',
'-0120'), a negative amount ('-1,000円'), a bullet ('- 要確認', '-> 折り返し') or a handle ('@yamada') is
not warned about: these are data, and a warning on every such row would bury the real ones.
"""

from __future__ import annotations

import re

from haihai_tui.core.checks.charset import roundtrip_changes

#: characters that are not text: C0, DEL and C1, except TAB, LF and CR
CONTROL_CHARS = frozenset(chr(o) for o in (*range(0x20), *range(0x7F, 0xA0)) if chr(o) not in "\t\n\r")
CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
FORMULA_LEADS = frozenset("=+-@")
FORMULA_RE = re.compile(r"=.|[+\-@].*?(?:[A-Za-z_][A-Za-z0-9_.]*\(|[|+*^&])", re.S)
_PLAIN = "0123456789 -().,/"  # after + - @ only these: a number or phone number, never a formula by the rule
_CELL_LEAD = re.compile(b"PL")  # in ChunkScan's classes; a compiled literal searches faster here than ``in``
# names of the controls people meet (unicodedata has none for Cc)
_CONTROL_NAMES = {
    0x00: "NUL",
    0x07: "BELL",
    0x08: "BACKSPACE",
    0x0B: "VERTICAL TAB",
    0x0C: "FORM FEED",
    0x1A: "SUBSTITUTE, an old end-of-file mark",
    0x1B: "ESCAPE",
    0x7F: "DELETE",
}


def looks_like_formula(v: str) -> bool:
    """True if a spreadsheet would run ``v`` as a formula by the rule in the module docstring."""
    if v[:1] not in FORMULA_LEADS:
        return False
    if v[0] != "=" and not v[1:].strip(_PLAIN):  # '-', '-0120', '+81 3 1234 5678', '-1,000': at C speed
        return False
    return FORMULA_RE.match(v) is not None


def control_name(ch: str) -> str:
    """'U+001B (ESCAPE)', 'U+0085 (a C1 control character)'."""
    o = ord(ch)
    name = _CONTROL_NAMES.get(o) or ("a C1 control character" if o >= 0x80 else "a control character")
    return f"U+{o:04X} ({name})"


class ChunkScan:
    """One cheap look at a whole encoded chunk, answering two questions: may a cell hold a control
    character or a character the encoding changes (``chars``), and may a cell start with = + - @ (``lead``)?
    False means no; True only means "look closer" (see Findings.char_rows and Findings.formula_cells).

    The CSV text of a chunk is already encoded (``data``). In Windows-31J and in UTF-8 the bytes of
    , " LF and of C0/DEL never occur inside a multi-byte character (so the byte after , " or LF starts a
    character, and an '@' there is an '@', not the second byte of U+3000), so one ``bytes.translate``
    into classes and a few substring searches find a cell start followed by a formula lead, and any control
    byte. C1 characters are found as the UTF-8 pair C2 80..9F, or (Windows-31J: only U+0080 encodes) as
    text, like the characters the encoding changes (one fast ``in`` each).
    """

    def __init__(self, enc: str):
        table = bytearray(b"x" * 256)
        for b in b',\n"':
            table[b] = ord("P")  # where a cell starts (after a quote: a quoted cell)
        for b in b"=+-@":
            table[b] = ord("L")  # a formula lead
        for ch in CONTROL_CHARS:
            if ord(ch) < 0x80:
                table[ord(ch)] = ord("C")
        self.utf8 = enc in ("utf-8", "utf8")
        if self.utf8:
            table[0xC2] = ord("A")  # C1 in UTF-8: C2 followed by 80..9F
            for b in range(0x80, 0xA0):
                table[b] = ord("B")
        self.table = bytes(table)
        changes = roundtrip_changes(enc)
        encodable_c1 = [] if self.utf8 else [c for c in CONTROL_CHARS if ord(c) >= 0x80 and _encodes(c, enc)]
        self.chars = tuple(changes) + tuple(encodable_c1)
        #: one row's CSV line holds a control character or a character the encoding changes
        self.chars_re = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f" + "".join(map(re.escape, changes)) + "]")

    def suspect(self, text: str, data: bytes) -> tuple[bool, bool]:
        """(chars, lead) for a chunk: its CSV ``text`` and the same encoded (``data``)."""
        t = data.translate(self.table)
        chars = b"C" in t or (self.utf8 and b"AB" in t) or any(c in text for c in self.chars)
        return chars, _CELL_LEAD.search(t) is not None or t[:1] == b"L"


def _encodes(ch: str, enc: str) -> bool:
    try:
        ch.encode(enc)
        return True
    except UnicodeEncodeError:
        return False
