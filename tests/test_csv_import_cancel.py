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
