"""``haihai-tui check`` on an engine = "postgresql" database, against a real server: it connects (short timeout)
and reports a missing table, a missing column, a column of the wrong type, a missing permission and an
unreachable server as errors, and a sort without an index on a big table as a warning, each as db.toml:LINE."""

from __future__ import annotations

import pytest

from corefixtures import CANARY, make_settings
from haihai_tui.cli.main import main
from haihai_tui.core.records.samples import FIELD_IDS, generate
from pg.server import load_table, pg_server, to_postgres  # noqa: F401


def _line_of(paths, text: str) -> int:
    lines = paths.db.read_text(encoding="utf-8").splitlines()
    return next(i for i, ln in enumerate(lines, 1) if ln.startswith(text))


def _check(paths, capsys) -> tuple[int, list[str]]:
    code = main(["check", "--config-dir", str(paths.config_dir), "--data-dir", str(paths.data_dir)])
    out, err = capsys.readouterr()
    assert CANARY not in out + err
    return code, [ln for ln in (out + err).splitlines() if "database 'customers'" in ln]


@pytest.fixture
def srv(pg_server):  # noqa: F811
    with pg_server.connect() as c:
        c.execute("CREATE SCHEMA IF NOT EXISTS sales")
        load_table(c, "sales.customers", FIELD_IDS, generate(300))
    return pg_server


def test_a_matching_table_has_no_finding(srv, tmp_path, capsys):
    paths = make_settings(tmp_path)
    to_postgres(paths, srv.dsn(password=CANARY))
    code, lines = _check(paths, capsys)
    assert lines == []


def test_missing_table(srv, tmp_path, capsys):
    paths = make_settings(tmp_path)
    to_postgres(paths, srv.dsn(password=CANARY), table="sales.nope")
    code, lines = _check(paths, capsys)
    assert code == 1
    assert lines == [
        f"db.toml:{_line_of(paths, 'table = ')}: database 'customers': no table or view sales.nope at "
        f"{srv.socket_dir}:5432/haihai (or this login may not see it)"
    ]


def test_missing_column_and_wrong_type(srv, tmp_path, capsys):
    with srv.connect() as c:
        c.execute("DROP TABLE IF EXISTS sales.odd")
        c.execute(
            "CREATE TABLE sales.odd (id int PRIMARY KEY, email bytea, company text, name text, kana text, pref text)"
        )
    paths = make_settings(tmp_path)
    to_postgres(paths, srv.dsn(password=CANARY), table="sales.odd")
    code, lines = _check(paths, capsys)
    assert code == 1
    assert any("field 'email': column 'email' is bytea" in ln and ln.startswith("db.toml:") for ln in lines), lines
    phone = [ln for ln in lines if "field 'phone'" in ln]
    assert phone and "has no column 'phone'" in phone[0] and "its columns are: id, email, company" in phone[0]
    text = paths.db.read_text(encoding="utf-8").splitlines()
    assert "phone" in text[int(phone[0].split(":")[1]) - 1]  # the line of the phone field


def test_no_select_permission(srv, tmp_path, capsys):
    with srv.connect() as c:
        c.execute("DROP ROLE IF EXISTS clerk")
        c.execute("CREATE ROLE clerk LOGIN")
        c.execute("GRANT USAGE ON SCHEMA sales TO clerk")
    paths = make_settings(tmp_path)
    to_postgres(paths, srv.dsn(user="clerk", password=CANARY))
    code, lines = _check(paths, capsys)
    assert code == 1
    assert any("the login 'clerk' may not read sales.customers" in ln and "GRANT SELECT" in ln for ln in lines), lines


def test_unreachable_server(srv, tmp_path, capsys):
    paths = make_settings(tmp_path)
    to_postgres(paths, srv.dsn(password=CANARY).replace(str(srv.socket_dir), str(tmp_path)))
    code, lines = _check(paths, capsys)
    assert code == 1
    assert len(lines) == 1 and lines[0].startswith(f"db.toml:{_line_of(paths, 'dsn = ')}: ")
    assert f"cannot connect to PostgreSQL at {tmp_path}:5432/haihai" in lines[0]


def test_sort_without_index_on_a_big_table_warns(srv, tmp_path, capsys):
    cols = ", ".join(f"'{f}' || g" for f in FIELD_IDS)
    with srv.connect() as c:
        c.execute("DROP TABLE IF EXISTS sales.big")
        c.execute(f"CREATE TABLE sales.big (id bigint PRIMARY KEY, {', '.join(f'{f} text' for f in FIELD_IDS)})")
        c.execute(f"INSERT INTO sales.big SELECT g, {cols} FROM generate_series(1, 120000) g")
        c.execute('CREATE INDEX ON sales.big (email COLLATE "C", id)')
        c.execute("CREATE INDEX ON sales.big (company)")  # the database's own collation: not the list's order
        c.execute("ANALYZE sales.big")
    paths = make_settings(tmp_path)
    to_postgres(paths, srv.dsn(password=CANARY), table="sales.big")
    code, lines = _check(paths, capsys)
    warned = {ln.split("field '")[1].split("'")[0] for ln in lines if "warning" in ln or "sorting by it" in ln}
    assert warned == set(FIELD_IDS) - {"email"}, lines
    assert all("no index in code-point order" in ln and 'COLLATE "C"' in ln for ln in lines)

    # the record list says the same where it shows the sort
    from haihai_tui.core.records.engines import open_records
    from haihai_tui.core.settings.context import AppContext

    ctx = AppContext(paths)
    with open_records(paths, ctx.settings.database("customers"), ctx.settings, {}) as store:
        assert store.slow_sorts == set(FIELD_IDS) - {"email"}
