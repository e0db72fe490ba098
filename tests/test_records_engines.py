"""ONE suite, run on both engines: the SQLite RecordStore and the PostgreSQL PgRecordStore get the same rows and
the same Query objects, and each must give exactly what a plain-Python model of the rules gives (so they agree
with each other): counts, keyset pages, random access deep in the list, the streamed export, row positions.

Rules modelled: ``=`` equals exactly, ``~`` contains ignoring the case of ASCII letters only, search is
"contains" in any of the search fields, sort compares code points with ties in import (key) order,
descending keeps ties ascending.
"""

from __future__ import annotations

import pytest

from haihai_tui.core.records.postgres import PgRecordStore
from haihai_tui.core.records.query import Condition, Query
from haihai_tui.core.records.samples import FIELD_IDS, SAMPLE_DATABASE, generate
from haihai_tui.core.records.store import ANCHOR_EVERY, RecordStore
from haihai_tui.core.secret import Secret
from haihai_tui.core.settings.model import Database, FieldDef
from pg.server import load_table, pg_server  # noqa: F401

N_SAMPLE = 2600
SPECIAL = [  # (email, company, name, kana, pref, phone): edge cases for LIKE, case, width, ties, empties
    ("a%b@example.jp", "100%商事", "Ann", "アン", "東京都", ""),
    ("a_b@example.jp", "A_B Co", "ann", "アン", "東京都", ""),
    ("back\\slash@example.jp", "C:\\dir", "ANN", "アン", "", ""),
    ("Wide@example.jp", "ＡＢＣ商事", "ａｂｃ", "", "", "03-0000-0000"),
    ("wide@example.jp", "abc商事", "Ａｂｃ", "", "", "03-0000-0000"),
    ("", "", "", "", "", ""),
    ("zz@example.jp", "Émile", "émile", "É", "大阪府", "+81"),
]
ROWS = list(generate(N_SAMPLE)) + SPECIAL
COLS = list(FIELD_IDS)

QUERIES = {
    "all": Query(),
    "all desc": Query(descending=True),
    "sort email": Query(sort_field="email"),
    "sort pref desc (big ties)": Query(sort_field="pref", descending=True),
    "sort company": Query(sort_field="company"),
    "contains ascii ignoring case": Query(conditions=(Condition("name", "~", "ANN"),)),
    "contains full-width (no folding)": Query(conditions=(Condition("name", "~", "ａｂｃ"),)),
    "contains non-ascii letter (no folding)": Query(conditions=(Condition("name", "~", "ÉMILE"),)),
    "contains % literally": Query(conditions=(Condition("company", "~", "%"),)),
    "contains _ literally": Query(conditions=(Condition("company", "~", "_"),)),
    "contains backslash": Query(conditions=(Condition("company", "~", "\\"),)),
    "equals exactly": Query(conditions=(Condition("email", "=", "wide@example.jp"),)),
    "equals empty": Query(conditions=(Condition("pref", "=", ""),)),
    "two conditions sorted": Query(
        conditions=(Condition("pref", "=", "東京都"), Condition("company", "~", "商事")), sort_field="kana"
    ),
    "search shown columns": Query(search="yamada", search_fields=("email", "company")),
    "search all fields, sorted desc": Query(search="髙橋", sort_field="name", descending=True),
    "nothing matches": Query(conditions=(Condition("email", "=", "nobody@nowhere"),)),
}


def _fold(text: str) -> str:
    return text.translate(str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"))


def model(q: Query) -> list[int]:
    """Row ids (1-based, import order) of ``q``'s result, computed in plain Python."""
    idx = {f: i for i, f in enumerate(COLS)}

    def ok(row) -> bool:
        for c in q.conditions:
            v = row[idx[c.field_id]]
            if c.op == "=" and v != c.value or c.op == "~" and _fold(c.value) not in _fold(v):
                return False
        if q.search.strip():
            fields = q.search_fields or COLS
            return any(_fold(q.search.strip()) in _fold(row[idx[f]]) for f in fields)
        return True

    ids = [i for i, r in enumerate(ROWS, 1) if ok(r)]
    if q.sort_field:
        ids.sort()  # ties in import order, whatever the direction
        ids.sort(key=lambda i: ROWS[i - 1][idx[q.sort_field]], reverse=q.descending)
    elif q.descending:
        ids.reverse()
    return ids


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store(request, tmp_path_factory):
    if request.param == "sqlite":
        s = RecordStore.open(tmp_path_factory.mktemp("engines"), SAMPLE_DATABASE)
        s.insert_rows(ROWS, COLS)
    else:
        srv = request.getfixturevalue("pg_server")
        with srv.connect() as c:
            c.execute("CREATE SCHEMA IF NOT EXISTS sales")
            load_table(c, "sales.customers_suite", COLS, ROWS)
        db = Database(
            "customers", "顧客管理", list(SAMPLE_DATABASE.fields), engine="postgresql", table="sales.customers_suite"
        )
        s = PgRecordStore(db, Secret(srv.dsn()))
    yield s
    s.close()


def _row(i: int) -> tuple[str, ...]:
    return tuple(ROWS[i - 1])


@pytest.mark.parametrize("name", list(QUERIES))
def test_count_pages_and_export_match_the_model(store, name):
    q = QUERIES[name]
    want = model(q)
    assert store.count(q) == len(want)
    got_ids, got_rows, after = [], [], None
    while True:  # keyset pages of 700: crossing tie groups and anchors
        page = store.page(q, COLS, after=after, limit=700)
        got_ids += list(page.rowids)
        got_rows += page.rows
        if page.next is None:
            break
        after = page.next
    assert [int(i) for i in got_ids] == want
    assert got_rows == [_row(i) for i in want]
    assert list(store.iter_rows(q, COLS, batch=333)) == [_row(i) for i in want]


@pytest.mark.parametrize("name", ["all", "all desc", "sort email", "sort pref desc (big ties)", "search shown columns"])
def test_random_access_deep_in_the_list(store, name):
    q = QUERIES[name]
    want = model(q)
    for start in (0, 1, 249, 250, ANCHOR_EVERY - 1, ANCHOR_EVERY, len(want) - 150, len(want) - 1, len(want)):
        start = max(start, 0)
        got = store.rows_at(q, ["name", "email"], start, 200)
        expect = [(ROWS[i - 1][2], ROWS[i - 1][0]) for i in want[start : start + 200]]
        assert got == expect, (name, start)
    with_id = store.rows_at(q, ["email"], 5, 3, with_rowid=True)
    assert [(r[0], int(r[1])) for r in with_id] == [(ROWS[i - 1][0], i) for i in want[5:8]]


@pytest.mark.parametrize("name", ["all", "all desc", "sort email", "sort pref desc (big ties)", "sort company"])
def test_row_index_of_matches_the_model(store, name):
    q = QUERIES[name]
    want = model(q)
    for pos in (0, 1, 999, 1000, 1777, len(want) - 1):
        assert store.row_index_of(q, want[pos]) == pos
    if q.conditions:
        return
    other = model(QUERIES["equals exactly"])[0]
    assert store.row_index_of(QUERIES["contains _ literally"], other) is None


def test_unknown_field_is_refused_the_same_way(store):
    from haihai_tui.core.records.store import RecordQueryError

    with pytest.raises(RecordQueryError, match="no field 'nope'"):
        store.count(Query(sort_field="nope"))
    with pytest.raises(RecordQueryError, match="no field 'nope'"):
        store.page(Query(), ["email", "nope"])


def test_field_column_names_another_column(pg_server):  # noqa: F811
    """A field's ``column`` maps it to the table's own column name; a non-text column is read as text."""
    with pg_server.connect() as c:
        c.execute("DROP TABLE IF EXISTS kunden")
        c.execute('CREATE TABLE kunden (kid integer PRIMARY KEY, "E-Mail" varchar(200), seit date, punkte integer)')
        c.execute("INSERT INTO kunden VALUES (1, 'b@x.jp', '2024-01-02', 10), (2, 'a@x.jp', NULL, 9)")
    db = Database(
        "k",
        "Kunden",
        [
            FieldDef("email", "メールアドレス", "email", column="E-Mail"),
            FieldDef("since", "登録日", column="seit"),
            FieldDef("points", "ポイント", column="punkte"),
        ],
        engine="postgresql",
        table="kunden",
    )
    with PgRecordStore(db, Secret(pg_server.dsn())) as s:
        assert s.page(Query(), ["email", "since", "points"]).rows == [
            ("b@x.jp", "2024-01-02", "10"),
            ("a@x.jp", "", "9"),
        ]
        # sorted as text, as SQLite would: "10" < "9"
        assert list(s.iter_rows(Query(sort_field="points"), ["points"])) == [("10",), ("9",)]
        assert s.count(Query(conditions=(Condition("since", "~", "2024"),))) == 1
