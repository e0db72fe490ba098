"""システム連携状況確認: the history list (newest first, every state) and the detail view — keys only."""

from __future__ import annotations

from textual.widgets import DataTable, OptionList

from haihai_tui.core.events import Outcome
from haihai_tui.core.run.history import History, RunRecord
from haihai_tui.tui.screens.history import HistoryScreen, RunDetailScreen, decode_result

try:  # tests/tui is on sys.path (pytest's default "prepend" import mode, no __init__.py)
    from runfixtures import CANARY, REGISTER, SIZE, assert_no_canary, env, make_app, mock_server, screen_text, until  # noqa: F401
except ImportError:  # pragma: no cover
    from .runfixtures import CANARY, REGISTER, SIZE, assert_no_canary, env, make_app, mock_server, screen_text, until  # noqa: F401

RESULT = "処理結果,理由,メールアドレス\r\n成功,,a@example.jp\r\n失敗,メールアドレスの形式が不正です,b＠example.jp\r\n"


def record(n: int, outcome: Outcome, **kw) -> RunRecord:
    base = dict(
        run_id=None,
        started_at=f"2026-04-0{n}T10:0{n}:00+09:00",
        ended_at=None,
        executor="tanaka",
        integration=REGISTER,
        menu="顧客一覧",
        conditions=["会社名~株式会社"],
        memo=f"memo{n}",
        rows=100 * n,
        bytes=4000 * n,
        requests=1,
        host="a01.hm-f.jp",
        url="https://a01.hm-f.jp/api_sample/api/v1/custcsv/import",
        http_status=None,
        outcome=outcome,
        code=None,
        message="",
        import_ids=[],
        counts=None,
        params={"login_id": "ops01", "import_type": "0", "gid": "12"},
        response_excerpt="",
    )
    base.update(kw)
    return RunRecord(**base)


def fill_history(env) -> dict[str, int]:
    h = History(env.paths.history_db)
    ids = {}
    plan = [
        (
            "done",
            record(1, Outcome.DONE),
            dict(
                outcome=Outcome.DONE,
                http_status=200,
                code="OK",
                message="HaiHai accepted the upload",
                import_ids=["20260401-000001"],
                counts={"success": 1, "failure": 1, "other": 0, "stopped": 0},
                response_excerpt='{"result": "success"}',
                result_csv=RESULT.encode("cp932"),
            ),
        ),
        (
            "error",
            record(2, Outcome.ERROR),
            dict(outcome=Outcome.ERROR, http_status=401, code="INVALID_TOKEN", message="the token was refused"),
        ),
        (
            "unknown",
            record(3, Outcome.UNKNOWN),
            dict(outcome=Outcome.UNKNOWN, http_status=500, code="INTERNAL_ERROR", message="no answer"),
        ),
        ("cancelled", record(4, Outcome.CANCELLED), dict(outcome=Outcome.CANCELLED, code="CANCELLED")),
        ("running", record(5, Outcome.RUNNING), None),
    ]
    for name, rec, finish in plan:
        ids[name] = h.start(rec)
        if finish:
            h.finish(ids[name], **finish)
    return ids


async def open_history(pilot) -> None:
    app = pilot.app
    ol = app.screen.query_one("#menu", OptionList)
    for _ in range(len(ol.options) + 1):
        if ol.highlighted_option is not None and ol.highlighted_option.id == "history":
            break
        await pilot.press("down")
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(app.screen, HistoryScreen), what="the history screen")
    table = app.screen.query_one("#runs", DataTable)
    await until(pilot, lambda: table.row_count > 0 or "No runs yet" in screen_text(app), what="the runs")


def test_decode_result_prefers_windows_31j() -> None:
    assert decode_result(RESULT.encode("cp932")) == RESULT
    assert decode_result("髙橋,①".encode()) == "髙橋,①"


async def test_history_newest_first_with_every_state(env) -> None:
    fill_history(env)
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await open_history(pilot)
        table = app.screen.query_one("#runs", DataTable)
        assert table.row_count == 5
        text = screen_text(app)
        lines = [ln for ln in text.splitlines() if "memo" in ln and "tanaka" in ln]
        assert [ln.split()[0] for ln in lines] == ["5", "4", "3", "2", "1"]  # newest first
        for word in ("実行中", "中止", "結果不明", "エラー", "完了"):
            assert word in text
        assert "401" in text and "500" in text and "200" in text
        assert "04-01 10:01" in text and "100" in text  # time and rows


async def test_detail_shows_request_response_counts_and_result(env) -> None:
    fill_history(env)
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await open_history(pilot)
        await pilot.press("G", "enter")  # the oldest: the done run with a result file
        await until(pilot, lambda: isinstance(app.screen, RunDetailScreen), what="the details")
        await until(pilot, lambda: "Row-level result" in screen_text(app), what="the detail text")
        text = screen_text(app)
        assert "完了" in text and "a01.hm-f.jp" in text and "会社名~株式会社" in text
        plain = str(app.screen.query_one("#detail-text").render())  # the pane scrolls; check all of it
        assert "bytes 4,000" in plain and '"import_type": "0"' in plain
        assert "HTTP 200" in plain and "OK" in plain and "HaiHai accepted the upload" in plain
        assert "成功 success 1" in plain and "失敗 failure 1" in plain
        assert "20260401-000001" in plain
        result = app.screen.query_one("#result")
        assert result.text == RESULT.replace("\r\n", "\n") or result.text == RESULT
        await pilot.press("tab")
        assert "メールアドレスの形式が不正です" in screen_text(app)
        assert_no_canary(app)

        await pilot.press("escape", "k", "k", "enter")  # the 結果不明 run: what to check, no result file
        await until(
            pilot,
            lambda: (
                isinstance(app.screen, RunDetailScreen)
                and "Row-level result" in str(app.screen.query_one("#detail-text").render())
            ),
            what="the details",
        )
        plain = str(app.screen.query_one("#detail-text").render())
        assert "結果不明" in plain and "Check HaiHai" in plain and "not offered by the server" in plain


async def test_empty_history_says_how_to_fill_it(env) -> None:
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await open_history(pilot)
        assert "No runs yet" in screen_text(app)
        await pilot.press("enter")  # nothing to open: stays
        assert isinstance(app.screen, HistoryScreen)
