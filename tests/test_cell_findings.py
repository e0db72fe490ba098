"""Pre-flight on what cells hold besides encodable text: characters Windows-31J changes on the way (a
warning), control characters (an error) and formula-like cells (a warning); on the fast and the slow path."""

from __future__ import annotations

import pytest

from haihai_tui.core.checks import csvbuild
from haihai_tui.core.checks.cells import CONTROL_CHARS, looks_like_formula
from haihai_tui.core.checks.charset import roundtrip_changes
from haihai_tui.core.checks.csvbuild import build_csv
from haihai_tui.core.text import safe

LABELS = ["メールアドレス", "お名前", "備考"]
# what Python's cp932 encodes but HaiHai (Windows-31J) reads back as another character
SIX = {
    "\u301c": "\uff5e",
    "\u2016": "\u2225",
    "\u2212": "\uff0d",
    "\u00a2": "\uffe0",
    "\u00a3": "\uffe1",
    "\u00ac": "\uffe2",
}


def build(rows, tmp_path, labels=LABELS, **kw):
    kw.setdefault("encoding", "cp932")
    kw.setdefault("header", True)
    return build_csv(rows, labels, dest_dir=tmp_path / "runs", **kw)


def rows_of(n, start=1):
    return [(f"user{i}@example.co.jp", f"名前{i}", f"備考{i}") for i in range(start, start + n)]


def of_code(b, code):
    return [f for f in b.findings if f.code == code]


# --- defect 8: characters that change on the way ---------------------------------------------------


def test_the_changing_characters_come_from_the_codec():
    found = roundtrip_changes("cp932")
    assert found == SIX
    for ch, twin in found.items():
        assert ch.encode("cp932").decode("cp932") == twin != ch
    assert roundtrip_changes("utf-8") == {}


@pytest.mark.parametrize("ch", sorted(SIX))
def test_a_changing_character_is_a_warning_with_row_column_and_both_characters(tmp_path, ch):
    twin = SIX[ch]
    rows = rows_of(1) + [("b@example.jp", "山田", f"10時{ch}18時")]
    b = build(rows, tmp_path)
    assert [(f.severity, f.code, f.row, f.column, f.char, f.codepoint) for f in b.findings] == [
        ("warning", "changed_char", 2, "備考", ch, f"U+{ord(ch):04X}")
    ]
    msg = b.findings[0].message
    assert ch in msg and twin in msg and f"U+{ord(ch):04X}" in msg and f"U+{ord(twin):04X}" in msg
    assert "UTF-8" in msg  # how to keep it
    assert b.warning_count == 1 and not b.has_errors and len(b.files) == 1  # a warning: the file is kept
    assert b.files[0].read_bytes().endswith(f"b@example.jp,山田,10時{ch}18時\r\n".encode("cp932"))  # not altered
    b.remove()


def test_a_changing_character_is_counted_once_per_cell_and_not_in_utf8(tmp_path):
    rows = [("a@example.jp", "\u301c\u301c", "\u2212 and \u301c")]
    b = build(rows, tmp_path)
    got = [(f.column, f.char) for f in of_code(b, "changed_char")]
    assert got == [("お名前", "\u301c"), ("備考", "\u2212"), ("備考", "\u301c")]
    assert "2 times" in of_code(b, "changed_char")[0].message
    b.remove()
    u = build(rows, tmp_path, encoding="utf-8")
    assert u.findings == []
    u.remove()


# --- defect 9: control characters ----------------------------------------------------------------

CONTROLS = ["\x00", "\x07", "\x08", "\x0b", "\x0c", "\x1b", "\x7f", "\x80", "\x85", "\x9b"]


@pytest.mark.parametrize("encoding", ["cp932", "utf-8"])
@pytest.mark.parametrize("ch", CONTROLS)
def test_a_control_character_is_an_error_with_row_column_and_code_point(tmp_path, ch, encoding):
    rows = rows_of(3) + [("b@example.jp", f"赤{ch}[31m字", "")] + rows_of(2, 10)
    b = build(rows, tmp_path, encoding=encoding)
    found = of_code(b, "control_char")
    assert [(f.severity, f.row, f.column, f.char, f.codepoint) for f in found] == [
        ("error", 4, "お名前", ch, f"U+{ord(ch):04X}")
    ]
    assert not of_code(b, "unencodable")  # reported once, as what it is
    assert b.has_errors and b.files == [] and list((tmp_path / "runs").iterdir()) == []
    text = str(found[0])
    assert f"U+{ord(ch):04X}" in text and "remove it" in text
    assert ch not in text and safe(text) == text  # the cell is shown escaped, never raw


def test_control_character_names_and_counts(tmp_path):
    b = build([("a@example.jp", "a\x1bb\x1bc\x00", "")], tmp_path)
    msgs = [f.message for f in of_code(b, "control_char")]
    assert len(msgs) == 2 and "ESCAPE" in msgs[0] and "2 times" in msgs[0] and "NUL" in msgs[1]


def test_tab_and_line_breaks_are_data(tmp_path):
    rows = [("a@example.jp", "一\t二", "三行\n目\r\nと\r")]
    for enc in ("cp932", "utf-8"):
        b = build(rows, tmp_path, encoding=enc)
        assert b.findings == [] and len(b.files) == 1
        b.remove()


def test_every_control_character_is_caught(tmp_path):
    chars = sorted(CONTROL_CHARS)
    assert len(chars) == 32 + 32 + 1 - 3  # C0 + C1 + DEL, less TAB LF CR
    rows = [(f"u{i}@example.jp", f"x{ch}y", "") for i, ch in enumerate(chars)]
    for enc in ("cp932", "utf-8"):
        b = build(rows, tmp_path, encoding=enc, max_findings=1000)
        assert [f.char for f in of_code(b, "control_char")] == chars


# --- defect 9: formula-like cells ----------------------------------------------------------------

FORMULAS = [
    '=HYPERLINK("http://evil.example/","見積書")',
    "=1+1",
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "=A1",
    "-cmd|' /C calc'!A0",
    "@cmd|'x'!A0",
    "+A1*2",
    "=====",
    '-HYPERLINK("x")',
    "=\n1",
]
NOT_FORMULAS = [
    "-",
    "+",
    "@",
    "=",
    "-0120",
    "-0120-123-456",
    "+81 3 1234 5678",
    "+81-3-1234-5678",
    "+81 (3) 1234-5678",
    "-1,000円",
    "-10%",
    "- 要確認",
    "-> 折り返し電話",
    "@yamada",
    "@example.jp",
    "ー",
    "－1",
    "＝1+1",
    "a=1+1",
    " =1+1",
    "",
    "-2024/01/01",
    "--",
]


@pytest.mark.parametrize("v", FORMULAS)
def test_formula_like(v):
    assert looks_like_formula(v)


@pytest.mark.parametrize("v", NOT_FORMULAS)
def test_not_formula_like(v):
    assert not looks_like_formula(v)


def test_formula_cells_are_warnings_and_sent_unchanged(tmp_path):
    rows = [("a@example.jp", v, "x") for v in FORMULAS] + [("b@example.jp", v, "x") for v in NOT_FORMULAS]
    rows = [(f"u{i}@example.jp", n, m) for i, (_, n, m) in enumerate(rows)]
    b = build(rows, tmp_path)
    found = of_code(b, "formula")
    assert [(f.severity, f.row, f.column) for f in found] == [
        ("warning", i + 1, "お名前") for i in range(len(FORMULAS))
    ]
    assert not b.has_errors and len(b.files) == 1
    assert "Excel" in found[0].message and "楽楽販売" in found[0].message
    assert all(safe(str(f)) == str(f) for f in found)  # '=\n1' is shown as =\n1
    b.remove()


def test_formula_in_the_first_cell_of_a_chunk_and_in_quoted_cells(tmp_path, monkeypatch):
    monkeypatch.setattr(csvbuild, "CHUNK", 3)
    labels = ["備考", "メールアドレス"]
    rows = [
        ("=1+1", "a@example.jp"),
        ("x", "b@example.jp"),
        ("y", "c@example.jp"),
        ('=HYPERLINK("a,b")', "d@example.jp"),
        ("z", "e@example.jp"),
        ('say "hi"', "f@example.jp"),
        ("ok", "g@example.jp"),
    ]
    b = build(rows, tmp_path, labels=labels)
    assert [(f.code, f.row) for f in b.findings] == [("formula", 1), ("formula", 4)]
    b.remove()


# --- fast path and slow path agree, at chunk edges -------------------------------------------------


@pytest.mark.parametrize("encoding", ["cp932", "utf-8"])
def test_findings_land_on_the_right_rows_across_chunks(tmp_path, encoding):
    n = csvbuild.CHUNK * 2 + 5
    rows = rows_of(n)
    hazards = {
        1: "\u301c",
        csvbuild.CHUNK: "=1+1",
        csvbuild.CHUNK + 1: "\x1b",
        2 * csvbuild.CHUNK: "\x85",
        n: "@SUM(A1)",
    }
    for r, v in hazards.items():
        e, name, _ = rows[r - 1]
        rows[r - 1] = (e, name, v)
    b = build(rows, tmp_path, encoding=encoding)
    want = {
        "cp932": [
            ("control_char", csvbuild.CHUNK + 1),
            ("control_char", 2 * csvbuild.CHUNK),
            ("changed_char", 1),
            ("formula", csvbuild.CHUNK),
            ("formula", n),
        ],
        "utf-8": [
            ("control_char", csvbuild.CHUNK + 1),
            ("control_char", 2 * csvbuild.CHUNK),
            ("formula", csvbuild.CHUNK),
            ("formula", n),
        ],
    }[encoding]
    assert [(f.code, f.row) for f in b.findings] == want


def test_an_unencodable_chunk_still_gets_the_cell_checks(tmp_path):
    rows = [("a@example.jp", "😀", "=1+1"), ("b@example.jp", "\x1b", "\u301c")]
    b = build(rows, tmp_path)
    assert sorted((f.code, f.row) for f in b.findings) == [
        ("changed_char", 2),
        ("control_char", 2),
        ("formula", 1),
        ("unencodable", 1),
    ]


def test_header_labels_with_a_changing_or_control_character(tmp_path):
    b = build([("a@example.jp", "x", "y")], tmp_path, labels=["メールアドレス", "期間〜", "備考\x1b"])
    got = [(f.severity, f.code, f.row, f.column, f.char) for f in b.findings]
    assert got == [
        ("error", "header_label", None, "備考\x1b", "\x1b"),
        ("warning", "changed_char", None, "期間〜", "\u301c"),
    ]
    assert "U+FF5E" in b.findings[1].message and "column 2" in b.findings[1].message
    assert all(safe(str(f)) == str(f) for f in b.findings)
    assert b.files == []
