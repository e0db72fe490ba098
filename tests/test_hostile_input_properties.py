"""Property tests on hostile input: `db import` of arbitrary bytes is all or nothing and fails only with
RecordImportError; pre-flight flags exactly the characters str.encode("cp932") cannot carry or changes, and
exactly the cells the formula rule names, whatever the chunking."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from haihai_tui.core.checks import csvbuild
from haihai_tui.core.checks.cells import CONTROL_CHARS, FORMULA_LEADS, FORMULA_RE, looks_like_formula
from haihai_tui.core.checks.csvbuild import build_csv
from haihai_tui.core.records.importer import RecordImportError
from haihai_tui.core.records.query import Query
from haihai_tui.core.records.store import RecordStore
from haihai_tui.core.settings.model import Database, FieldDef
from haihai_tui.core.text import safe

DB = Database(
    "people",
    "顧客管理",
    [FieldDef("email", "メールアドレス", "email"), FieldDef("company", "会社名"), FieldDef("name", "お名前")],
)
IDS = ["email", "company", "name"]
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- db import: all or nothing ---------------------------------------------------------------------

HEADERS = [
    b"",
    "メールアドレス,会社名\r\n".encode("cp932"),
    "メールアドレス,会社名,お名前\n".encode(),
    b"\xef\xbb\xbfemail,name\r\n",
    b"email,company,name\n",
]
# pieces that steer random bytes towards the importer's interesting corners
PIECES = [
    b",",
    b'"',
    b'""',
    b"\r\n",
    b"\n",
    b"\r",
    b"\x00",
    b"a@example.jp",
    "髙橋".encode("cp932"),
    "髙橋".encode(),
    b"\x82",
    b"\xe3\x81",
    b"\xff",
    b"\xef\xbb\xbf",
    b" ",
    b"x" * 40,
]
BODIES = st.lists(st.one_of(st.sampled_from(PIECES), st.binary(max_size=12)), max_size=25).map(b"".join)
FILES = st.one_of(st.binary(max_size=200), st.tuples(st.sampled_from(HEADERS), BODIES).map(b"".join))


def test_db_import_of_arbitrary_bytes_is_all_or_nothing():
    work = Path(tempfile.mkdtemp(prefix="prop-import-"))
    store = RecordStore.open(work / "records", DB)
    before = [("keep@example.jp", "残す会社", "残す人")]
    store.insert_rows(before, IDS)
    src = work / "in.csv"

    @FAST
    @given(data=FILES, replace=st.booleans())
    @example(data=b'email\n"open', replace=True)
    @example(data="メールアドレス,会社名\r\na@x.jp,波～\r\nb@x.jp,".encode("cp932") + b"\x82\r\n", replace=False)
    def check(data: bytes, replace: bool) -> None:
        src.write_bytes(data)
        rows_before = list(store.iter_rows(Query(), IDS))
        try:
            res = store.import_csv(src, replace=replace)
        except RecordImportError as e:
            seen.add("refused")
            assert list(store.iter_rows(Query(), IDS)) == rows_before  # nothing stored, nothing removed
            assert str(e)
            return
        seen.add(f"imported, replace={replace}")
        after = list(store.iter_rows(Query(), IDS))
        if replace:
            assert len(after) == res.rows
        else:
            assert after[: len(rows_before)] == rows_before and len(after) == len(rows_before) + res.rows
        if replace:  # back to the starting point for the next example
            store.import_csv(_csv_of(work, before), replace=True)

    seen: set[str] = set()
    try:
        check()
        assert seen == {"refused", "imported, replace=True", "imported, replace=False"}  # every branch was met
    finally:
        store.close()
        shutil.rmtree(work, ignore_errors=True)


def _csv_of(work: Path, rows) -> Path:
    f = work / "reset.csv"
    f.write_text("email,company,name\n" + "".join(",".join(r) + "\n" for r in rows), encoding="utf-8")
    return f


# --- pre-flight against the codec ------------------------------------------------------------------


def _expected(text: str) -> dict[str, str]:
    """What pre-flight must say about each character of ``text``, by asking the codec itself."""
    out = {}
    for ch in text:
        if ch in CONTROL_CHARS:
            out[ch] = "control_char"
            continue
        try:
            back = ch.encode("cp932").decode("cp932")
        except UnicodeEncodeError:
            out[ch] = "unencodable"
            continue
        if back != ch:
            out[ch] = "changed_char"
    return out


CHAR_CODES = {"unencodable", "changed_char", "control_char"}
TRICKY = st.sampled_from("〜‖−¢£¬～∥－￠￡￢＠髙﨑①㈱\x00\x1b\x80\x85\t\r\n\ud800\udfff\u202e\ufeff")
CELLS = st.text(alphabet=st.one_of(st.characters(), TRICKY), max_size=12)


@FAST
@given(cells=st.lists(CELLS, min_size=1, max_size=6))
@example(cells=["〜‖−¢£¬", "～∥－￠￡￢"])
def test_preflight_flags_exactly_what_cp932_cannot_carry_or_changes(cells):
    with tempfile.TemporaryDirectory(prefix="prop-pf-") as d:
        rows = [(f"u{i}@example.jp", c) for i, c in enumerate(cells)]
        built = build_csv(
            rows, ["メールアドレス", "備考"], encoding="cp932", header=True, dest_dir=Path(d), max_findings=10_000
        )
        got: dict[tuple[int, str], str] = {}
        for f in built.findings:
            if f.code in CHAR_CODES:
                assert f.column == "備考" and f.codepoint == f"U+{ord(f.char):04X}"
                assert (f.row, f.char) not in got, f"{f.char!r} reported twice on row {f.row}"
                got[(f.row, f.char)] = f.code
            assert safe(str(f)) == str(f)  # no finding carries a raw control or bidi character
        want = {(i + 1, ch): code for i, c in enumerate(cells) for ch, code in _expected(c).items()}
        assert got == want
        errors = any(code != "changed_char" for code in want.values())
        assert built.has_errors == errors and (built.files == []) == errors
        if not errors:  # sent exactly as the codec writes it
            data = built.files[0].read_bytes()
            assert all(f"u{i}@example.jp".encode() in data for i in range(len(cells)))
            built.remove()


# --- formula-like cells: the chunk-wide fast path agrees with the rule, cell by cell ------------------

FORMULA_BITS = st.sampled_from(
    [
        "=",
        "+",
        "-",
        "@",
        "SUM(",
        "A1",
        "1",
        "81",
        " ",
        ",",
        '"',
        "\n",
        "|",
        "*",
        "&",
        "^",
        "(",
        ")",
        "ー",
        "要確認",
        ".",
        "/",
        "%",
        "x",
    ]
)
FORMULA_CELLS = st.lists(FORMULA_BITS, max_size=6).map("".join)


@FAST
@given(
    rows=st.lists(st.tuples(FORMULA_CELLS, FORMULA_CELLS), min_size=1, max_size=12),
    chunk=st.integers(min_value=1, max_value=5),
)
def test_formula_findings_match_the_rule_cell_by_cell(rows, chunk):
    old = csvbuild.CHUNK
    csvbuild.CHUNK = chunk
    try:
        with tempfile.TemporaryDirectory(prefix="prop-formula-") as d:
            built = build_csv(
                [(f"u{i}@example.jp", a, b) for i, (a, b) in enumerate(rows)],
                ["メールアドレス", "会社名", "備考"],
                encoding="cp932",
                header=True,
                dest_dir=Path(d),
                max_findings=10_000,
            )
            got = [(f.row, f.column) for f in built.findings if f.code == "formula"]
            want = [
                (i + 1, label)
                for i, r in enumerate(rows)
                for label, v in zip(("会社名", "備考"), r, strict=True)
                if v[:1] in FORMULA_LEADS and FORMULA_RE.match(v)
            ]
            assert got == want
            built.remove()
    finally:
        csvbuild.CHUNK = old


@FAST
@given(v=FORMULA_CELLS)
def test_the_plain_number_shortcut_agrees_with_the_formula_rule(v):
    assert looks_like_formula(v) == (v[:1] in FORMULA_LEADS and FORMULA_RE.match(v) is not None)
