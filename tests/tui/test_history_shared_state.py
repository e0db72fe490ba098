"""admin.toml [state] backend = "postgresql" with the server unreachable: the TUI opens, and the history screen says
where the state is and why it cannot be read (host and the driver's reason), never the DSN's password. Keys only."""

from __future__ import annotations

from textual.widgets import DataTable

from haihai_tui.core.paths import Paths
from haihai_tui.core.settings.context import AppContext

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
