"""CSV import with a cancel event: set part-way, the transaction is rolled back and the store holds what it
held before (append and replace alike); progress is reported per batch."""

from __future__ import annotations

import threading

import pytest

from haihai_tui.core.records.importer import ImportCancelled
from haihai_tui.core.records.query import Query
from haihai_tui.core.records.samples import FIELD_IDS, SAMPLE_DATABASE, generate, write_csv
from haihai_tui.core.records.store import RecordStore


@pytest.fixture
def store(tmp_path):
    rs = RecordStore.open(tmp_path / "records", SAMPLE_DATABASE)
    rs.insert_rows(generate(50), list(FIELD_IDS))
    yield rs
    rs.close()


@pytest.mark.parametrize("replace", [False, True])
def test_cancel_part_way_keeps_the_database_as_it_was(store, tmp_path, replace) -> None:
    f = tmp_path / "in.csv"
    write_csv(f, 10_000, "utf-8", seed=3)
    before = store.count()
    cancel = threading.Event()
    seen: list[tuple[int, int, int]] = []

    def progress(rows: int, done: int, size: int) -> None:
        seen.append((rows, done, size))
        if rows >= 3000:
            cancel.set()

    with pytest.raises(ImportCancelled, match="cancelled after 3,000 rows; nothing was imported"):
        store.import_csv(f, replace=replace, on_progress=progress, cancel=cancel, batch=1000)
    assert [s[0] for s in seen] == [1000, 2000, 3000]
    assert all(0 < d <= s for _, d, s in seen)
    assert store.count() == before == 50
    assert next(store.iter_rows(Query(), ["email"]))[0] == next(generate(50))[0]
    # the store works after the rollback: the same file, not cancelled, goes in whole
    res = store.import_csv(f, replace=replace)
    assert res.rows == 10_000 and store.count() == (10_000 if replace else 10_050)


def test_a_cancel_set_before_the_start_stores_nothing(store, tmp_path) -> None:
    f = tmp_path / "in.csv"
    write_csv(f, 100, "cp932")
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(ImportCancelled):
        store.import_csv(f, cancel=cancel)
    assert store.count() == 50


def test_every_failing_line_is_listed_after_a_failed_import(store, tmp_path) -> None:
    from haihai_tui.core.records.import_check import line_problems
    from haihai_tui.core.records.importer import RecordImportError

    f = tmp_path / "bad.csv"
    rows = ["メールアドレス,会社名,お名前"] + [f"u{i}@example.jp,C{i},N{i}" for i in range(30)]
    rows[3] += ",extra"
    rows[7] = "x@example.jp"
    rows[20] += ",a,b"
    f.write_text("\r\n".join(rows) + "\r\n", encoding="utf-8")
    with pytest.raises(RecordImportError, match="^line 4: 4 cells but the header has 3"):
        store.import_csv(f)
    found = line_problems(f, SAMPLE_DATABASE, limit=2)
    assert found.lines == [
        "line 4: 4 cells but the header has 3; quote cells that hold a comma",
        "line 8: 1 cells but the header has 3; quote cells that hold a comma",
    ]
    assert found.total == 3 and found.more == 1
    assert store.count() == 50


@pytest.mark.parametrize(
    "text,first",
    [
        ("会社,名前\r\na,b\r\n", "line 1: unknown column '会社'"),
        ('メールアドレス,会社名\r\na@x.jp,"open\r\nb@x.jp,B\r\n', "line 2: a quoted cell in the record starting"),
        ("", "line 1: the file is empty"),
    ],
)
def test_line_problems_say_what_the_import_says_for_the_header_and_quotes(tmp_path, text, first) -> None:
    from haihai_tui.core.records.import_check import line_problems

    f = tmp_path / "x.csv"
    f.write_text(text, encoding="utf-8")
    found = line_problems(f, SAMPLE_DATABASE)
    assert found.total == 1 and found.lines[0].startswith(first)
