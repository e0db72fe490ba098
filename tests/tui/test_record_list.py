"""レコード一覧: the virtual table, search, conditions, sort, count and keys — keyboard only, 80x24."""

from __future__ import annotations

from rich.cells import cell_len
from textual.widgets import DataTable

from haihai_tui.core.records.query import Condition
from haihai_tui.core.text import fit_cells
from haihai_tui.tui.widgets.record_blocks import BLOCK, CACHE_BLOCKS
from haihai_tui.tui.widgets.record_table import RecordTable

try:  # tests/tui is on sys.path (pytest's default "prepend" import mode, no __init__.py)
    from runfixtures import (  # noqa: F401
        CLEAN_ROWS,
        CLEAN_SEARCH,
        ROWS,
        SIZE,
        env,
        make_app,
        make_env,
        mock_server,
        open_menu,
        screen_text,
        search,
        until,
    )
except ImportError:  # pragma: no cover - if tests/tui becomes a package
    from .runfixtures import (  # noqa: F401
        CLEAN_ROWS,
        CLEAN_SEARCH,
        ROWS,
        SIZE,
        env,
        make_app,
        make_env,
        mock_server,
        open_menu,
        screen_text,
        search,
        until,
    )


def test_fit_cells_never_splits_wide_characters() -> None:
    assert fit_cells("株式会社", 8) == "株式会社"
    assert fit_cells("株式会社", 7) == "株式.. "
    for width in range(0, 12):
        out = fit_cells("パティスリー\U0001f370ミエル", width)
        assert cell_len(out) == width
    assert fit_cells("abc", 6) == "abc   "
    assert fit_cells("株式会社ABC", 5) == "株.. "  # the half of 式 that would not fit becomes a space


async def test_open_search_sort_and_count(env) -> None:
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await open_menu(pilot)
        screen = app.screen
        table: RecordTable = screen.table
        assert table.total == ROWS and table.base_total == ROWS
        text = screen_text(app)
        assert f"{ROWS:,} / {ROWS:,} rows" in text
        assert "メールアドレス" in text and "会社名" in text and "お名前" in text
        assert not screen.query(DataTable)  # never a DataTable row per record
        assert not table.children  # and never a widget per record

        # every painted line has the same display width, Japanese or not
        lines = [ln for ln in text.splitlines()[3:20]]
        assert len({cell_len(ln.rstrip("\n")) for ln in lines}) == 1

        await search(pilot, CLEAN_SEARCH)
        assert table.total == CLEAN_ROWS
        assert f"{CLEAN_ROWS} / {ROWS:,} rows" in screen_text(app)
        assert all(CLEAN_SEARCH in table.row(i)[0] for i in range(table.total))

        # sort by 会社名: right moves to the column, s cycles asc -> desc -> off
        await pilot.press("right", "s")
        await until(pilot, lambda: table.row(0) is not None, what="sorted rows")
        asc = [table.row(i)[1] for i in range(table.total)]
        assert asc == sorted(asc)
        assert "会社名^" in screen_text(app) and "sort 会社名 asc" in screen_text(app)
        await pilot.press("s")
        await until(pilot, lambda: table.row(0) is not None, what="sorted rows")
        assert [table.row(i)[1] for i in range(table.total)] == sorted(asc, reverse=True)
        assert "会社名v" in screen_text(app)
        await pilot.press("s")
        await until(pilot, lambda: table.row(0) is not None, what="unsorted rows")
        assert table.query.sort_field is None and "sort " not in screen_text(app)

        # an empty search clears it
        await pilot.press("slash", "ctrl+u", "enter")
        await until(pilot, lambda: table.total == ROWS, what="the whole list again")


async def test_keys_move_the_cursor(env) -> None:
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await open_menu(pilot)
        table: RecordTable = app.screen.table
        assert table.has_focus and table.cursor_row == 0
        await pilot.press("j", "j", "down")
        assert table.cursor_row == 3
        await pilot.press("k", "up")
        assert table.cursor_row == 1
        await pilot.press("G")
        assert table.cursor_row == ROWS - 1
        await until(pilot, lambda: table.row(ROWS - 1) is not None, what="the last rows")
        assert table.row(ROWS - 1)[0] in screen_text(app)
        await pilot.press("g")
        assert table.cursor_row == 0 and table.scroll_y == 0
        await pilot.press("pagedown")
        assert table.cursor_row > 10
        await pilot.press("pageup")
        assert table.cursor_row == 0


async def test_conditions_dialog_adds_and_removes(env) -> None:
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await open_menu(pilot)
        screen = app.screen
        table: RecordTable = screen.table
        await pilot.press("right", "c")  # current column 会社名; default op ~ (contains)
        await pilot.press(*"株式会社", "enter")
        await until(pilot, lambda: screen.conditions == (Condition("company", "~", "株式会社"),))
        await until(pilot, lambda: table.total is not None and table.total < ROWS, what="the filtered count")
        n = table.total
        assert n > 0 and all("株式会社" in table.row(i)[1] for i in range(min(n, BLOCK)) if table.row(i))
        assert "conditions: 会社名~株式会社" in screen_text(app)

        # reopen: the list shows it; shift+tab to the list, d removes it, Esc applies
        await pilot.press("c")
        assert "会社名~株式会社" in screen_text(app)
        await pilot.press("shift+tab", "shift+tab", "shift+tab", "d", "escape")
        await until(pilot, lambda: screen.conditions == () and table.total == ROWS, what="no conditions")
        assert "conditions:" not in screen_text(app)


async def test_a_large_list_stays_virtual(tmp_path, mock_server) -> None:
    env = make_env(tmp_path, mock_server, rows=30_000)
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await open_menu(pilot)
        table: RecordTable = app.screen.table
        assert table.total == 30_000 and table.virtual_size.height == 30_001
        await pilot.press("G")
        await until(pilot, lambda: table.row(29_999) is not None, what="the last block")
        # only blocks near what was seen are fetched, and the cache is bounded
        assert len(table._cache) <= CACHE_BLOCKS
        assert sum(len(b) for b in table._cache.values()) <= 4 * BLOCK
        text = screen_text(app)
        assert table.row(29_999)[0][:20] in text
