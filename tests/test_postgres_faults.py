"""engine = "postgresql" faults against a real server (tests/pg/server.py): unreachable at start (the command line
exits 1 with the host and the driver's reason; the TUI opens and says so where the list would be), the connection
lost during a run's export (the run stops before sending, nothing is sent, its files are removed), a literal DSN
refused, writes refused. The DSN's password is the suite's canary and must appear nowhere."""

from __future__ import annotations

import threading

import pytest

from corefixtures import CANARY, make_settings
from haihai_tui.cli.main import main
from haihai_tui.core.events import RowsProgress
from haihai_tui.core.records.engines import ReadOnlyRecords, RecordSourceError, open_records
from haihai_tui.core.records.samples import FIELD_IDS, generate
from haihai_tui.core.run.prepare import RunRefused, Target, prepare
from haihai_tui.core.settings.context import AppContext
from pg.server import after_customers_id, load_table, pg_server, to_postgres  # noqa: F401

MENU, INTEGRATION = "顧客一覧", "配配メール 顧客登録"


@pytest.fixture
def pg_paths(tmp_path, pg_server):  # noqa: F811
    with pg_server.connect() as c:
        c.execute("CREATE SCHEMA IF NOT EXISTS sales")
        load_table(c, "sales.customers", FIELD_IDS, generate(12_000))
    paths = make_settings(tmp_path)
    to_postgres(paths, pg_server.dsn(password=CANARY))
    return paths


def _unreachable(paths, pg_server, tmp_path) -> str:  # noqa: F811
    """Point the DSN at a socket folder where no server listens; returns that folder."""
    gone = tmp_path / "nosock"
    gone.mkdir()
    sec = paths.secrets.read_text(encoding="utf-8").replace(str(pg_server.socket_dir), str(gone))
    paths.secrets.write_text(sec, encoding="utf-8")
    return str(gone)


def test_open_records_reads_the_table_through_the_secret_dsn(pg_paths):
    ctx = AppContext(pg_paths)
    db = ctx.settings.database("customers")
    assert not ctx.loaded.errors, ctx.loaded.errors
    assert db.engine == "postgresql" and db.read_only
    with open_records(pg_paths, db, ctx.settings, {}) as store:
        assert store.count() == 12_000
        with pytest.raises(ReadOnlyRecords, match="never writes there"):
            store.insert_rows([("a@b.jp",) * 6], list(FIELD_IDS))


def test_cli_run_unreachable_exits_1_with_host_and_reason(pg_paths, pg_server, tmp_path, capsys):  # noqa: F811
    gone = _unreachable(pg_paths, pg_server, tmp_path)
    cfg = ["--config-dir", str(pg_paths.config_dir), "--data-dir", str(pg_paths.data_dir)]
    code = main(["run", "--menu", MENU, "--integration", INTEGRATION, "--yes", *cfg])
    out, err = capsys.readouterr()
    assert code == 1
    assert f"cannot connect to PostgreSQL at {gone}:5432/haihai" in err
    assert "No such file or directory" in err or "connection" in err.lower()  # the driver's reason
    assert "nothing was sent" in err
    assert CANARY not in out + err


def test_db_import_into_postgresql_is_refused(pg_paths, tmp_path, capsys):
    f = tmp_path / "in.csv"
    f.write_text("メールアドレス\r\na@b.jp\r\n", encoding="utf-8")
    cfg = ["--config-dir", str(pg_paths.config_dir), "--data-dir", str(pg_paths.data_dir)]
    assert main(["db", "import", "customers", str(f), *cfg]) == 2
    err = capsys.readouterr().err
    assert "read from PostgreSQL" in err and "nothing was imported" in err


def test_connection_lost_during_export_stops_before_sending(pg_paths, pg_server):  # noqa: F811
    ctx = AppContext(pg_paths)
    killed = threading.Event()

    def on_event(ev) -> None:  # after the first chunk is written: the server drops the run's connection
        if isinstance(ev, RowsProgress) and ev.done > 0 and not killed.is_set():
            killed.set()
            with pg_server.connect() as c:
                c.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'haihai-tui'"
                )

    with pytest.raises(RunRefused) as e:
        prepare(ctx.settings, pg_paths, Target(MENU, INTEGRATION), environ={}, on_event=on_event)
    assert killed.is_set()
    msg = str(e.value)
    assert "connection to PostgreSQL at" in msg and "was lost" in msg
    assert "nothing was sent" in msg and "files were removed" in msg
    assert CANARY not in msg
    runs = pg_paths.runs_dir
    assert not runs.exists() or not list(runs.iterdir())  # no CSV left behind


def test_literal_dsn_is_a_settings_error_without_echo(tmp_path):
    paths = make_settings(tmp_path)
    text = paths.db.read_text(encoding="utf-8")
    i = after_customers_id(text)
    literal = f"postgresql://sales:{CANARY}@db.example.jp/sales"
    paths.db.write_text(text[:i] + f'engine = "postgresql"\ndsn = "{literal}"\ntable = "x"\n' + text[i:], "utf-8")
    line = text[:i].count("\n") + 2
    problems = [str(p) for p in AppContext(paths).loaded.problems]
    hit = [p for p in problems if "dsn" in p]
    assert hit and hit[0].startswith(f"db.toml:{line}: ") and "secrets.toml" in hit[0]
    assert all(CANARY not in p for p in problems)
    with pytest.raises(RecordSourceError, match="never the connection string itself"):
        ctx = AppContext(paths)
        open_records(paths, ctx.settings.database("customers"), ctx.settings, {})


async def test_tui_unreachable_says_so_where_the_list_would_be(pg_paths, pg_server, tmp_path):  # noqa: F811
    from textual.widgets import OptionList, Static

    from haihai_tui.tui.app import HaiHaiApp
    from haihai_tui.tui.screens.record_list import RecordListScreen

    gone = _unreachable(pg_paths, pg_server, tmp_path)
    app = HaiHaiApp(AppContext(pg_paths, login="admin", environ={}))
    async with app.run_test(size=(80, 24)) as pilot:
        ol = app.screen.query_one("#menu", OptionList)
        await pilot.press("G")
        for _ in range(len(ol.options) + 1):
            opt = ol.highlighted_option
            if opt is not None and opt.id == f"menu:{MENU}":
                break
            await pilot.press("up")
        await pilot.press("enter")
        for _ in range(300):
            await pilot.pause(0.02)
            if isinstance(app.screen, RecordListScreen) and app.screen.query_one("#list-problem").has_class("on"):
                break
        problem = app.screen.query_one("#list-problem", Static)
        assert problem.has_class("on")
        shown = str(problem.render())
        assert f"cannot connect to PostgreSQL at {gone}" in shown and "haihai-tui check" in shown
        shot = app.export_screenshot()
        assert "cannot connect to" in shot.replace("&#160;", " ")
        assert CANARY not in shot and CANARY not in shown


@pytest.mark.parametrize("faults", [True, False])
def test_run_from_postgresql_builds_what_sqlite_builds(pg_paths, pg_server, tmp_path, faults):  # noqa: F811
    """prepare() of the same integration and rows, one database in PostgreSQL (the server writes the CSV lines) and
    one in SQLite: the same files byte for byte, the same findings and the same sync plan; with the sample's
    faults (errors: no file kept) and without its two errors (files kept)."""
    from haihai_tui.core.records.samples import SpecialRows
    from haihai_tui.core.records.store import RecordStore

    sp = SpecialRows.for_rows(12_000)
    rows = [r for i, r in enumerate(generate(12_000)) if faults or i not in (sp.emoji, sp.malformed)]
    with pg_server.connect() as c:
        load_table(c, "sales.customers", FIELD_IDS, rows)
    (tmp_path / "lite").mkdir()
    lite_paths = make_settings(tmp_path / "lite")
    with RecordStore.open(lite_paths.records_dir, AppContext(lite_paths).settings.database("customers")) as s:
        s.insert_rows(rows, FIELD_IDS)
    got = []
    for paths in (pg_paths, lite_paths):
        ctx = AppContext(paths)
        p = prepare(ctx.settings, paths, Target(MENU, INTEGRATION), environ={}, split=True)
        try:
            plan = p.sync
            got.append(
                (
                    [f.read_bytes() for f in p.built.files],
                    [(f.severity, f.code, f.message, f.row, f.column) for f in p.built.findings],
                    (plan.mode, plan.new, plan.changed, plan.unchanged, len(plan.sent)) if plan else None,
                )
            )
        finally:
            p.discard()
    assert got[0] == got[1]
    files, findings, plan = got[0]
    assert plan is not None and plan[4] == len(rows)
    codes = {f[1] for f in findings}
    if faults:
        assert not files and {"unencodable", "email_malformed", "email_duplicate"} <= codes
    else:
        assert len(files) == 2 and codes == {"email_duplicate"}  # 2 requests of at most 10,000 rows
