"""The run's export from PostgreSQL, the server writing the CSV lines (PgRecordStore.csv_lines into
checks/csvlines.build_csv_from_lines, and a sync Planner on them: run/lineplan.py), against the SQLite export of the
same rows (RecordStore.iter_rows into build_csv): the same bytes, and the same findings with the same row, column
and message."""

from __future__ import annotations

import csv
import io
import random
import threading

import pytest

from haihai_tui.core.checks import csvbuild
from haihai_tui.core.checks.csvbuild import BuildCancelled, build_csv
from haihai_tui.core.checks.csvlines import build_csv_from_lines
from haihai_tui.core.records.postgres import PgRecordStore
from haihai_tui.core.records.query import Condition, Query
from haihai_tui.core.records.samples import FIELD_IDS, SAMPLE_DATABASE, SpecialRows, generate
from haihai_tui.core.records.store import RecordStore
from haihai_tui.core.run import lineplan
from haihai_tui.core.run.sync import Planner, ScopeView, SyncPlan
from haihai_tui.core.run.syncstate import row_digest
from haihai_tui.core.secret import Secret
from haihai_tui.core.settings.model import Database
from pg.server import load_table, pg_server  # noqa: F401

COLS = list(FIELD_IDS)
LABELS = [f.label for f in SAMPLE_DATABASE.fields]
# (email, company, name, kana, pref, phone): what the server quotes or a check finds, but nothing that is an error
TRICKY = [
    ("quote@example.jp", 'He said "hi"', '"', '""', "a,b", ""),
    ("comma@example.jp", "株式会社, 東京", ",", "", ",,", " lead space"),
    ("lf@example.jp", "line\nbreak", "cr\rhere", "crlf\r\nend", "\n", "tail\n"),
    ("wave@example.jp", "〜商事", "ａ〜ｂ", "", "", "0120〜"),
    ("formula@example.jp", '=HYPERLINK("x")', "-1+2", "@SUM(A1)", "+81 3 1234 5678", "-"),
    ("dot@example.jp", "\\.", "\\", ".", "\\.\\.", ""),
    ("empty@example.jp", "", "", "", "", ""),
    ("Case@Example.jp", "tab\there", "全角　空白", "ﾊﾝｶｸ", "髙橋", "①"),
    ("case@example.jp", "a duplicate, ignoring case", "", "", "", ""),
]
# errors: an emoji (no Windows-31J code), a control character, malformed, blank and duplicate addresses
FAULTS = [
    ("emoji@example.jp", "😀 shop", "", "", "", ""),
    ("esc@example.jp", "esc\x1b[31m", "", "", "", ""),
    ("not an address", "x", "", "", "", ""),
    ("", "blank", "", "", "", ""),
    ("QUOTE@example.jp", "dup, quoted", "", "", "", ""),
    ("c1@example.jp", "c1\x85", "", "", "", ""),
]


def _rows(special: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    sp = SpecialRows.for_rows(300)  # the sample's own deliberate faults are left out: FAULTS has them
    skip = {sp.emoji, sp.malformed, sp.duplicate} if sp else set()
    rows = [r for i, r in enumerate(generate(300)) if i not in skip]
    for i, r in enumerate(special):  # spread over several chunks, some at chunk edges
        rows.insert(7 + i * 37, r)
    return rows


@pytest.fixture(scope="module", params=["tricky", "faults"])
def stores(request, tmp_path_factory, pg_server):  # noqa: F811
    rows = _rows(TRICKY + (FAULTS if request.param == "faults" else []))
    lite = RecordStore.open(tmp_path_factory.mktemp("pg-export"), SAMPLE_DATABASE)
    lite.insert_rows(rows, COLS)
    table = f"sales.export_{request.param}"
    with pg_server.connect() as c:
        c.execute("CREATE SCHEMA IF NOT EXISTS sales")
        load_table(c, table, COLS, rows)
    db = Database("customers", "顧客管理", list(SAMPLE_DATABASE.fields), engine="postgresql", table=table)
    pg = PgRecordStore(db, Secret(pg_server.dsn()))
    yield request.param, lite, pg
    lite.close()
    pg.close()


def _email_ix(labels) -> int | None:
    return labels.index("メールアドレス") if "メールアドレス" in labels else None


def _both(lite, pg, tmp_path, q: Query, cols=COLS, labels=LABELS, column="email", **kw):
    kw.setdefault("encoding", "cp932")
    kw.setdefault("header", True)
    column = _email_ix(labels) if column == "email" else column
    a = build_csv(lite.iter_rows(q, cols), labels, dest_dir=tmp_path / "lite", **kw)
    b = build_csv_from_lines(pg.csv_lines(q, cols, column), labels, column=column, dest_dir=tmp_path / "pg", **kw)
    return a, b


def _findings(built) -> list[tuple]:
    return [(f.severity, f.code, f.message, f.row, f.column, f.char, f.codepoint) for f in built.findings]


def _same(a, b) -> None:
    assert _findings(b) == _findings(a)
    assert (b.total_rows, b.rows_per_file, b.bytes_per_file, b.counts) == (
        a.total_rows,
        a.rows_per_file,
        a.bytes_per_file,
        a.counts,
    )
    assert (b.error_count, b.warning_count) == (a.error_count, a.warning_count)
    assert [p.read_bytes() for p in b.files] == [p.read_bytes() for p in a.files]


QUERIES = {
    "all": Query(),
    "sorted by email, descending": Query(sort_field="email", descending=True),
    "a condition (a bound parameter)": Query(conditions=(Condition("company", "~", "商事"),)),
}


@pytest.mark.parametrize("chunk", [csvbuild.CHUNK, 7])
@pytest.mark.parametrize("encoding", ["cp932", "utf-8"])
@pytest.mark.parametrize("name", list(QUERIES))
def test_pg_export_is_the_sqlite_export(stores, tmp_path, monkeypatch, name, encoding, chunk):
    kind, lite, pg = stores
    monkeypatch.setattr(csvbuild, "CHUNK", chunk)  # 7: many chunks, fast and slow ones side by side
    a, b = _both(lite, pg, tmp_path, QUERIES[name], encoding=encoding)
    _same(a, b)
    codes = set(a.counts)
    if name == "all":
        assert {"formula", "email_duplicate"} <= codes  # the checks really ran on these rows
        if encoding == "cp932":
            assert "changed_char" in codes  # 〜
    if kind == "tricky":
        assert a.files and not a.has_errors
        data = a.files[0].read_bytes()
        if name == "all":
            assert b'"He said ""hi"""' in data and b'"line\nbreak"' in data and b'"crlf\r\nend"' in data
            assert b",\\.," in data and b"\r\n" in data  # \. bare, as csv.writer writes it
    elif name != "a condition (a bound parameter)":  # it leaves the faulty rows out
        assert a.has_errors and not a.files and not b.files  # errors: both removed their files
        if name == "all":
            want = {"control_char", "email_malformed", "email_blank"} | (
                {"unencodable"} if encoding == "cp932" else set()
            )
            assert want <= codes


def test_pg_export_cut_into_requests(stores, tmp_path, monkeypatch):
    """Row and byte limits cut chunks in the middle: the same requests, files and findings."""
    _kind, lite, pg = stores
    monkeypatch.setattr(csvbuild, "CHUNK", 13)
    for limits in ({"max_rows": 50}, {"max_bytes": 2_500}, {"max_rows": 40, "max_bytes": 3_000}):
        for split in (True, False):
            a, b = _both(lite, pg, tmp_path / f"{limits}-{split}", Query(), split=split, **limits)
            _same(a, b)
            assert a.requests > 1 if split else {"over_rows", "over_bytes"} & set(a.counts)


def test_pg_export_of_one_column_and_no_header(stores, tmp_path):
    """One column: an empty cell is a row of its own ('""', as csv.writer writes it); the e-mail column elsewhere."""
    _kind, lite, pg = stores
    for cols, labels in ((["email"], ["メールアドレス"]), (["company"], ["会社名"]), (["phone", "email"], None)):
        labels = labels or [SAMPLE_DATABASE.field(c).label for c in cols]
        a, b = _both(lite, pg, tmp_path / cols[0], Query(), cols=cols, labels=labels, header=False)
        _same(a, b)
        assert "no_header" in a.counts


@pytest.mark.parametrize("column", [None, 2])
def test_pg_export_without_the_email_cell(stores, tmp_path, monkeypatch, column):
    """Items that carry no cell or another column's: every chunk is checked as rows, still the same result."""
    _kind, lite, pg = stores
    monkeypatch.setattr(csvbuild, "CHUNK", 29)
    a, b = _both(lite, pg, tmp_path, Query(), column=column)
    _same(a, b)
    assert {"formula", "email_duplicate"} <= set(a.counts)


def test_pg_export_cancel_removes_files_and_keeps_the_connection(stores, tmp_path, monkeypatch):
    _kind, lite, pg = stores
    monkeypatch.setattr(csvbuild, "CHUNK", 50)
    cancel = threading.Event()
    with pytest.raises(BuildCancelled):
        build_csv_from_lines(
            pg.csv_lines(Query(), COLS, 0),
            LABELS,
            column=0,
            encoding="utf-8",
            header=True,
            dest_dir=tmp_path / "pg",
            on_rows=lambda n: cancel.set(),
            cancel=cancel,
        )
    assert list((tmp_path / "pg").iterdir()) == []
    assert pg.count(Query()) == lite.count(Query())  # the cursor was closed: the connection answers again
    assert [r[0] for r in pg.page(Query(), ["email"], limit=3).rows] == [
        r[0] for r in lite.page(Query(), ["email"], limit=3).rows
    ]


@pytest.mark.parametrize("mode", ["full", "changes", "mirror", "retry"])
def test_pg_export_through_a_sync_planner(stores, tmp_path, monkeypatch, mode):
    """A sync mode's Planner on the server's lines (lineplan.planned_lines) sends, counts and remembers what it
    does on the SQLite rows: the same file, findings, plan counts, examples, removals and (key, digest) sent."""
    _kind, lite, pg = stores
    monkeypatch.setattr(lineplan, "CHUNK", 11)  # chunks with and without quoted lines
    rows = list(lite.iter_rows(Query(), COLS))
    confirmed = {"gone@example.jp": row_digest(("gone@example.jp", "x", "", "", "", ""))}
    for i, r in enumerate(rows):
        key = r[0].strip().lower()
        if i % 3 == 0:
            confirmed[key] = row_digest(r)  # unchanged
        elif i % 3 == 1:
            confirmed[key] = row_digest(r[:-1] + ("old",))  # changed
        elif i % 5 == 0:
            confirmed[key] = b"!" + row_digest(r)  # refused last time
    retry = {r[0].strip().lower(): r[0] for r in rows[::4] if r[0].strip()} if mode == "retry" else None

    def planner():
        view = ScopeView(None, "integ", 1, dict(confirmed))
        return Planner(SyncPlan(mode, 1, 7, key_label="メールアドレス", target="gid=12"), 0, view, retry)

    pa, pb = planner(), planner()
    kw = {"encoding": "cp932", "header": True}
    a = build_csv(pa.rows(lite.iter_rows(Query(), COLS)), LABELS, dest_dir=tmp_path / "lite", **kw)
    lines = lineplan.planned_lines(pb, pg.csv_lines(Query(), COLS, 0))
    b = build_csv_from_lines(lines, LABELS, column=0, dest_dir=tmp_path / "pg", **kw)
    _same(a, b)
    fa, fb = pa.finish(), pb.finish()
    assert (fb.new, fb.changed, fb.retried, fb.unchanged, fb.removed) == (
        fa.new,
        fa.changed,
        fa.retried,
        fa.unchanged,
        fa.removed,
    )
    assert (fb.examples, fb.removals, fb.missing, fb.sent) == (fa.examples, fa.removals, fa.missing, fa.sent)
    assert fa.sent and (fa.to_send < len(rows) if mode != "full" else fa.to_send <= len(rows))


def test_server_lines_are_csv_writer_lines(pg_server):  # noqa: F811
    """Random cells of the characters that matter (, " CR LF, quotes at the edges, \\., NULL, emoji, 〜, a tab):
    every line the server writes is the line csv.writer writes for the same cells, and the cell beside it is the
    plain value; also for a table of one column."""
    rng = random.Random(20261201)
    pool = [",", '"', "\r", "\n", "\r\n", " ", "\t", "\\.", "\\", "a", "Z", "=", "-", "〜", "😀", "全", "é", ""]
    rows = [
        tuple(None if rng.random() < 0.1 else "".join(rng.choices(pool, k=rng.randrange(0, 5))) for _ in COLS)
        for _ in range(600)
    ]
    with pg_server.connect() as c:
        c.execute("CREATE SCHEMA IF NOT EXISTS sales")
        load_table(c, "sales.export_random", COLS, rows)
    db = Database("r", "r", list(SAMPLE_DATABASE.fields), engine="postgresql", table="sales.export_random")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")

    def line(cells) -> str:
        out.seek(0)
        out.truncate()
        writer.writerow(["" if v is None else v for v in cells])
        return out.getvalue()[:-2]

    with PgRecordStore(db, Secret(pg_server.dsn())) as pg:
        got = list(pg.csv_lines(Query(), COLS, 3))
        assert [g[0] for g in got] == [line(r) for r in rows]
        assert [g[1] for g in got] == [r[3] or "" for r in rows]
        one = list(pg.csv_lines(Query(), ["company"]))
        assert [g[0] for g in one] == [line([r[1]]) for r in rows]
        assert {g[1] for g in one} == {""}
    assert any(line([r[1]]) == '""' for r in rows) and any('"' in line(r) for r in rows)  # both cases met
