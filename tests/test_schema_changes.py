"""DB設定 > データベース / フィールド設定 in the core: db.toml edits (db_editing.py) and the record table that
follows them (records/schema.py) without losing data."""

from __future__ import annotations

import sqlite3
import threading
import tomllib

import pytest

from corefixtures import CANARY
from haihai_tui.core.records.query import Query
from haihai_tui.core.records.schema import SchemaRefused, add_columns, drop_kept, kept_columns
from haihai_tui.core.records.store import RecordStore
from haihai_tui.core.settings import db_editing as dbe
from haihai_tui.core.settings.editing import EditRefused
from haihai_tui.core.settings.load import load_settings
from haihai_tui.core.settings.model import FieldDef

ROWS = [
    ("a@example.jp", "A社", "安藤", "アンドウ", "東京都", "03-1"),
    ("b@example.jp", "B社", "坂井", "サカイ", "大阪府", "06-2"),
    ("c@example.jp", "C社", "千葉", "チバ", "", "011-3"),
]
IDS = ["email", "company", "name", "kana", "pref", "phone"]


def db_of(paths, db_id="customers"):
    return load_settings(paths, validate_all=False).settings.database(db_id)


def filled(paths):
    db = db_of(paths)
    with RecordStore.open(paths.records_dir, db) as st:
        st.insert_rows(ROWS, IDS)
    return db


def raw(paths) -> str:
    return paths.db.read_text(encoding="utf-8")


def test_add_field_keeps_rows_and_adds_a_column(paths):
    filled(paths)
    dbe.add_field(paths, "admin", "customers", FieldDef("rank", "ランク", "select", ["A", "B"]))
    db = db_of(paths)
    assert db.fields[-1] == FieldDef("rank", "ランク", "select", ["A", "B"])
    assert add_columns(paths.records_dir, db) == ["rank"]
    assert add_columns(paths.records_dir, db) == []  # again: nothing to add
    with RecordStore.open(paths.records_dir, db) as st:
        assert st.page(Query(), IDS + ["rank"]).rows == [r + ("",) for r in ROWS]
    assert "# HaiHai's key column" in raw(paths)  # comments of untouched lines survive
    assert not load_settings(paths).errors


def test_reorder_changes_only_the_order_of_db_toml(paths):
    filled(paths)
    before = (paths.records_dir / "customers.sqlite3").stat().st_mtime_ns
    dbe.move_field(paths, "admin", "customers", "phone", -1, expected=db_of(paths).fields)
    dbe.move_field(paths, "admin", "customers", "email", 1)
    db = db_of(paths)
    assert [f.id for f in db.fields] == ["company", "email", "name", "kana", "phone", "pref"]
    assert (paths.records_dir / "customers.sqlite3").stat().st_mtime_ns == before
    with RecordStore.open(paths.records_dir, db) as st:
        assert st.page(Query(), ["phone", "pref", "email"]).rows == [(r[5], r[4], r[0]) for r in ROWS]
    with pytest.raises(EditRefused, match="already at the end"):
        dbe.move_field(paths, "admin", "customers", "company", -1)


def test_remove_then_drop_in_a_separate_step(paths):
    filled(paths)
    dbe.remove_field(paths, "admin", "customers", "pref")
    db = db_of(paths)
    assert db.field("pref") is None
    kept = kept_columns(paths.records_dir, db)
    assert [(k.field_id, k.non_empty) for k in kept] == [("pref", 2)]
    assert kept[0].describe() == "drop the kept data of field pref: 2 non-empty values"
    with RecordStore.open(paths.records_dir, db) as st:  # the data is still there, hidden
        st.page(Query(sort_field="kana"), ["kana"])  # a sort index exists on another field
    # re-adding the same id brings the kept values back
    dbe.add_field(paths, "admin", "customers", FieldDef("pref", "都道府県"))
    with RecordStore.open(paths.records_dir, db_of(paths)) as st:
        assert st.page(Query(), ["pref"]).rows == [("東京都",), ("大阪府",), ("",)]
        st.page(Query(sort_field="pref"), ["pref"])  # and an index on it
    dbe.remove_field(paths, "admin", "customers", "pref")
    db = db_of(paths)
    assert drop_kept(paths.records_dir, db, "pref") == 2
    assert kept_columns(paths.records_dir, db) == []
    conn = sqlite3.connect(paths.records_dir / "customers.sqlite3")
    cols = [r[1] for r in conn.execute("PRAGMA table_info(records)")]
    conn.close()
    assert "f_pref" not in cols and "f_kana" in cols
    with RecordStore.open(paths.records_dir, db) as st:
        assert st.count() == 3
        assert st.page(Query(), ["email", "phone"]).rows == [(r[0], r[5]) for r in ROWS]
    with pytest.raises(SchemaRefused, match="no kept data"):
        drop_kept(paths.records_dir, db, "pref")


def test_drop_refused_while_the_field_is_used(paths):
    db = filled(paths)
    with pytest.raises(SchemaRefused, match="still a field"):
        drop_kept(paths.records_dir, db, "kana")
    with pytest.raises(EditRefused, match="顧客一覧"):  # the menu that shows it is named
        dbe.remove_field(paths, "admin", "customers", "company")
    assert db_of(paths).field("company") is not None


def test_a_failed_drop_changes_nothing(paths, monkeypatch):
    filled(paths)
    dbe.remove_field(paths, "admin", "customers", "kana")
    db = db_of(paths)
    conn = sqlite3.connect(paths.records_dir / "customers.sqlite3")
    conn.execute("BEGIN IMMEDIATE")  # someone else holds the write lock for longer than the wait
    import haihai_tui.core.records.schema as schema

    real = schema._connect
    monkeypatch.setattr(schema, "_connect", lambda p: (c := real(p), c.execute("PRAGMA busy_timeout=50"))[0])
    with pytest.raises(sqlite3.OperationalError):
        drop_kept(paths.records_dir, db, "kana")
    conn.rollback()
    conn.close()
    assert [k.field_id for k in kept_columns(paths.records_dir, db)] == ["kana"]


def test_field_checks(paths):
    with pytest.raises(EditRefused, match="may hold only"):
        dbe.add_field(paths, "admin", "customers", FieldDef("a b", "X"))
    with pytest.raises(EditRefused, match="already exists"):
        dbe.add_field(paths, "admin", "customers", FieldDef("email", "X"))
    with pytest.raises(EditRefused, match="labels must be unique"):
        dbe.add_field(paths, "admin", "customers", FieldDef("x", "会社名"))
    with pytest.raises(EditRefused, match="needs its options"):
        dbe.add_field(paths, "admin", "customers", FieldDef("x", "X", "select"))
    with pytest.raises(EditRefused, match="only for type select"):
        dbe.add_field(paths, "admin", "customers", FieldDef("x", "X", "text", ["a"]))
    with pytest.raises(EditRefused, match="unknown"):
        dbe.add_field(paths, "admin", "customers", FieldDef("x", "X", "money"))
    with pytest.raises(EditRefused, match="control character"):
        dbe.add_field(paths, "admin", "customers", FieldDef("x", "X\x1b[2J"))
    before = raw(paths)
    with pytest.raises(EditRefused, match="id cannot change"):
        dbe.change_field(paths, "admin", "customers", "name", FieldDef("nm", "お名前"))
    assert raw(paths) == before
    dbe.change_field(paths, "admin", "customers", "name", FieldDef("name", "氏名", "text"))
    assert db_of(paths).field("name").label == "氏名"


def test_concurrent_change_is_refused(paths):
    shown = db_of(paths).fields
    dbe.change_field(paths, "admin", "customers", "kana", FieldDef("kana", "カナ"))  # someone else
    before = raw(paths)
    with pytest.raises(EditRefused, match="someone else changed the fields"):
        dbe.move_field(paths, "admin", "customers", "phone", -1, expected=shown)
    with pytest.raises(EditRefused, match="someone else renamed"):
        dbe.rename_database(paths, "admin", "customers", "X", expected="not the name")
    assert raw(paths) == before


def test_permissions_are_rechecked_from_admin_toml(paths):
    before = raw(paths)
    for call in (
        lambda: dbe.create_database(paths, "tanaka", "shops", "店舗"),
        lambda: dbe.add_field(paths, "tanaka", "customers", FieldDef("x", "X")),
        lambda: dbe.remove_field(paths, "tanaka", "customers", "kana"),
        lambda: dbe.create_menu(paths, "tanaka", "新規", "customers"),
        lambda: dbe.delete_menu(paths, "tanaka", "顧客一覧"),
    ):
        with pytest.raises(EditRefused, match="Read-only: 'tanaka' lacks 「DB設定」"):
            call()
    with pytest.raises(EditRefused, match="no user entry"):
        dbe.add_field(paths, "nobody", "customers", FieldDef("x", "X"))
    assert raw(paths) == before


def test_create_and_rename_database(paths):
    dbe.create_database(paths, "admin", "shops", "店舗")
    with pytest.raises(EditRefused, match="already exists"):
        dbe.create_database(paths, "admin", "shops", "again")
    for bad in ("../x", "a.b", "", "x" * 65, "名前"):
        with pytest.raises(EditRefused, match="may hold only"):
            dbe.create_database(paths, "admin", bad, "X")
    dbe.add_field(paths, "admin", "shops", FieldDef("email", "メールアドレス", "email"))
    dbe.rename_database(paths, "admin", "shops", "店舗一覧", expected="店舗")
    loaded = load_settings(paths)
    assert not loaded.errors, loaded.errors
    db = loaded.settings.database("shops")
    assert (db.name, [f.id for f in db.fields]) == ("店舗一覧", ["email"])
    assert tomllib.loads(raw(paths))["databases"][1]["id"] == "shops"


def test_menu_create_rename_copy_delete(paths):
    dbe.create_menu(paths, "admin", "全顧客", "customers")
    s = load_settings(paths, validate_all=False).settings
    assert s.menu("全顧客").columns == IDS and s.menu("全顧客").integrations == []
    with pytest.raises(EditRefused, match="already exists"):
        dbe.create_menu(paths, "admin", "顧客一覧", "customers")
    with pytest.raises(EditRefused, match="no longer in db.toml"):
        dbe.create_menu(paths, "admin", "x", "nope")
    dbe.copy_menu(paths, "admin", "顧客一覧", "顧客一覧 (2)")
    s = load_settings(paths, validate_all=False).settings
    assert s.menu("顧客一覧 (2)").integrations == s.menu("顧客一覧").integrations
    assert dbe.only_carrier_of(s, "顧客一覧") == []  # the copy carries them too
    dbe.rename_menu(paths, "admin", "顧客一覧 (2)", "営業用")
    dbe.delete_menu(paths, "admin", "営業用")
    s = load_settings(paths, validate_all=False).settings
    assert [m.name for m in s.menus] == ["顧客一覧", "全顧客"]
    assert dbe.only_carrier_of(s, "顧客一覧") == ["配配メール 顧客登録", "配配メール 配信停止"]
    assert dbe.menus_showing(s, "customers", "email") == ["顧客一覧", "全顧客"]
    assert CANARY not in raw(paths)


def test_writers_take_turns(paths):
    """Many field additions at once: every one lands (the store's lock), none is lost."""
    errors = []

    def add(i):
        try:
            dbe.add_field(paths, "admin", "customers", FieldDef(f"x{i}", f"X{i}"))
        except Exception as e:  # pragma: no cover - the assertion below shows it
            errors.append(e)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(f.id for f in db_of(paths).fields if f.id.startswith("x")) == sorted(f"x{i}" for i in range(8))


def test_deleting_a_menu_someone_else_changed_is_refused(paths):
    shown = load_settings(paths, validate_all=False).settings.menu("顧客一覧")
    dbe.copy_menu(paths, "admin", "顧客一覧", "x")  # unrelated: fine
    import dataclasses

    from haihai_tui.core.settings import editing

    editing.save_menu(paths, "admin", dataclasses.replace(shown, columns=["email"]), "顧客一覧")
    with pytest.raises(EditRefused, match="someone else changed menu '顧客一覧'"):
        dbe.delete_menu(paths, "admin", "顧客一覧", shown)
    dbe.delete_menu(paths, "admin", "x", load_settings(paths, validate_all=False).settings.menu("x"))
    assert [m.name for m in load_settings(paths, validate_all=False).settings.menus] == ["顧客一覧"]
