"""The record database: CSV import (encodings, header, errors, rollback), queries, keyset paging,
random access by row index, streaming, and the caches that must follow writes."""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from haihai_tui.core.records import store as records
from haihai_tui.core.records.importer import RecordImportError
from haihai_tui.core.records.paging import Cursor
from haihai_tui.core.records.query import Condition, Query, parse_condition
from haihai_tui.core.records.store import RecordQueryError, RecordStore
from haihai_tui.core.settings.model import Database, FieldDef
from haihai_tui.core.text import safe

DB = Database(
    "people",
    "顧客管理",
    [
        FieldDef("email", "メールアドレス", "email"),
        FieldDef("company", "会社名"),
        FieldDef("name", "お名前"),
        FieldDef("pref", "都道府県"),
    ],
)
IDS = ["email", "company", "name", "pref"]
SPECIAL = [
    ("taka@example.jp", "㈱髙橋商事", "髙橋\u3000一郎", "東京都"),
    ("saki@example.jp", "山﨑工業①", "山﨑\u3000陽子", "大阪府"),
    ("wave@example.jp", "旬菜～いろどり～", " 前後に空白 ", "ｶﾅ県"),
]


@pytest.fixture
def store(tmp_path: Path):
    s = RecordStore.open(tmp_path / "records", DB)
    yield s
    s.close()


def write(path: Path, text: str, encoding: str) -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def csv_text(rows, header=("メールアドレス", "会社名", "お名前", "都道府県")) -> str:
    return "\r\n".join(",".join(r) for r in [header, *rows]) + "\r\n"


def all_rows(s: RecordStore, q: Query = Query()) -> list[tuple[str, ...]]:
    return list(s.iter_rows(q, IDS))


# --- import ------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding, codec", [("cp932", "cp932"), ("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig")])
def test_import_keeps_every_character(store, tmp_path, encoding, codec):
    f = write(tmp_path / "in.csv", csv_text(SPECIAL), encoding)
    res = store.import_csv(f)
    assert (res.rows, res.codec, res.columns, res.missing) == (3, codec, IDS, [])
    assert all_rows(store) == SPECIAL
    assert store.count() == 3


def test_shift_jis_cannot_hold_what_we_keep():
    with pytest.raises(UnicodeEncodeError):
        "髙﨑①㈱～".encode("shift_jis")


def test_header_by_id_any_order_and_missing_columns_stored_empty(store, tmp_path):
    text = 'pref,email\r\n東京都,a@example.jp\r\n"大阪\r\n府",b@example.jp\r\n'
    res = store.import_csv(write(tmp_path / "in.csv", text, "utf-8"))
    assert (res.rows, res.columns, res.missing) == (2, ["pref", "email"], ["company", "name"])
    assert all_rows(store) == [("a@example.jp", "", "", "東京都"), ("b@example.jp", "", "", "大阪\r\n府")]


def test_header_mixing_labels_and_ids_with_spaces(store, tmp_path):
    f = write(tmp_path / "in.csv", " email , 会社名 \nx@example.jp,A社\n", "utf-8")
    assert store.import_csv(f).columns == ["email", "company"]


def test_unknown_header_lists_the_known_labels(store, tmp_path):
    f = write(tmp_path / "in.csv", "メールアドレス,住所\nx@example.jp,札幌\n", "cp932")
    with pytest.raises(RecordImportError) as e:
        store.import_csv(f)
    assert str(e.value).startswith("line 1: unknown column '住所'")
    assert "メールアドレス, 会社名, お名前, 都道府県" in str(e.value)
    assert e.value.file == str(f) and e.value.as_problem().line == 1


@pytest.mark.parametrize(
    "text, expect",
    [
        ("", "line 1: the file is empty"),
        ("email,email\nx,y\n", "line 1: column 'email' appears twice"),
        ("email,,name\nx,y,z\n", "line 1: column 2 of the header has no name"),
    ],
)
def test_bad_headers(store, tmp_path, text, expect):
    with pytest.raises(RecordImportError, match="^" + expect):
        store.import_csv(write(tmp_path / "in.csv", text, "utf-8"))


def test_bad_row_names_its_physical_line_and_nothing_is_stored(store, tmp_path):
    store.insert_rows([("old@example.jp", "旧", "旧", "旧")], IDS)
    text = (
        "メールアドレス,会社名,お名前,都道府県\n"
        'a@example.jp,"two\nlines",名,県\n'  # lines 2-3: one record
        "\n"  # line 4: blank, skipped
        "b@example.jp,B社,名,県\n"  # line 5
        "c@example.jp,C社,名\n"  # line 6: one cell short
        "d@example.jp,D社,名,県\n"
    )
    for replace in (False, True):
        with pytest.raises(RecordImportError) as e:
            store.import_csv(write(tmp_path / "in.csv", text, "cp932"), replace=replace)
        assert str(e.value) == ("line 6: 3 cells but the header has 4; quote cells that hold a comma")
        assert e.value.line == 6
        assert all_rows(store) == [("old@example.jp", "旧", "旧", "旧")]


def test_too_many_cells_after_many_good_rows(store, tmp_path, monkeypatch):
    monkeypatch.setattr("haihai_tui.core.records.importer.BATCH", 10)  # the error lands in a later batch
    rows = [(f"u{i}@example.jp", "社", "名", "県") for i in range(35)] + [("x@example.jp", "社", "名", "県", "余分")]
    with pytest.raises(RecordImportError, match="^line 37: 5 cells but the header has 4"):
        store.import_csv(write(tmp_path / "in.csv", csv_text(rows), "utf-8"))
    assert store.count() == 0


@pytest.mark.parametrize(
    "text, expect",
    [
        (
            'email,name\na@example.jp,"unclosed\nb@example.jp,ok\n',
            'line 2: a quoted cell in the record starting on this line is never closed (a " is missing)',
        ),
        (
            'email,name\na@example.jp,ok\nb@example.jp,"x"y\n',
            'line 3: text follows a closing quote; inside a quoted cell write a quote as ""',
        ),
        (
            'email,name\na@example.jp,"a\nb","c\n',
            "line 2: a quoted cell in the record starting on this line is never closed",
        ),
    ],
)
def test_broken_quotes_are_errors_not_changed_cells(store, tmp_path, text, expect):
    with pytest.raises(RecordImportError) as e:
        store.import_csv(write(tmp_path / "in.csv", text, "utf-8"))
    assert str(e.value).startswith(expect)
    assert store.count() == 0


def test_quotes_inside_cells_are_kept(store, tmp_path):
    f = write(tmp_path / "in.csv", 'email,name\na@example.jp,"say ""hi"""\nb@example.jp,b"c\n', "utf-8")
    store.import_csv(f)
    assert list(store.iter_rows(Query(), ["name"])) == [('say "hi"',), ('b"c',)]


def test_file_in_neither_encoding_names_line_and_byte(store, tmp_path):
    good = "メールアドレス,会社名\nx@example.jp,東京\n".encode("cp932")
    f = tmp_path / "bad.csv"
    f.write_bytes(good + b"y@example.jp,\x85\x40\n")  # 0x85 lead byte: unassigned in cp932, invalid UTF-8
    with pytest.raises(RecordImportError) as e:
        store.import_csv(f)
    assert str(e.value).startswith("line 3: byte 14 (0x85) is neither UTF-8 nor Windows-31J")
    assert store.count() == 0


def test_damaged_utf8_is_refused_not_read_as_mojibake(store, tmp_path):
    f = tmp_path / "bad.csv"
    f.write_bytes("メールアドレス,会社名\nx@example.jp,東京本社\n".encode() + b"y@example.jp,\xe6\x97\n")
    with pytest.raises(RecordImportError, match=r"^line 3: byte 14 \(0xE6\) is not valid UTF-8"):
        store.import_csv(f)


def test_missing_file(store, tmp_path):
    with pytest.raises(RecordImportError, match="cannot read the file"):
        store.import_csv(tmp_path / "nope.csv")


def test_replace_empties_first_in_the_same_transaction(store, tmp_path):
    f = write(tmp_path / "in.csv", csv_text(SPECIAL[:2]), "utf-8")
    store.import_csv(f)
    store.import_csv(f)
    assert store.count() == 4
    res = store.import_csv(write(tmp_path / "b.csv", csv_text(SPECIAL[2:]), "utf-8"), replace=True)
    assert res.replaced and all_rows(store) == SPECIAL[2:]


def test_progress_is_reported(store, tmp_path, monkeypatch):
    monkeypatch.setattr("haihai_tui.core.records.importer.BATCH", 10)
    f = write(tmp_path / "in.csv", csv_text([(f"u{i}@example.jp", "社", "名", "県") for i in range(25)]), "utf-8")
    seen = []
    store.import_csv(f, on_progress=lambda rows, done, size: seen.append((rows, done <= size == f.stat().st_size)))
    assert seen == [(10, True), (20, True), (25, True)]


def test_store_file_is_private_and_in_wal_mode(store, tmp_path):
    assert store.path == tmp_path / "records" / "people.sqlite3"
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "records").st_mode) == 0o700
    other = sqlite3.connect(store.path)  # WAL is a property of the file: another connection sees it
    try:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        other.close()


def test_a_field_added_later_gets_a_column(tmp_path):
    with RecordStore.open(tmp_path, DB) as s:
        s.insert_rows([("a@example.jp", "A")], ["email", "company"])
    wider = Database(DB.id, DB.name, DB.fields + [FieldDef("phone", "電話番号")])
    with RecordStore.open(tmp_path, wider) as s:
        assert list(s.iter_rows(Query(), ["email", "phone"])) == [("a@example.jp", "")]


@pytest.mark.parametrize(
    "bad",
    [
        "../x",
        "..",
        ".",
        "/abs",
        "/tmp/x",
        "a/../../x",
        "x\0y",
        "x\x1b[2J",
        "",
        " ",
        " x",
        "C:x",
        "a\\b",
        "x\n",
        "\u3000",
        "é" * 101,
        ".hidden",
    ],
)
def test_database_id_that_would_leave_the_records_folder_is_refused(tmp_path, bad):
    with pytest.raises(records.DatabaseIdError, match="cannot be used as a file name") as e:
        RecordStore.open(tmp_path / "data" / "records", Database(bad, "x", DB.fields))
    assert isinstance(e.value, ValueError)
    msg = str(e.value)
    assert "db.toml" in msg and "\0" not in msg and "\x1b" not in msg and safe(msg) == msg
    assert list(tmp_path.rglob("*")) == []  # nothing created anywhere, not even the records folder


@pytest.mark.parametrize("good", ["customers", "顧客-2024_v1", "a.b", "x" * 200])
def test_plain_database_ids_are_fine(tmp_path, good):
    with RecordStore.open(tmp_path / "records", Database(good, "x", DB.fields)) as s:
        assert s.path == tmp_path / "records" / f"{good}.sqlite3"


# --- queries -----------------------------------------------------------------------------------

ROWS = [
    ("a.yamada@example.jp", "山田商事", "山田 太郎", "東京都"),
    ("B.SATO@EXAMPLE.JP", "佐藤100%工業", "佐藤 花子", "大阪府"),
    ("c_ito@example.jp", "伊藤_電機", "伊藤 一郎", "東京都"),
    ("d@example.jp", "Yamada Trading", "Dan", "北海道"),
    ("e@example.jp", "山田商事", "遠藤 健", "東京都 "),
]


@pytest.fixture
def filled(store):
    store.insert_rows(ROWS, IDS)
    return store


def emails(s: RecordStore, q: Query) -> list[str]:
    return [r[0] for r in s.iter_rows(q, ["email"])]


@pytest.mark.parametrize(
    "conds, search, fields, expect",
    [
        ([("pref", "=", "東京都")], "", (), ["a.yamada@example.jp", "c_ito@example.jp"]),  # exact: not "東京都 "
        ([("company", "=", "山田商事"), ("pref", "~", "東京")], "", (), ["a.yamada@example.jp", "e@example.jp"]),
        ([("email", "~", "YAMADA")], "", (), ["a.yamada@example.jp"]),  # ASCII case-insensitive
        ([("email", "~", "b.sato")], "", (), ["B.SATO@EXAMPLE.JP"]),
        ([("company", "~", "100%")], "", (), ["B.SATO@EXAMPLE.JP"]),  # % is literal
        ([("company", "~", "%")], "", (), ["B.SATO@EXAMPLE.JP"]),
        ([("email", "~", "_")], "", (), ["c_ito@example.jp"]),  # _ is literal
        ([("company", "~", "o_d")], "", (), []),
        ([("company", "=", "山田")], "", (), []),  # = is not contains
        ([], "yamada", ("company",), ["d@example.jp"]),  # search: only its fields
        ([], "yamada", ("email", "company"), ["a.yamada@example.jp", "d@example.jp"]),  # ORed over fields
        ([], "yamada", (), ["a.yamada@example.jp", "d@example.jp"]),  # no fields: all fields
        ([("pref", "~", "東京")], "  山田  ", ("company",), ["a.yamada@example.jp", "e@example.jp"]),  # ANDed
        ([], "   ", ("company",), [r[0] for r in ROWS]),  # blank search: all
    ],
)
def test_query_forms(filled, conds, search, fields, expect):
    q = Query(tuple(Condition(*c) for c in conds), search, fields)
    assert emails(filled, q) == expect
    assert filled.count(q) == len(expect)


def test_conditions_from_labels(filled):
    q = Query((parse_condition("会社名~商事", DB.pairs()), parse_condition("都道府県=東京都", DB.pairs())))
    assert emails(filled, q) == ["a.yamada@example.jp"]


def test_unknown_fields_are_refused_with_the_list(filled):
    with pytest.raises(RecordQueryError, match=r"no field 'zip' in 顧客管理; fields are: email \(メールアドレス\)"):
        filled.count(Query((Condition("zip", "=", "1"),)))
    for bad in (Query(sort_field="zip"), Query(search="x", search_fields=("zip",))):
        with pytest.raises(RecordQueryError):
            filled.page(bad, ["email"])
    with pytest.raises(RecordQueryError):
        filled.page(Query(), ["email", "zip"])


# --- order, paging, random access --------------------------------------------------------------

PREFS = ["東京都", "大阪府", "北海道", "", "沖縄県"]


@pytest.fixture
def big(store):
    """97 rows with many ties in pref and company (stability shows), plus empty cells."""
    rows = [
        (f"u{i:03d}@example.jp", f"社{(i * 7) % 5}", f"名{(i * 31) % 97:02d}", PREFS[(i * 3) % 5]) for i in range(97)
    ]
    store.insert_rows(rows, IDS)
    return store


QUERIES = [
    Query(),
    Query(descending=True),
    Query(sort_field="pref"),
    Query(sort_field="pref", descending=True),
    Query(sort_field="name"),
    Query(sort_field="company", descending=True),
    Query((Condition("company", "~", "社1"),), sort_field="pref"),
    Query((Condition("pref", "=", "東京都"),), descending=True),
    Query(search="u0", search_fields=("email",), sort_field="pref", descending=True),
    Query((Condition("company", "=", "none"),), sort_field="pref"),
]


def reference(s: RecordStore, q: Query, cols=("email", "pref"), limit=-1, offset=0) -> list[tuple]:
    """The plain ORDER BY ... LIMIT/OFFSET answer, from a separate connection."""
    plan = records.QueryPlan(q, s.database)
    sel = ", ".join(records.column(c) for c in cols)
    with sqlite3.connect(s.path) as c:
        return c.execute(
            f"SELECT {sel} FROM records WHERE {plan.where} ORDER BY {plan.order} LIMIT ? OFFSET ?",
            plan.params + [limit, offset],
        ).fetchall()


def python_order(s: RecordStore, q: Query) -> list[str]:
    """Stable sort in Python: ties keep import order both ways, as in a spreadsheet."""
    rows = [(rid, *r) for rid, r in enumerate(reference(s, Query(q.conditions, q.search, q.search_fields), IDS))]
    if q.sort_field:
        rows.sort(key=lambda r: r[1 + IDS.index(q.sort_field)], reverse=q.descending)
    elif q.descending:
        rows.reverse()
    return [r[1] for r in rows]


@pytest.mark.parametrize("q", QUERIES)
def test_sort_is_stable_in_both_directions(big, q):
    assert emails(big, q) == python_order(big, q) == [r[0] for r in reference(big, q)]


@pytest.mark.parametrize("q", QUERIES)
@pytest.mark.parametrize("limit", [1, 10, 13, 200])
def test_keyset_pages_equal_offset_pages(big, q, limit):
    got, after, offset = [], None, 0
    while True:
        page = big.page(q, ["email", "pref"], after=after, limit=limit)
        assert page.rows == reference(big, q, limit=limit, offset=offset)
        assert len(page.rowids) == len(page.rows)
        got += page.rows
        offset += limit
        if page.next is None:
            break
        assert page.next.rowid == page.rowids[-1]
        after = page.next
    assert got == reference(big, q)


@pytest.mark.parametrize("q", QUERIES)
def test_rows_at_equals_order_by_offset(big, q, monkeypatch):
    monkeypatch.setattr(records, "ANCHOR_EVERY", 7)
    total = big.count(q)
    for start in range(total + 3):
        for count in (1, 5, 20):
            assert big.rows_at(q, ["email", "pref"], start, count) == reference(big, q, limit=count, offset=start)


def test_rows_at_with_default_anchors_across_blocks(store):
    store.insert_rows(((f"u{i}@example.jp", "", f"n{i % 3}", "") for i in range(2500)), IDS)
    q = Query(sort_field="name", descending=True)
    for start in (0, 998, 999, 1000, 1001, 1999, 2000, 2490, 2500):
        assert store.rows_at(q, ["email"], start, 15) == reference(store, q, ("email",), 15, start)
    with pytest.raises(ValueError):
        store.rows_at(q, ["email"], -1, 5)


@pytest.mark.parametrize("q", QUERIES)
def test_row_index_of(big, q, monkeypatch):
    monkeypatch.setattr(records, "ANCHOR_EVERY", 7)
    with sqlite3.connect(big.path) as c:
        plan = records.QueryPlan(q, big.database)
        order = [
            r[0] for r in c.execute(f"SELECT rid FROM records WHERE {plan.where} ORDER BY {plan.order}", plan.params)
        ]
    for pos, rid in enumerate(order):
        assert big.row_index_of(q, rid) == pos
    outside = set(range(1, 98)) - set(order)
    for rid in list(outside)[:5] + [0, 9999]:
        assert big.row_index_of(q, rid) is None


def test_iter_rows_streams_everything_in_order(big):
    q = Query(sort_field="pref", descending=True)
    assert list(big.iter_rows(q, ["email", "pref"], batch=8)) == reference(big, q)
    assert list(big.iter_rows(Query(), ["email"], batch=97)) == [(f"u{i:03d}@example.jp",) for i in range(97)]
    assert list(big.iter_rows(Query((Condition("email", "=", "-"),)), ["email"])) == []


def test_first_page_and_cursor(big):
    page = big.page(Query(sort_field="pref"), ["email"], limit=3)
    assert page.next == Cursor("", page.rowids[-1])
    assert big.page(Query(), ["email"], after=Cursor(None, 97)).rows == []


# --- caches follow writes ----------------------------------------------------------------------


def test_counts_and_anchors_are_dropped_on_write(big, tmp_path, monkeypatch):
    monkeypatch.setattr(records, "ANCHOR_EVERY", 7)
    q = Query(sort_field="email", descending=True)
    assert big.count(q) == 97 and big.rows_at(q, ["email"], 0, 1) == [("u096@example.jp",)]
    big.insert_rows([("z@example.jp", "", "", "")], IDS)
    assert big.count(q) == 98 and big.rows_at(q, ["email"], 0, 1) == [("z@example.jp",)]
    big.import_csv(write(tmp_path / "in.csv", csv_text(SPECIAL), "utf-8"), replace=True)
    assert big.count(q) == 3 and big.rows_at(q, ["email"], 0, 3) == [
        ("wave@example.jp",),
        ("taka@example.jp",),
        ("saki@example.jp",),
    ]


def test_writes_by_another_process_are_seen(big):
    q = Query((Condition("pref", "=", "沖縄県"),))
    before = big.count(q)
    big.rows_at(q, ["email"], 0, 1)
    with sqlite3.connect(big.path) as other:
        other.execute("INSERT INTO records (f_email, f_pref) VALUES ('new@example.jp', '沖縄県')")
    assert big.count(q) == before + 1
    assert big.rows_at(q, ["email"], before, 1) == [("new@example.jp",)]


def test_insert_rows_with_wrong_width_stores_nothing(big):
    with pytest.raises(ValueError, match="bindings"):
        big.insert_rows([("a", "b", "c", "d"), ("short",)], IDS)
    assert big.count() == 97


def test_shared_between_threads(big):
    errors: list[BaseException] = []
    want = reference(big, Query(sort_field="name"), ("email",))

    def reader():
        try:
            for start in range(0, 97, 9):
                assert big.rows_at(Query(sort_field="name"), ["email"], start, 9) == want[start : start + 9]
                assert big.count(Query(sort_field="name")) == 97
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    big.insert_rows([], IDS)  # a write meanwhile (drops the caches)
    for t in threads:
        t.join()
    assert errors == []


def test_close_is_idempotent_and_final(tmp_path):
    s = RecordStore.open(tmp_path, DB)
    s.close()
    s.close()
    with pytest.raises(sqlite3.ProgrammingError):
        s.count()


def test_header_only_file_imports_nothing(store, tmp_path):
    res = store.import_csv(write(tmp_path / "in.csv", "メールアドレス,会社名\r\n", "cp932"))
    assert (res.rows, res.codec, res.encoding) == (0, "cp932", "Windows-31J/cp932")
    assert store.count() == 0
