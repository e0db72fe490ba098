"""core/checks/export.py: rows -> a CSV file, UTF-8 or Windows-31J, header or not; never a half file, never a
replaced character (findings with row, column and U+ code instead), a cancel leaves nothing behind."""

from __future__ import annotations

import csv
import io
import os
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from haihai_tui.core.checks.export import ExportCancelled, ExportError, export_csv

LABELS = ["メールアドレス", "会社名", "お名前"]


def rows(n: int) -> list[tuple[str, str, str]]:
    return [(f"user{i}@example.jp", f"株式会社{i}", f'山田 "{i}", 太郎') for i in range(n)]


def expected(rs, enc: str, header: bool = True) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    if header:
        w.writerow(LABELS)
    w.writerows(rs)
    return buf.getvalue().encode(enc)


@pytest.mark.parametrize("enc,name", [("cp932", "Windows-31J"), ("utf-8", "UTF-8"), ("sjis", "Windows-31J")])
@pytest.mark.parametrize("header", [True, False])
def test_the_file_is_the_csv_of_the_rows(tmp_path, enc, name, header) -> None:
    rs = rows(5000)  # more than one chunk
    seen: list[int] = []
    res = export_csv(rs, LABELS, tmp_path / "out.csv", encoding=enc, header=header, on_rows=seen.append)
    codec = "cp932" if enc == "sjis" else enc
    data = (tmp_path / "out.csv").read_bytes()
    assert data == expected(rs, codec, header)
    assert res.written and res.path == tmp_path / "out.csv" and res.rows == 5000 and res.bytes == len(data)
    assert res.encoding == codec and res.encoding_name == name and res.findings == [] and res.error_count == 0
    assert seen[-1] == 5000 and seen == sorted(seen) and len(seen) == 3
    assert os.listdir(tmp_path) == ["out.csv"]  # no temp file left
    assert (tmp_path / "out.csv").stat().st_mode & 0o777 == 0o600


def test_an_emoji_stops_a_windows31j_export_with_row_column_and_code(tmp_path) -> None:
    rs = rows(6000)
    rs[4099] = ("cake@example.jp", "パティスリー\U0001f370ミエル", "佐藤")
    rs[5000] = ("x@example.jp", "A社", "髙橋 \u2014 \U0001f600")
    dest = tmp_path / "out.csv"
    dest.write_bytes(b"the old file\r\n")
    res = export_csv(rs, LABELS, dest, encoding="cp932")
    assert not res.written and res.path is None and res.rows == 6000 and res.bytes == 0
    assert res.error_count == 3
    errs = [(f.row, f.column, f.codepoint) for f in res.findings if f.is_error]
    assert errs == [(4100, "会社名", "U+1F370"), (5001, "お名前", "U+2014"), (5001, "お名前", "U+1F600")]
    first = res.findings[0]
    assert "U+1F370" in first.message and "does not exist in Windows-31J" in first.message
    assert str(first).startswith("row 4,100, 会社名: ")
    assert dest.read_bytes() == b"the old file\r\n"  # untouched
    assert sorted(os.listdir(tmp_path)) == ["out.csv"]
    # the same rows go out whole in UTF-8
    res = export_csv(rs, LABELS, dest, encoding="utf-8")
    assert res.written and dest.read_bytes() == expected(rs, "utf-8")


def test_a_label_windows31j_lacks_is_an_error_too(tmp_path) -> None:
    res = export_csv(rows(3), ["メール\U0001f4e7", "会社名", "お名前"], tmp_path / "o.csv", encoding="cp932")
    assert not res.written and res.error_count == 1
    assert res.findings[0].row is None and res.findings[0].codepoint == "U+1F4E7"
    assert os.listdir(tmp_path) == []


def test_a_character_windows31j_changes_is_a_warning_and_the_file_is_written(tmp_path) -> None:
    rs = rows(3)
    rs[1] = ("a@example.jp", "10〜20時", "x")
    res = export_csv(rs, LABELS, tmp_path / "o.csv", encoding="cp932")
    assert res.written and res.error_count == 0 and res.warning_count == 1
    w = res.findings[0]
    assert (w.row, w.column, w.codepoint, w.severity) == (2, "会社名", "U+301C", "warning")
    assert (tmp_path / "o.csv").read_bytes() == expected(rs, "cp932")


def test_an_existing_file_is_replaced_keeping_its_mode(tmp_path) -> None:
    dest = tmp_path / "o.csv"
    dest.write_bytes(b"old")
    dest.chmod(0o640)
    res = export_csv(rows(2), LABELS, dest, encoding="utf-8")
    assert res.written and dest.read_bytes() == expected(rows(2), "utf-8")
    assert dest.stat().st_mode & 0o777 == 0o640


def test_cancel_leaves_no_file(tmp_path) -> None:
    cancel = threading.Event()

    def on_rows(n: int) -> None:
        if n >= 4096:
            cancel.set()

    dest = tmp_path / "o.csv"
    with pytest.raises(ExportCancelled, match="no file was written"):
        export_csv(iter(rows(20_000)), LABELS, dest, encoding="utf-8", on_rows=on_rows, cancel=cancel)
    assert os.listdir(tmp_path) == []


def test_an_error_while_reading_rows_leaves_no_file(tmp_path) -> None:
    def broken():
        yield from rows(3000)
        raise RuntimeError("the database went away")

    with pytest.raises(RuntimeError):
        export_csv(broken(), LABELS, tmp_path / "o.csv", encoding="utf-8")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "where,says",
    [("missing/o.csv", "does not exist"), (".", "is a folder; add a file name")],
)
def test_a_bad_destination_says_what_is_wrong(tmp_path, where, says) -> None:
    with pytest.raises(ExportError, match=says):
        export_csv(rows(1), LABELS, tmp_path / where, encoding="utf-8")
    assert os.listdir(tmp_path) == []


def test_a_folder_one_may_not_write_to_is_refused(tmp_path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as a user who may write anywhere (root)")
        with pytest.raises(ExportError, match="cannot write in"):
            export_csv(rows(1), LABELS, ro / "o.csv", encoding="utf-8")
    finally:
        ro.chmod(0o700)


cells = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(cells, cells, cells), max_size=30))
def test_windows31j_written_exactly_or_every_bad_cell_reported(tmp_path, rs) -> None:
    dest = tmp_path / "p.csv"
    dest.unlink(missing_ok=True)
    res = export_csv(rs, LABELS, dest, encoding="cp932", max_findings=10_000)
    bad = set()
    for i, r in enumerate(rs, 1):
        for j, v in enumerate(r):
            for ch in v:
                try:
                    ch.encode("cp932")
                except UnicodeEncodeError:
                    bad.add((i, LABELS[j], f"U+{ord(ch):04X}"))
    if bad:
        assert not res.written and not dest.exists()
        assert {(f.row, f.column, f.codepoint) for f in res.findings if f.code == "unencodable"} == bad
    else:
        assert res.written and dest.read_bytes() == expected(rs, "cp932")
    assert [p for p in os.listdir(tmp_path) if p.endswith(".part")] == []


def test_a_c1_control_windows31j_lacks_stops_the_export_too(tmp_path) -> None:
    """U+0081 has no Windows-31J code: its row is not silently left out, it is an error with its code."""
    rs = rows(3)
    rs[2] = ("a@example.jp", "A\x81社", "x")
    res = export_csv(rs, LABELS, tmp_path / "o.csv", encoding="cp932")
    assert not res.written and res.error_count == 1
    assert (res.findings[0].row, res.findings[0].column, res.findings[0].codepoint) == (3, "会社名", "U+0081")
    assert os.listdir(tmp_path) == []
