"""One record at a time (core/records/editing.py): read every field, update with optimistic concurrency,
insert, delete (each one transaction), checks by field type, the Windows-31J notes, read-only databases,
and the settings that carry them (select options, read_only)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from corefixtures import make_settings
from haihai_tui.core.checks.cell_notes import cell_notes
from haihai_tui.core.records.editing import (
    EditConflict,
    RecordGone,
    RecordsReadOnly,
    RecordValueError,
    delete_record,
    get_record,
    insert_record,
    update_record,
    value_problem,
)
from haihai_tui.core.records.query import Query
from haihai_tui.core.records.store import RecordStore
from haihai_tui.core.settings.load import load_settings
from haihai_tui.core.settings.model import Database, FieldDef
from haihai_tui.core.settings.permissions import records_refusal

FIELDS = [
    FieldDef("email", "メールアドレス", "email"),
    FieldDef("company", "会社名"),
    FieldDef("count", "人数", "number"),
    FieldDef("since", "登録日", "date"),
    FieldDef("rank", "ランク", "select", ["A", "B", "C"]),
]
DB = Database("people", "顧客管理", FIELDS)
IDS = [f.id for f in FIELDS]
ROWS = [
    ("a@example.jp", "大和商事", "12", "2024-01-31", "A"),
    ("b@example.jp", "西日本物産", "3", "2023/12/01", "B"),
    ("c@example.jp", "東京建設", "", "", ""),
]


@pytest.fixture
def store(tmp_path: Path):
    s = RecordStore.open(tmp_path / "records", DB)
    s.insert_rows(ROWS, IDS)
    yield s
    s.close()


def rid_of(s: RecordStore, n: int) -> int:
    return s.rows_at(Query(), ["email"], n, 1, with_rowid=True)[0][-1]


def raw_rows(s: RecordStore) -> list[tuple]:
    con = sqlite3.connect(s.path)
    try:
        return con.execute("SELECT * FROM records ORDER BY rid").fetchall()
    finally:
        con.close()


# --- reading -------------------------------------------------------------------------------------


def test_get_record_has_every_field(store):
    rid = rid_of(store, 1)
    r = get_record(store, rid)
    assert r is not None and r.rowid == rid
    assert r.values == dict(zip(IDS, ROWS[1], strict=True))
    assert list(r.values) == IDS  # field order
    assert get_record(store, 10_000) is None


def test_rows_at_with_rowid_matches_page_rowids(store):
    page = store.page(Query(), ["email"], limit=3)
    rows = store.rows_at(Query(), ["email"], 0, 3, with_rowid=True)
    assert [r[-1] for r in rows] == page.rowids
    assert [r[:-1] for r in rows] == page.rows
    assert store.rows_at(Query(), ["email"], 0, 3) == page.rows  # without: unchanged


# --- update and optimistic concurrency -----------------------------------------------------------


def test_update_writes_only_changed_fields_in_one_transaction(store):
    rid = rid_of(store, 0)
    loaded = get_record(store, rid).values
    saved = update_record(store, rid, loaded, {**loaded, "company": "大和商事株式会社", "count": "13"})
    assert saved.values["company"] == "大和商事株式会社" and saved.values["count"] == "13"
    assert get_record(store, rid) == saved
    assert get_record(store, rid_of(store, 1)).values == dict(zip(IDS, ROWS[1], strict=True))


def test_second_save_of_the_same_record_is_refused_with_what_changed(store, tmp_path):
    rid = rid_of(store, 0)
    mine = get_record(store, rid).values
    other = RecordStore.open(tmp_path / "records", DB)  # a second person: another connection
    try:
        theirs = get_record(other, rid).values
        update_record(other, rid, theirs, {**theirs, "company": "大和商事(株)"})
    finally:
        other.close()
    before = raw_rows(store)
    with pytest.raises(EditConflict) as e:
        update_record(store, rid, mine, {**mine, "company": "ヤマト商事"})
    assert raw_rows(store) == before  # nothing overwritten
    (c,) = e.value.changes
    assert (c.field_id, c.label, c.loaded) == ("company", "会社名", "大和商事")
    assert (c.theirs, c.yours) == ("大和商事(株)", "ヤマト商事")
    assert "会社名: theirs '大和商事(株)', yours 'ヤマト商事'" in str(e.value)
    assert e.value.current.values["company"] == "大和商事(株)"  # the reloaded record
    # saving again from the reloaded values works
    cur = e.value.current.values
    assert update_record(store, rid, cur, {**cur, "company": "ヤマト商事"}).values["company"] == "ヤマト商事"


def test_a_change_to_another_field_also_refuses(store):
    rid = rid_of(store, 0)
    mine = get_record(store, rid).values
    update_record(store, rid, mine, {**mine, "rank": "C"})
    with pytest.raises(EditConflict) as e:
        update_record(store, rid, mine, {**mine, "company": "X"})
    assert [c.field_id for c in e.value.changes] == ["rank"]
    assert "(you did not change it)" in str(e.value)


def test_concurrent_saves_from_threads_exactly_one_wins(tmp_path):
    s0 = RecordStore.open(tmp_path / "records", DB)
    s0.insert_rows(ROWS, IDS)
    rid = rid_of(s0, 0)
    loaded = get_record(s0, rid).values
    s0.close()
    results: list[str] = []
    barrier = threading.Barrier(4)

    def save(i: int) -> None:
        s = RecordStore.open(tmp_path / "records", DB)
        try:
            barrier.wait()
            update_record(s, rid, loaded, {**loaded, "company": f"writer {i}"})
            results.append(f"ok {i}")
        except EditConflict:
            results.append("conflict")
        finally:
            s.close()

    threads = [threading.Thread(target=save, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results).count("conflict") == 3
    winner = next(r for r in results if r.startswith("ok"))
    s = RecordStore.open(tmp_path / "records", DB)
    assert get_record(s, rid).values["company"] == f"writer {winner.split()[1]}"
    s.close()


def test_update_of_a_deleted_record_is_refused(store):
    rid = rid_of(store, 2)
    loaded = get_record(store, rid).values
    delete_record(store, rid, loaded)
    with pytest.raises(RecordGone, match="no longer exists"):
        update_record(store, rid, loaded, {**loaded, "company": "x"})
    assert store.count() == 2


class FailingCommit:
    """The store's connection, except that COMMIT fails (a full disk at the last moment)."""

    def __init__(self, conn):
        self.conn = conn

    def execute(self, sql, *args):
        if sql == "COMMIT":
            raise sqlite3.OperationalError("database or disk is full")
        return self.conn.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self.conn, name)


@pytest.mark.parametrize("write", ["update", "insert", "delete"])
def test_a_failed_commit_leaves_the_file_as_before(store, write):
    rid = rid_of(store, 0)
    loaded = get_record(store, rid).values
    before = raw_rows(store)
    real = store._conn
    store._conn = FailingCommit(real)
    try:
        with pytest.raises(sqlite3.OperationalError, match="disk is full"):
            if write == "update":
                update_record(store, rid, loaded, {**loaded, "company": "never stored", "rank": "C"})
            elif write == "insert":
                insert_record(store, {"email": "never@example.jp"})
            else:
                delete_record(store, rid, loaded)
    finally:
        store._conn = real
    assert not real.in_transaction
    assert raw_rows(store) == before


# --- insert and delete ---------------------------------------------------------------------------


def test_insert_adds_one_record_with_every_field(store):
    n = store.count()
    r = insert_record(store, {"email": "new@example.jp", "rank": "B"})
    assert store.count() == n + 1
    assert get_record(store, r.rowid).values == {
        "email": "new@example.jp",
        "company": "",
        "count": "",
        "since": "",
        "rank": "B",
    }


def test_insert_with_a_bad_value_writes_nothing(store):
    before = raw_rows(store)
    with pytest.raises(RecordValueError) as e:
        insert_record(store, {"email": "new＠example.jp", "count": "1,200"})
    assert set(e.value.problems) == {"email", "count"}
    assert "full-width ＠" in e.value.problems["email"] and "separators" in e.value.problems["count"]
    assert raw_rows(store) == before


def test_delete_removes_one_record_and_refuses_after_a_change(store):
    rid0, rid1 = rid_of(store, 0), rid_of(store, 1)
    loaded0 = get_record(store, rid0).values
    delete_record(store, rid0, loaded0)
    assert get_record(store, rid0) is None and store.count() == 2
    loaded1 = get_record(store, rid1).values
    update_record(store, rid1, loaded1, {**loaded1, "company": "changed meanwhile"})
    with pytest.raises(EditConflict, match="not deleted"):
        delete_record(store, rid1, loaded1)
    assert get_record(store, rid1) is not None
    with pytest.raises(RecordGone):
        delete_record(store, rid0, loaded0)


def test_list_caches_follow_an_edit(store):
    q = Query(sort_field="company")
    assert store.rows_at(q, ["company"], 0, 3) == [("大和商事",), ("東京建設",), ("西日本物産",)]
    rid = rid_of(store, 0)
    loaded = get_record(store, rid).values
    update_record(store, rid, loaded, {**loaded, "company": "和光"})
    assert store.rows_at(q, ["company"], 0, 3) == [("和光",), ("東京建設",), ("西日本物産",)]
    assert store.count(Query(search="和光", search_fields=("company",))) == 1


# --- read-only database --------------------------------------------------------------------------


def test_read_only_database_refuses_every_write(tmp_path):
    ro = Database("people", "顧客管理", FIELDS, read_only=True)
    s = RecordStore.open(tmp_path / "records", DB)
    s.insert_rows(ROWS, IDS)
    rid = rid_of(s, 0)
    s.close()
    s = RecordStore.open(tmp_path / "records", ro)
    try:
        before = raw_rows(s)
        loaded = get_record(s, rid).values  # reading is fine
        for write in (
            lambda: update_record(s, rid, loaded, {**loaded, "company": "x"}),
            lambda: insert_record(s, {"email": "x@example.jp"}),
            lambda: delete_record(s, rid, loaded),
        ):
            with pytest.raises(RecordsReadOnly, match="read_only = true"):
                write()
        assert raw_rows(s) == before
    finally:
        s.close()
    assert records_refusal(None, "顧客管理", False) is None
    assert "顧客管理" in records_refusal(None, "顧客管理", True)


def test_settings_read_only_and_select_options(tmp_path):
    paths = make_settings(tmp_path)
    text = paths.db.read_text(encoding="utf-8")
    text = text.replace(
        '{ id = "pref",    label = "都道府県",       type = "text" },',
        '{ id = "pref",    label = "都道府県",       type = "select", options = ["東京都", "大阪府"] },',
    )
    assert "options" in text
    text = text.replace("[[databases]]", "[[databases]]\nread_only = true", 1)
    paths.db.write_text(text, encoding="utf-8")
    loaded = load_settings(paths, {})
    assert [p for p in loaded.problems if p.severity == "error"] == []
    db = loaded.settings.databases[0]
    assert db.read_only is True
    assert db.field("pref").type == "select" and db.field("pref").options == ["東京都", "大阪府"]
    paths.db.write_text(text.replace(', options = ["東京都", "大阪府"]', ""), encoding="utf-8")
    msgs = [str(p) for p in load_settings(paths, {}).problems]
    assert any("db.toml:" in m and "has no options" in m for m in msgs), msgs


# --- checks by type and the Windows-31J notes ----------------------------------------------------


@pytest.mark.parametrize(
    ("ftype", "value", "why"),
    [
        ("email", "a@example.jp", None),
        ("email", "a＠example.jp", "full-width ＠"),
        ("email", "a@@example.jp", "more than one @"),
        ("email", "", None),
        ("number", "1200", None),
        ("number", "-12.5", None),
        ("number", "１２００", "full-width digits"),
        ("number", "1,200", "separators"),
        ("number", "12a", "not a number"),
        ("date", "2024-02-29", None),
        ("date", "2024/1/5", None),
        ("date", "2023-02-29", "day is out of range"),
        ("date", "2024-13-01", "month must be in 1..12"),
        ("date", "31.01.2024", "year-month-day"),
        ("date", "２０２４-０１-３１", "full-width digits"),
        ("select", "B", None),
        ("select", "D", "not one of the choices: 'A', 'B', 'C'"),
        ("text", "anything 🍰", None),
    ],
)
def test_value_problem_by_type(ftype, value, why):
    f = FieldDef("x", "X", ftype, ["A", "B", "C"] if ftype == "select" else [])
    got = value_problem(f, value)
    if why is None:
        assert got is None
    else:
        assert got is not None and why in got


def test_cp932_notes_name_the_character_with_its_code():
    notes = cell_notes("カフェ🍰ゆう")
    assert [n.codepoint for n in notes] == ["U+1F370"]
    assert notes[0].severity == "error" and "U+1F370" in notes[0].message and "Windows-31J" in notes[0].message
    wave = cell_notes("10〜20")
    assert [n.severity for n in wave] == ["warning"] and "U+301C" in wave[0].message and "～" in wave[0].message
    assert cell_notes("髙橋 ①") == []  # IBM / NEC extensions exist in Windows-31J
    assert cell_notes("") == [] and cell_notes("plain ascii") == []
    assert any("control character U+001B" in n.message for n in cell_notes("a\x1bb"))
    assert any("formula" in n.message for n in cell_notes("=HYPERLINK(1)"))
    assert cell_notes("x\u00a6", "utf-8") == []


def test_a_postgresql_database_is_never_written():
    from haihai_tui.core.records.editing import write_refusal

    pg = Database("crm", "CRM", FIELDS, engine="postgresql", table="crm.customers")
    why = write_refusal(pg)
    assert why is not None and "PostgreSQL" in why and "crm.customers" in why
    assert write_refusal(DB) is None


def test_a_file_locked_by_another_writer_is_said_so_and_nothing_changes(store):
    from haihai_tui.core.records.editing import RecordBusy

    rid = rid_of(store, 0)
    loaded = get_record(store, rid).values
    store._conn.execute("PRAGMA busy_timeout=100")  # SQLite's wait, shortened for the test
    importer = sqlite3.connect(store.path, isolation_level=None)  # e.g. a CSV import holding the write lock
    importer.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(RecordBusy, match="busy"):
            update_record(store, rid, loaded, {**loaded, "company": "x"})
        assert get_record(store, rid).values == loaded  # reading still works (WAL)
    finally:
        importer.execute("ROLLBACK")
        importer.close()
    assert update_record(store, rid, loaded, {**loaded, "company": "x"}).values["company"] == "x"
