"""Running an integration from the record list against the mock server — keyboard only, 80x24."""

from __future__ import annotations

from haihai_tui.core.events import Outcome, Stage
from haihai_tui.core.run.history import History
from haihai_tui.tui.dialogs.common import MessageScreen
from haihai_tui.tui.dialogs.run_confirm import ConfirmRunScreen
from haihai_tui.tui.dialogs.run_preflight import FindingsScreen
from haihai_tui.tui.screens.progress import ProgressScreen
from haihai_tui.tui.screens.record_list import RecordListScreen
from runfixtures import (  # noqa: F401  (tests/tui is on sys.path)
    CANARY,
    CLEAN_ROWS,
    CLEAN_SEARCH,
    DANGER,
    EMOJI_ROW,
    MALFORMED_ROW,
    SIZE,
    assert_no_canary,
    env,
    make_app,
    mock_server,
    open_menu,
    screen_text,
    search,
    until,
)


async def pick_integration(pilot, index: int = 0) -> None:
    """r, then choose the index-th attached integration; waits for pre-flight to end."""
    await pilot.press("r")
    await pilot.press(*(["down"] * index), "enter")
    app = pilot.app
    await until(
        pilot,
        lambda: isinstance(app.screen, (ConfirmRunScreen, FindingsScreen, MessageScreen)),
        what="the end of pre-flight",
    )


async def start_clean_run(pilot, memo: str = "") -> None:
    await open_menu(pilot)
    await search(pilot, CLEAN_SEARCH)
    await pick_integration(pilot)
    assert isinstance(pilot.app.screen, ConfirmRunScreen)
    if memo:
        await pilot.press(*memo)
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(pilot.app.screen, ProgressScreen), what="the progress screen")


def history_rows(env) -> list:
    return History(env.paths.history_db).list()


def assert_history_has_no_canary(env) -> None:
    assert CANARY.encode() not in env.paths.history_db.read_bytes()
    for rec in History(env.paths.history_db).list():
        full = History(env.paths.history_db).get(rec.run_id)
        assert CANARY not in repr(full) and CANARY.encode() not in (full.result_csv or b"")


async def test_search_run_finish_and_find_it_in_history(env) -> None:
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await start_clean_run(pilot, memo="4月分")
        assert_no_canary(app)
        state = await app.runs.wait()
        await pilot.pause()
        assert state.outcome is Outcome.DONE and state.rows == CLEAN_ROWS
        text = screen_text(app)
        assert "完了" in text and "200 success" in text
        assert len(env.received()) == 1
        assert env.received()[0]["settings"]["import_type"] == "0"

        await pilot.press("h")  # history from the progress screen
        await until(pilot, lambda: "4月分" in screen_text(app), what="the run in the history")
        text = screen_text(app)
        assert "完了" in text and "200" in text and str(CLEAN_ROWS) in text
        assert_no_canary(app)
        await pilot.press("enter")  # details
        await until(pilot, lambda: "Row-level result" in screen_text(app), what="the details")
        text = screen_text(app)
        assert f"search:{CLEAN_SEARCH}" in text and "import_type" in text and "127.0.0.1" in text
        assert "成功" in text  # the row-level result, decoded
        assert_no_canary(app)
    assert_history_has_no_canary(env)
    [rec] = history_rows(env)
    assert rec.outcome is Outcome.DONE and rec.memo == "4月分" and rec.rows == CLEAN_ROWS


async def test_leave_the_list_during_a_run_and_come_back(env) -> None:
    env.control("delay", {"seconds": 4, "when": "before_response"})
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await start_clean_run(pilot)
        await until(pilot, lambda: app.runs.state.stage is Stage.RESPONSE, what="the upload to finish")
        await pilot.press("escape")  # progress -> list
        assert isinstance(app.screen, RecordListScreen)
        await pilot.press("r")  # a second run is refused while one is going
        assert isinstance(app.screen, RecordListScreen) and not app.screen.is_modal
        await pilot.press("escape")  # list -> start: the list screen is gone
        assert not any(isinstance(s, RecordListScreen) for s in app.screen_stack)
        assert app.runs.busy
        await pilot.press("f6")  # progress from anywhere
        assert isinstance(app.screen, ProgressScreen)
        text = screen_text(app)
        assert "実行中" in text and "waiting for HaiHai's answer" in text and "[send]" in text
        await app.runs.wait()
        await until(pilot, lambda: "完了" in screen_text(app), what="the finished state")
        assert len(env.received()) == 1


async def test_cancel_asks_first_and_never_resends(env) -> None:
    env.control("delay", {"seconds": 3, "when": "before_response"})
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await start_clean_run(pilot)
        await until(pilot, lambda: app.runs.state.stage is Stage.RESPONSE, what="the upload to finish")
        await pilot.press("c")
        assert "Cancel this run?" in screen_text(app)
        await pilot.press("n")  # keep it running
        assert app.runs.busy and not app.runs.state.cancel_requested
        await pilot.press("c", "y")
        state = await app.runs.wait()
        await pilot.pause()
        # the whole file had left: cancelling cannot un-send it, so the outcome is unknown
        assert state.cancel_requested and state.outcome is Outcome.UNKNOWN
        text = screen_text(app)
        assert "結果不明" in text
        assert len(env.received()) == 1
    [rec] = history_rows(env)
    assert rec.outcome is Outcome.UNKNOWN


async def test_cancel_during_preflight_sends_nothing(env) -> None:
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await open_menu(pilot)
        await pilot.press("r", "enter", "escape")
        await until(pilot, lambda: isinstance(app.screen, RecordListScreen), what="back to the list")
        await app.workers.wait_for_complete()
        assert env.received() == [] and not app.runs.busy
    assert list(env.paths.runs_dir.glob("*")) == []  # no built file left behind


async def test_preflight_error_blocks_and_jumps_to_the_row(env) -> None:
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await open_menu(pilot)  # the whole list: emoji row, malformed address
        await pick_integration(pilot)
        assert isinstance(app.screen, FindingsScreen)
        text = screen_text(app)
        assert "ERROR" in text and f"row {EMOJI_ROW}" in text and "U+1F370" in text
        errors = app.screen.listed
        assert errors[0].is_error  # errors first
        assert {EMOJI_ROW, MALFORMED_ROW} <= {f.row for f in errors if f.is_error}
        await pilot.press("c")  # "run anyway" is refused while errors exist
        assert isinstance(app.screen, FindingsScreen)
        target = errors[0].row
        await pilot.press("enter")  # jump to the row of the first finding
        await until(pilot, lambda: isinstance(app.screen, RecordListScreen), what="the list")
        table = app.screen.table
        assert table.cursor_row == target - 1
        await until(pilot, lambda: table.row(target - 1) is not None, what="the row")
        assert table.row(target - 1)[0][:20] in screen_text(app)
        assert env.received() == []
    assert list(env.paths.runs_dir.glob("*")) == []


async def test_warnings_need_run_anyway(env) -> None:
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await open_menu(pilot)
        await search(pilot, "nishinihon-bussan")  # holds the duplicate address (a warning)
        await pick_integration(pilot)
        assert isinstance(app.screen, FindingsScreen)
        assert not app.screen.blocked and "duplicate address" in screen_text(app)
        await pilot.press("c")  # run anyway -> confirm
        assert isinstance(app.screen, ConfirmRunScreen)
        await pilot.press("f2")
        state = await app.runs.wait()
        assert state.outcome is Outcome.DONE
        assert len(env.received()) == 1


async def test_dangerous_run_needs_the_typed_name(env) -> None:
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await open_menu(pilot)
        await search(pilot, CLEAN_SEARCH)
        await pick_integration(pilot, index=2)  # 配配メール 全削除: import_type 1 without gid
        screen = app.screen
        assert isinstance(screen, ConfirmRunScreen)
        text = screen_text(app)
        assert "DANGEROUS" in text and "実行 is disabled" in text
        await pilot.press("enter")  # Enter in the memo moves to the name
        await pilot.press("f2")  # not yet typed: refused
        assert app.screen is screen and not app.runs.busy
        await pilot.press(*"配配メール", "enter")  # not the full name: refused
        assert app.screen is screen and not app.runs.busy
        await pilot.press(*" 全削除")
        assert "Ready" in screen_text(app)
        await pilot.press("enter")
        state = await app.runs.wait()
        assert state.outcome is Outcome.DONE and state.integration == DANGER
        [req] = env.received()
        assert req["settings"]["import_type"] == "1" and "gid" not in req["settings"]


async def test_5xx_after_upload_is_unknown_and_not_resent(env) -> None:
    env.control("fail-next", {"status": 500})
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await start_clean_run(pilot)
        state = await app.runs.wait()
        await pilot.pause()
        assert state.outcome is Outcome.UNKNOWN
        text = screen_text(app)
        assert "結果不明" in text and "Do NOT simply run it again" in text
        assert "re-send" not in text.lower().replace("not re-sent", "")  # no re-send offer anywhere
        assert len(env.received()) == 1  # exactly one request: no automatic re-send
        assert_no_canary(app)
        await pilot.press("h")
        await until(pilot, lambda: "結果不明" in screen_text(app), what="the history row")
        assert "500" in screen_text(app)
        assert_no_canary(app)
    assert_history_has_no_canary(env)
    [rec] = history_rows(env)
    assert rec.outcome is Outcome.UNKNOWN and rec.http_status == 500


def test_log_lines_wrap_by_display_width() -> None:
    from rich.cells import cell_len

    from haihai_tui.tui.widgets.progress import wrap_cells

    text = "15:23:32 ! Check レポート > 一括登録・削除の処理結果 in HaiHai " + "あ" * 50
    lines = wrap_cells(text, 60)
    assert len(lines) > 1 and all(cell_len(ln) <= 60 for ln in lines)
    assert "".join(ln.strip() for ln in lines).replace(" ", "") == text.replace(" ", "")


async def test_over_the_row_limit_offers_split_with_the_quota(env) -> None:
    import tomlkit

    from haihai_tui.core.settings import store

    def small_limit(doc) -> None:
        g = doc["integrations"][0]
        limits = tomlkit.table()
        limits["max_rows"] = 20
        g["limits"] = limits

    store.update(env.paths.db, small_limit)
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await open_menu(pilot)
        await search(pilot, CLEAN_SEARCH)  # 87 rows, 20 per request
        await pick_integration(pilot)
        assert isinstance(app.screen, ConfirmRunScreen)
        body = app.screen._body()  # the dialog's text (wrapped on screen)
        assert "F4 splits it into about 5 requests" in body and "240 requests left today" in body
        assert "F4 = split" in screen_text(app)
        await pilot.press("f2")  # refused until split
        assert isinstance(app.screen, ConfirmRunScreen) and not app.runs.busy
        await pilot.press(*"split", "f4")  # pre-flight again, split; the memo is kept
        await until(
            pilot, lambda: isinstance(app.screen, ConfirmRunScreen) and app.screen.p.split, what="the split confirm"
        )
        assert "Requests: 5 (uses 5 of the 240 left today" in app.screen._body()
        assert app.screen.query_one("#memo").value == "split"
        await pilot.press("f2")
        state = await app.runs.wait()
        assert state.outcome is Outcome.DONE and state.parts == 5
        sent = env.received()
        assert len(sent) == 5 and all(r["settings"]["import_type"] == "0" for r in sent)
