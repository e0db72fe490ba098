"""admin.toml [state] backend = "postgresql": with the server unreachable the TUI opens and the history screen says
where the state is and why it cannot be read (host and the driver's reason); reachable, it lists every host's runs
and the details name the machine. Never the DSN's password. Keys only."""

from __future__ import annotations

import uuid

from textual.widgets import DataTable

from haihai_tui.core.paths import Paths
from haihai_tui.core.settings.context import AppContext
from pg.server import pg_server  # noqa: F401

try:  # tests/tui is on sys.path (pytest's default "prepend" import mode, no __init__.py)
    from runfixtures import CANARY, SIZE, screen_text, until
except ImportError:  # pragma: no cover
    from .runfixtures import CANARY, SIZE, screen_text, until


async def test_history_screen_says_the_shared_state_is_unreachable(tui_paths: Paths, me: str, tmp_path) -> None:
    from haihai_tui.tui.app import HaiHaiApp
    from haihai_tui.tui.screens.history import HistoryScreen

    gone = tmp_path / "nosock"
    gone.mkdir()
    with tui_paths.admin.open("a", encoding="utf-8") as f:
        f.write('\n[state]\nbackend = "postgresql"\ndsn = "${TEAM_STATE_DSN}"\n')
    dsn = f"host={gone} port=5432 dbname=team user=ops password={CANARY} connect_timeout=2"
    app = HaiHaiApp(AppContext(tui_paths, login=me, environ={"TEAM_STATE_DSN": dsn}))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("end", "enter")  # the start screen's last entry: システム連携状況確認
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen), what="the history screen")
        where = f"the shared state (PostgreSQL at {gone}:5432/team): cannot connect"
        await until(pilot, lambda: "cannot connect" in screen_text(app), what="the state's problem")
        text = screen_text(app)
        assert "the shared state (PostgreSQL at" in text  # at the top of the screen, where the runs would be
        said = " ".join(str(app.screen.query_one("#hist-status").render()).split())
        assert where in said and "No such file or directory" in said and "[state] dsn" in said
        assert app.screen.query_one("#runs", DataTable).row_count == 0
        assert CANARY not in text + said


async def test_history_shows_runs_of_every_host_with_their_machine(tui_paths: Paths, me: str, pg_server) -> None:  # noqa: F811
    from haihai_tui.core.events import Outcome
    from haihai_tui.core.run.history import RunRecord
    from haihai_tui.core.run.state import open_history
    from haihai_tui.tui.app import HaiHaiApp
    from haihai_tui.tui.screens.history import HistoryScreen, RunDetailScreen

    name = f"state_{uuid.uuid4().hex[:10]}"
    with pg_server.connect(dbname="postgres") as c:
        c.execute(f"CREATE DATABASE {name}")
    with tui_paths.admin.open("a", encoding="utf-8") as f:
        f.write('\n[state]\nbackend = "postgresql"\ndsn = "${TEAM_STATE_DSN}"\n')
    ctx = AppContext(tui_paths, login=me, environ={"TEAM_STATE_DSN": pg_server.dsn(password=CANARY, dbname=name)})
    h = open_history(ctx.paths, ctx.settings, ctx.environ)
    for memo in ("from here", "from the batch host"):
        rec = RunRecord(None, "", None, "tanaka", "配配メール 顧客登録", "顧客一覧", [], memo, 3, 10, 1, "h.example",
                        "https://h.example/api", 200, Outcome.RUNNING, None, "", [], None, {}, "")  # fmt: skip
        h.finish(h.start(rec), outcome=Outcome.DONE)
    with pg_server.connect(dbname=name) as c:  # the newer run was made on another machine
        c.execute("UPDATE haihai_runs SET machine = 'batch-01' WHERE memo = 'from the batch host'")
    app = HaiHaiApp(ctx)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("end", "enter")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen), what="the history screen")
        await until(pilot, lambda: app.screen.query_one("#runs", DataTable).row_count == 2, what="both runs")
        await pilot.press("enter")  # the newest: the batch host's
        await until(pilot, lambda: isinstance(app.screen, RunDetailScreen), what="the details")
        await until(pilot, lambda: "Who:" in screen_text(app), what="the detail text")
        assert "Who: tanaka on batch-01" in screen_text(app)
        assert CANARY not in screen_text(app)
