"""The CSV builder and its pre-flight findings: exact bytes, encodings, e-mail checks, split, cleanup."""

from __future__ import annotations

import csv
import io
import os
import stat
import threading

import pytest

from haihai_tui.core.addresses import email_problem
from haihai_tui.core.checks import csvbuild
from haihai_tui.core.checks.csvbuild import BuildCancelled, build_csv
from haihai_tui.core.checks.findings import Finding
from haihai_tui.core.encodings import normalize_encoding

LABELS = ["メールアドレス", "お名前", "備考"]


def build(rows, tmp_path, labels=LABELS, **kw):
    kw.setdefault("encoding", "cp932")
    kw.setdefault("header", True)
    return build_csv(rows, labels, dest_dir=tmp_path / "runs", **kw)


def files_in(tmp_path):
    d = tmp_path / "runs"
    return sorted(os.listdir(d)) if d.exists() else []


def parse(path, encoding="cp932"):
    with open(path, encoding=encoding, newline="") as f:
        return list(csv.reader(f))


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 3 rows, so every fast/slow path meets chunk boundaries with a handful of rows."""
    monkeypatch.setattr(csvbuild, "CHUNK", 3)


def rows_n(n, start=0):
    return [(f"user{i}@example.co.jp", f"名前{i}", f"備考{i}") for i in range(start, start + n)]


# --- exact bytes and encodings -------------------------------------------------------------------


def test_exact_bytes_cp932_quoting_crlf(tmp_path):
    rows = [("a@example.jp", "山田, 太郎", 'say "hi"'), ("b@example.jp", "二行\n目", "")]
    b = build(rows, tmp_path)
    assert not b.findings and b.total_rows == 2 and len(b.files) == 1
    expected = (
        'メールアドレス,お名前,備考\r\na@example.jp,"山田, 太郎","say ""hi"""\r\nb@example.jp,"二行\n目",\r\n'
    ).encode("cp932")
    assert b.files[0].read_bytes() == expected
    assert b.bytes_per_file == [len(expected)] and b.rows_per_file == [2]
    assert b.encoding == "cp932" and b.header == LABELS
    b.remove()
    assert files_in(tmp_path) == []
    b.remove()  # idempotent


def test_no_header_row(tmp_path):
    b = build([("a@example.jp", "x", "y")], tmp_path, header=False)
    assert b.files[0].read_bytes() == b"a@example.jp,x,y\r\n"
    assert [f.code for f in b.findings] == ["no_header"] and not b.has_errors


def test_windows31j_characters_survive_and_shift_jis_would_fail(tmp_path):
    text = "髙﨑①㈱～"
    b = build([("a@example.jp", text, "")], tmp_path)
    assert not b.findings
    assert parse(b.files[0])[1][1] == text
    assert text.encode("cp932") in b.files[0].read_bytes()
    with pytest.raises(UnicodeEncodeError):
        text.encode("shift_jis")  # the reason cp932 is used, never shift_jis
    with pytest.raises(ValueError, match="cp932"):
        normalize_encoding("shift_jis")
    assert normalize_encoding("sjis") == "cp932" and normalize_encoding("UTF8") == "utf-8"


def test_emoji_is_an_error_with_row_column_char_and_nothing_is_kept(tmp_path):
    rows = [("a@example.jp", "ok", ""), ("b@example.jp", "笑顔😀", "")]
    b = build(rows, tmp_path)
    assert b.has_errors and b.files == [] and files_in(tmp_path) == []
    (f,) = b.errors
    assert (f.code, f.row, f.column, f.char, f.codepoint) == ("unencodable", 2, "お名前", "😀", "U+1F600")
    assert str(f).startswith("row 2, お名前: character '😀' (U+1F600) does not exist in Windows-31J")
    assert b.total_rows == 2  # counting goes on


def test_every_offending_character_of_a_cell_is_reported(tmp_path):
    b = build([("a@example.jp", "😀a😀—b\u00a0", "🍣")], tmp_path)
    got = [(f.row, f.column, f.codepoint) for f in b.errors]
    assert got == [(1, "お名前", "U+1F600"), (1, "お名前", "U+2014"), (1, "お名前", "U+00A0"), (1, "備考", "U+1F363")]
    assert "2 times" in b.errors[0].message
    assert "'―' (U+2015)" in b.errors[1].message  # a hint, never an automatic replacement
    assert "NO-BREAK SPACE" in b.errors[2].message  # invisible characters are named


def test_utf8_accepts_the_emoji_without_bom(tmp_path):
    b = build([("a@example.jp", "笑顔😀", "")], tmp_path, encoding="utf-8")
    assert not b.findings and b.encoding == "utf-8"
    data = b.files[0].read_bytes()
    assert data == "メールアドレス,お名前,備考\r\na@example.jp,笑顔😀,\r\n".encode()
    assert not data.startswith(b"\xef\xbb\xbf")


def test_lone_surrogate_is_an_error_even_in_utf8(tmp_path):
    b = build([("a@example.jp", "x\ud800", "")], tmp_path, encoding="utf-8")
    assert [(f.code, f.codepoint) for f in b.errors] == [("unencodable", "U+D800")]
    str(b.errors[0]).encode("utf-8")  # the message itself stays printable


def test_unencodable_header_label(tmp_path):
    b = build([("a@example.jp", "x", "y")], tmp_path, labels=["メールアドレス", "名前😀", "備考"])
    (f,) = b.errors
    assert f.row is None and f.column == "名前😀" and f.codepoint == "U+1F600"
    assert str(f).startswith("名前😀: in the header label: character '😀' (U+1F600)")


def test_none_and_numbers_are_written_like_csv_writer(tmp_path):
    b = build([("a@example.jp", None, 12)], tmp_path)
    assert b.files[0].read_bytes().endswith(b"a@example.jp,,12\r\n") and not b.findings


# --- e-mail addresses ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "addr",
    [
        "taro@example.co.jp",
        "Taro.Yamada+news@mail.example.com",
        "a..b.@docomo.ne.jp",
        "x_y-z@sub-domain.example.jp",
        "user@例え.jp",
        "o'brien@example.ie",
    ],
)
def test_accepted_addresses(addr):
    assert email_problem(addr) is None


@pytest.mark.parametrize(
    "addr, why",
    [
        ("taro.example.jp", "no @"),
        ("taro＠example.jp", "full-width ＠"),
        ("a@b@example.jp", "more than one @"),
        ("@example.jp", "nothing before"),
        ("taro@", "nothing after"),
        ("taro@localhost", "no dot"),
        ("ta ro@example.jp", "space"),
        ("taro@example.jp ", "space"),
        ("taro\u3000@example.jp", "full-width space"),
        ("tarō@example.jp", "not allowed before the @"),
        ("taro@-example.jp", "not a valid domain"),
        ("taro@example..jp", "not a valid domain"),
        ("a" * 250 + "@b.jp", "longer than 254"),
    ],
)
def test_rejected_addresses(addr, why):
    assert why in email_problem(addr)


def test_email_findings_blank_and_malformed(tmp_path, small_chunks):
    rows = [
        ("ok1@example.jp", "", ""),
        ("", "", ""),
        ("  ", "", ""),
        ("bad", "", ""),
        ("ok2@example.jp", "", ""),
        (None, "", ""),
        ("例@example.jp", "", ""),
    ]
    b = build(rows, tmp_path)
    assert [(f.code, f.row) for f in b.errors] == [
        ("email_blank", 2),
        ("email_blank", 3),
        ("email_malformed", 4),
        ("email_blank", 6),
        ("email_malformed", 7),
    ]
    assert all(f.column == "メールアドレス" for f in b.errors)
    assert "'bad' is not an e-mail address: there is no @" in str(b.errors[2])
    assert b.files == []


def test_idn_domain_and_plus_addresses_pass_in_a_build(tmp_path):
    b = build([("user@例え.jp", "", ""), ("a+b@example.jp", "", ""), ("x..y.@docomo.ne.jp", "", "")], tmp_path)
    assert not b.findings and len(b.files) == 1


def test_duplicates_case_insensitive_name_both_rows(tmp_path, small_chunks):
    rows = rows_n(20)
    rows[16] = ("Dup@Example.JP", "first", "")
    rows.append(("dup@example.jp", "again", ""))  # row 21, another chunk
    rows.append(("user3@EXAMPLE.co.jp", "", ""))  # row 22 repeats row 4
    b = build(rows, tmp_path)
    assert not b.has_errors and len(b.files) == 1  # only warnings: the file is kept
    assert [(f.code, f.row, f.severity) for f in b.warnings] == [
        ("email_duplicate", 21, "warning"),
        ("email_duplicate", 22, "warning"),
    ]
    assert "also on row 17" in str(b.warnings[0]) and str(b.warnings[0]).startswith("row 21, メールアドレス:")
    assert "also on row 4" in str(b.warnings[1]) and "その他" in b.warnings[1].message


def test_duplicates_within_one_chunk_and_after_the_switch(tmp_path):
    rows = rows_n(10) + [("USER1@example.co.jp", "", "")] + rows_n(3, 100) + [("user100@example.co.jp", "", "")]
    b = build(rows, tmp_path)
    assert [(f.row, f.message.split("also on row ")[1].split(",")[0]) for f in b.warnings] == [(11, "2"), (15, "12")]


def test_no_email_column_and_bad_labels(tmp_path):
    b = build([("x", "y", "z")], tmp_path, labels=["名前", " 備考", "名前"])
    codes = [f.code for f in b.errors]
    assert codes == ["no_email_column", "header_label", "header_label"]
    assert "columns 1 and 3" in b.errors[2].message and "spaces" in b.errors[1].message
    b = build([("a@example.jp", "y")], tmp_path, labels=["メールアドレス", ""])
    assert [f.code for f in b.errors] == ["header_label"] and "column 2 has a blank label" in b.errors[0].message


def test_empty_result_is_an_error(tmp_path):
    b = build([], tmp_path)
    assert [f.code for f in b.errors] == ["empty"] and b.files == [] and b.total_rows == 0


def test_wrong_number_of_values(tmp_path):
    b = build([("a@example.jp", "x"), ("b@example.jp", "x", "y")], tmp_path)
    assert [(f.code, f.row) for f in b.errors] == [("columns", 1)]


# --- limits and split ----------------------------------------------------------------------------


def test_over_rows_without_split_says_how_many_requests(tmp_path, small_chunks):
    b = build(rows_n(25), tmp_path, max_rows=10)
    (f,) = b.errors
    assert f.code == "over_rows" and f.row is None
    assert f.message == (
        "25 rows exceed the 10-row limit per request; choose split to send it as 3 requests "
        "(3 of the daily quota of 240)"
    )
    assert b.files == [] and b.rows_per_file == [25]


def test_over_bytes_without_split(tmp_path, small_chunks):
    b = build(rows_n(30), tmp_path, max_bytes=300)
    (f,) = b.errors
    assert f.code == "over_bytes" and "choose split to send it as" in f.message and "300-byte limit" in f.message


def check_split(b, rows, max_rows, max_bytes):
    header = ",".join(LABELS).encode("cp932") + b"\r\n"
    got = []
    assert len(b.files) == len(b.rows_per_file) == len(b.bytes_per_file) > 1
    for path, n, size in zip(b.files, b.rows_per_file, b.bytes_per_file):
        data = path.read_bytes()
        assert data.startswith(header) and len(data) == size <= max_bytes
        part = parse(path)
        assert part[0] == LABELS and len(part) - 1 == n <= max_rows
        got += [tuple(r) for r in part[1:]]
    assert got == [tuple(r) for r in rows] and b.total_rows == sum(b.rows_per_file) == len(rows)


def test_split_by_rows(tmp_path, small_chunks):
    rows = rows_n(25)
    b = build(rows, tmp_path, max_rows=10, split=True)
    assert not b.findings and b.rows_per_file == [10, 10, 5]
    check_split(b, rows, 10, 3_000_000)


def test_split_by_bytes(tmp_path, small_chunks):
    rows = rows_n(40)
    b = build(rows, tmp_path, max_bytes=200, split=True)
    assert not b.findings
    check_split(b, rows, 10_000, 200)


def test_split_by_bytes_with_big_chunks(tmp_path):
    rows = rows_n(5000)
    b = build(rows, tmp_path, max_rows=1500, max_bytes=20_000, split=True)
    assert not b.findings
    check_split(b, rows, 1500, 20_000)


def test_single_row_over_the_byte_limit(tmp_path):
    rows = rows_n(2) + [("big@example.jp", "x" * 500, "")] + rows_n(2, 10)
    b = build(rows, tmp_path, max_bytes=300, split=True)
    assert [(f.code, f.row) for f in b.errors] == [("over_bytes", 3)] and b.files == []
    assert sum(b.rows_per_file) == 5


def test_more_requests_than_the_daily_quota(tmp_path, small_chunks):
    b = build(rows_n(12), tmp_path, max_rows=2, split=True, daily_quota=5)
    assert [f.code for f in b.errors] == ["over_quota"] and "6 requests" in b.errors[0].message


# --- findings cap, rowids, progress ------------------------------------------------------------


def test_findings_are_capped_with_exact_counts(tmp_path, small_chunks):
    rows = [("", "", "")] * 30 + [("a@example.jp", "", "")] * 5
    b = build(rows, tmp_path, max_findings=10)
    assert b.error_count == 30 and b.warning_count == 4 and b.counts == {"email_blank": 30, "email_duplicate": 4}
    assert len(b.findings) == 11 and all(f.is_error for f in b.findings)
    assert b.findings[-1].code == "more" and b.findings[-1].message.startswith(
        "... and 24 more (20 errors, 4 warnings)"
    )


def test_errors_come_first(tmp_path):
    b = build([("a@example.jp", "", ""), ("a@example.jp", "", ""), ("", "", "")], tmp_path)
    assert [f.severity for f in b.findings] == ["error", "warning"]


def test_rowids_and_progress(tmp_path, small_chunks):
    seen = []
    rows = rows_n(7)
    rows[5] = ("", "", "")
    b = build(rows, tmp_path, rowids=[f"R{i}" for i in range(1, 8)], on_rows=seen.append)
    assert seen == [3, 6, 7]
    assert b.errors[0].rowid == "R6" and str(b.errors[0]).startswith("row 6 (record R6), メールアドレス:")
    assert isinstance(b.errors[0], Finding)


# --- files: permissions, cancel, exceptions ----------------------------------------------------


def test_files_are_0600_under_umask_0(tmp_path):
    old = os.umask(0)
    try:
        b = build(rows_n(5), tmp_path, max_rows=2, split=True)
    finally:
        os.umask(old)
    assert len(b.files) == 3
    for p in b.files:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600 and p.parent == tmp_path / "runs"


def test_cancel_removes_files(tmp_path, small_chunks):
    cancel = threading.Event()

    def rows():
        for i, r in enumerate(rows_n(30)):
            if i == 10:
                cancel.set()
            yield r

    with pytest.raises(BuildCancelled):
        build(rows(), tmp_path, max_rows=4, split=True, cancel=cancel)
    assert files_in(tmp_path) == []


def test_exception_in_the_rows_removes_files(tmp_path, small_chunks):
    def rows():
        yield from rows_n(10)
        raise OSError("database went away")

    with pytest.raises(OSError, match="went away"):
        build(rows(), tmp_path, max_rows=4, split=True)
    assert files_in(tmp_path) == []


def test_exception_in_progress_callback_removes_files(tmp_path, small_chunks):
    def boom(n):
        raise RuntimeError("listener broke")

    with pytest.raises(RuntimeError):
        build(rows_n(10), tmp_path, on_rows=boom)
    assert files_in(tmp_path) == []


def test_big_clean_run_matches_a_plain_writer(tmp_path):
    rows = [(f"u{i}@example{i % 7}.co.jp", f"髙橋{i}", f'メモ,{i}"x"') for i in range(20_000)]
    b = build(rows, tmp_path, max_rows=10**9, max_bytes=10**12)
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(LABELS)
    w.writerows(rows)
    assert not b.findings and b.files[0].read_bytes() == buf.getvalue().encode("cp932")
