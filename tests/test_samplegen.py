"""The sample customers: deterministic, realistic, and carrying exactly the rows pre-flight must find."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from haihai_tui.core.records.query import Query
from haihai_tui.core.records.samples import (
    DEFAULT_ROWS,
    EMOJI,
    FIELD_IDS,
    MIN_FOR_SPECIALS,
    SAMPLE_DATABASE,
    SpecialRows,
    generate,
    write_csv,
)
from haihai_tui.core.records.store import RecordStore

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
KANA = re.compile(r"[ァ-ヶー]+\u3000[ァ-ヶー]+")
PHONE = re.compile(r"0\d{1,3}-\d{2,4}-\d{4}")
PREFS = 47


def cp932_ok(row) -> bool:
    try:
        "".join(row).encode("cp932")
        return True
    except UnicodeEncodeError:
        return False


def findings(rows):
    """What pre-flight would find: unencodable rows, malformed addresses, case-insensitive duplicates."""
    unencodable = [i for i, r in enumerate(rows) if not cp932_ok(r)]
    malformed = [i for i, r in enumerate(rows) if not EMAIL.fullmatch(r[0])]
    dups = [k for k, c in Counter(r[0].lower() for r in rows).items() if c > 1]
    return unencodable, malformed, dups


@pytest.fixture(scope="module")
def sample():
    return list(generate())


def test_schema():
    assert [(f.id, f.label) for f in SAMPLE_DATABASE.fields] == [
        ("email", "メールアドレス"),
        ("company", "会社名"),
        ("name", "お名前"),
        ("kana", "フリガナ"),
        ("pref", "都道府県"),
        ("phone", "電話番号"),
    ]
    assert SAMPLE_DATABASE.id == "customers" and SAMPLE_DATABASE.field("email").type == "email"
    assert FIELD_IDS == ("email", "company", "name", "kana", "pref", "phone")


def test_deterministic_and_seedable(sample):
    assert len(sample) == DEFAULT_ROWS
    assert list(generate()) == sample
    assert list(generate(DEFAULT_ROWS, seed=1)) != sample
    assert list(generate(300, seed=7)) == list(generate(300, seed=7))


@pytest.mark.parametrize("ch", ["髙橋", "﨑", "①", "㈱", "～"])
def test_windows_31j_only_characters_are_there(sample, ch):
    assert any(ch in cell for row in sample for cell in row)
    ch.encode("cp932")
    with pytest.raises(UnicodeEncodeError):
        ch.encode("shift_jis")


def test_exactly_one_of_each_problem(sample):
    unencodable, malformed, dups = findings(sample)
    sp = SpecialRows.for_rows(DEFAULT_ROWS)
    assert unencodable == [sp.emoji] and EMOJI in sample[sp.emoji][1]
    assert malformed == [sp.malformed] and "＠" in sample[sp.malformed][0]
    assert len(dups) == 1
    a, b = sample[sp.duplicate_of][0], sample[sp.duplicate][0]
    assert a != b and a.lower() == b.lower() == dups[0]


def test_rows_look_real(sample):
    for row in sample:
        assert len(row) == 6 and all(isinstance(c, str) and c for c in row)
        assert KANA.fullmatch(row[3]), row
        assert PHONE.fullmatch(row[5]) and len(row[5].replace("-", "")) in (10, 11), row
    assert len({r[4] for r in sample}) == PREFS
    assert len({r[1] for r in sample}) > 500 and len({r[2] for r in sample}) > 500


def test_small_samples_have_no_special_rows():
    rows = list(generate(MIN_FOR_SPECIALS - 1))
    assert len(rows) == MIN_FOR_SPECIALS - 1 and findings(rows) == ([], [], [])
    assert findings(list(generate(MIN_FOR_SPECIALS)))[0] != []
    assert list(generate(0)) == []


def test_a_million_rows_stream_with_the_same_guarantees():
    """1M rows are generated well inside a test's time budget; the special rows are still single."""
    n, sp = 1_000_000, SpecialRows.for_rows(1_000_000)
    seen, count, bad = set(), 0, []
    for i, row in enumerate(generate(n)):
        email = row[0].lower()
        if email in seen or not cp932_ok(row[1:3]) or "@" not in row[0]:
            bad.append(i)
        seen.add(email)
        count += 1
    assert count == n
    assert bad == sorted([sp.emoji, sp.malformed, sp.duplicate])


def test_write_csv_cp932_skips_the_emoji_row(tmp_path: Path, sample):
    res = write_csv(tmp_path / "c.csv", encoding="cp932")
    sp = SpecialRows.for_rows(DEFAULT_ROWS)
    assert res.rows == DEFAULT_ROWS - 1 and res.skipped == [sp.emoji + 1]
    data = (tmp_path / "c.csv").read_bytes()
    assert data.startswith("メールアドレス,会社名".encode("cp932")) and b"\r\n" in data
    with RecordStore.open(tmp_path / "records", SAMPLE_DATABASE) as store:
        imp = store.import_csv(tmp_path / "c.csv")
        assert (imp.rows, imp.codec) == (DEFAULT_ROWS - 1, "cp932")
        assert list(store.iter_rows(Query(), FIELD_IDS)) == sample[: sp.emoji] + sample[sp.emoji + 1 :]


def test_write_csv_utf8_keeps_every_row(tmp_path: Path, sample):
    res = write_csv(tmp_path / "u.csv", 200, encoding="utf-8", seed=3)
    assert (res.rows, res.skipped) == (200, [])
    with RecordStore.open(tmp_path / "records", SAMPLE_DATABASE) as store:
        assert store.import_csv(tmp_path / "u.csv").codec == "utf-8"
        assert list(store.iter_rows(Query(), FIELD_IDS)) == list(generate(200, seed=3))
    with pytest.raises(ValueError, match="use 'cp932'"):
        write_csv(tmp_path / "x.csv", 5, encoding="shift_jis")


def test_insert_rows_keeps_the_emoji(tmp_path: Path, sample):
    with RecordStore.open(tmp_path, SAMPLE_DATABASE) as store:
        assert store.insert_rows(generate(), FIELD_IDS) == DEFAULT_ROWS
        assert list(store.iter_rows(Query(), FIELD_IDS)) == sample
