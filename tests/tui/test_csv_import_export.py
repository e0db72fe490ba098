"""CSV一括登録 and CSV出力 from the record list, keyboard only at 80x24: the path completes on Tab, the import
shows its progress and is all or nothing (cancel, a broken line, replace), the export writes exactly the
current result in Windows-31J or UTF-8 and stops on a character Windows-31J lacks, with the finding."""

from __future__ import annotations

import csv
import io
import os
import threading
from pathlib import Path

import pytest

from corefixtures import CANARY
from haihai_tui.cli.demo import lay_demo
from haihai_tui.core.records.samples import SAMPLE_DATABASE, write_csv
from haihai_tui.core.records.store import RecordStore
from haihai_tui.core.settings import store as settings_store
from haihai_tui.core.settings.context import AppContext
from haihai_tui.core.settings.permissions import current_login
from haihai_tui.tui.dialogs import csv_common, csv_import
from haihai_tui.tui.dialogs.csv_export import CsvExportScreen
from haihai_tui.tui.dialogs.csv_import import CsvImportScreen
from haihai_tui.tui.widgets.path_input import PathInput

try:  # tests/tui is on sys.path (pytest's default "prepend" import mode, no __init__.py)
    from runfixtures import CLEAN_ROWS, CLEAN_SEARCH, EMOJI_ROW, ROWS, SIZE, open_menu, screen_text, search, until
except ImportError:  # pragma: no cover - if tests/tui becomes a package
    from .runfixtures import CLEAN_ROWS, CLEAN_SEARCH, EMOJI_ROW, ROWS, SIZE, open_menu, screen_text, search, until


@pytest.fixture
def paths(tmp_path: Path):
    return lay_demo(tmp_path / "demo", login=current_login(), token=CANARY, mock_url="http://127.0.0.1:9", rows=ROWS)


def make_app(paths):
    from haihai_tui.tui.app import HaiHaiApp

    return HaiHaiApp(AppContext(paths, login=current_login()))


def count(paths) -> int:
    with RecordStore.open(paths.records_dir, SAMPLE_DATABASE) as rs:
        return rs.count()


def no_canary(app) -> None:
    assert CANARY not in screen_text(app) and CANARY not in app.export_screenshot()


async def type_path(pilot, text: str) -> None:
    await pilot.press("ctrl+u", *text)


async def open_import(pilot):
    await pilot.press("i")
    await until(pilot, lambda: isinstance(pilot.app.screen, CsvImportScreen), what="the import dialog")
    return pilot.app.screen


async def open_export(pilot):
    await pilot.press("x")
    await until(pilot, lambda: isinstance(pilot.app.screen, CsvExportScreen), what="the export dialog")
    return pilot.app.screen


def status(dialog) -> str:
    return str(dialog.query_one("#csv-status").render())


# -- import ----------------------------------------------------------------------------------------


async def test_import_100000_rows_from_the_list_with_progress(paths, tmp_path, monkeypatch) -> None:
    big = tmp_path / "files" / "big-customers.csv"
    big.parent.mkdir()
    (tmp_path / "files" / "other.txt").write_text("x")
    write_csv(big, 100_000, "utf-8", seed=7)
    calls: list[tuple[int, int, int]] = []
    real = csv_common.Progress.on_import
    monkeypatch.setattr(csv_common.Progress, "on_import", lambda self, *a: (calls.append(a), real(self, *a)))
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await open_menu(pilot)
        table = app.screen.table
        dialog = await open_import(pilot)
        await type_path(pilot, f"{big.parent}/bi")
        await pilot.press("tab")  # completes the one name that fits
        assert dialog.query_one("#csv-path").value == str(big)
        await pilot.press("f2")
        await until(pilot, lambda: dialog.result is not None or dialog.error, timeout=60, what="the import")
        text = screen_text(app)
        assert "Imported 100,000 records from big-customers.csv (UTF-8)" in text and "rows/s" in text
        assert "100%" in text and "100,000 rows" in text
        assert [c[0] for c in calls] == list(range(5_000, 100_001, 5_000))  # progress after every batch
        assert [c[1] for c in calls] == sorted(c[1] for c in calls) and calls[0][1] < calls[-1][1] == calls[-1][2]
        assert f"holds {ROWS + 100_000:,} records" in text
        no_canary(app)
        await pilot.press("escape")
        await until(
            pilot, lambda: table.total == ROWS + 100_000 and table.base_total == ROWS + 100_000, what="the refresh"
        )
        await until(pilot, lambda: f"{ROWS + 100_000:,} / {ROWS + 100_000:,} rows" in screen_text(app))
    assert count(paths) == ROWS + 100_000


async def test_cancel_part_way_imports_nothing(paths, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(csv_import, "IMPORT_BATCH", 1000)
    f = tmp_path / "more.csv"
    write_csv(f, 20_000, "cp932", seed=2)
    gate = threading.Event()
    real = csv_common.Progress.on_import

    def held(self, rows, done, size):  # the first batch waits until Esc has been pressed
        real(self, rows, done, size)
        gate.wait(30)

    monkeypatch.setattr(csv_common.Progress, "on_import", held)
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await open_menu(pilot)
        dialog = await open_import(pilot)
        await type_path(pilot, str(f))
        await pilot.press("enter")  # Enter in the path starts too
        await until(pilot, lambda: "1,000 rows" in screen_text(app), what="the first batch on screen")
        assert dialog.busy and "Esc" in screen_text(app)
        await pilot.press("escape")
        assert isinstance(app.screen, CsvImportScreen)  # Esc cancels the import; it does not close
        assert "Cancelling" in status(dialog)
        gate.set()
        await until(pilot, lambda: not dialog.busy, what="the cancel")
        assert f"Cancelled: nothing was imported; 顧客管理 holds {ROWS} records as before." in status(dialog)
        assert dialog.result is None
        await pilot.press("escape")
        assert not isinstance(app.screen, CsvImportScreen)
        assert app.screen.table.total == ROWS
    assert count(paths) == ROWS


@pytest.mark.parametrize("mode", ["append", "replace"])
async def test_a_broken_line_is_shown_and_nothing_is_imported(paths, tmp_path, mode) -> None:
    f = tmp_path / "broken.csv"
    f.write_text(
        "メールアドレス,会社名,お名前\r\na@example.jp,A社,a\r\nb@example.jp,B社,b,extra\r\nc@example.jp,C社,c\r\n"
        "d@example.jp,D社\r\n",
        encoding="utf-8",
    )
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await open_menu(pilot)
        dialog = await open_import(pilot)
        await type_path(pilot, str(f))
        if mode == "replace":
            await pilot.press("tab", "right")  # the mode field: append -> replace
            assert dialog.query_one("#csv-mode").value == "replace"
        await pilot.press("f2")
        if mode == "replace":
            await until(pilot, lambda: "Replace the records?" in screen_text(app), what="the question")
            assert f"all {ROWS} records of 顧客管理 are deleted" in screen_text(app)
            await pilot.press("y")
        await until(pilot, lambda: dialog.error is not None, what="the error")
        text = screen_text(app)
        assert "line 3: 4 cells but the header has 3" in text
        assert "line 5: 2 cells but the header has 3" in text  # every failing line, not only the first
        assert f"Nothing was imported; 顧客管理 holds {ROWS} records as before." in text
    assert count(paths) == ROWS


async def test_a_path_that_is_not_a_file_says_so(paths, tmp_path) -> None:
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await open_menu(pilot)
        dialog = await open_import(pilot)
        await pilot.press("f2")
        assert "Type the path of the CSV file" in status(dialog)
        await type_path(pilot, str(tmp_path / "nope.csv"))
        await pilot.press("f2")
        assert "There is no file" in status(dialog) and "nope.csv" in status(dialog)
        await type_path(pilot, str(tmp_path))
        await pilot.press("f2")
        assert "is a folder" in status(dialog)
        assert not dialog.busy
    assert count(paths) == ROWS


async def test_a_read_only_database_shows_the_import_read_only_with_the_reason(paths, tmp_path) -> None:
    def mark(doc) -> None:
        doc["databases"][0]["read_only"] = True

    settings_store.update(paths.db, mark)
    f = tmp_path / "in.csv"
    write_csv(f, 10, "utf-8")
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await open_menu(pilot)
        dialog = await open_import(pilot)
        assert "Read-only" in status(dialog) and "read_only = true" in status(dialog)
        assert dialog.query_one("#csv-path").disabled
        await pilot.press("f2")
        assert not dialog.busy and "Read-only" in status(dialog)
    assert count(paths) == ROWS


# -- export ----------------------------------------------------------------------------------------


def expected(paths, search: str, enc: str, header: bool = True) -> bytes:
    from haihai_tui.core.records.query import Query

    columns = ["email", "company", "name"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    if header:
        w.writerow([SAMPLE_DATABASE.field(c).label for c in columns])
    with RecordStore.open(paths.records_dir, SAMPLE_DATABASE) as rs:
        w.writerows(rs.iter_rows(Query(search=search, search_fields=tuple(columns)), columns))
    return buf.getvalue().encode(enc)


async def test_export_the_search_result_in_both_encodings(paths, tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await open_menu(pilot)
        await search(pilot, CLEAN_SEARCH)
        assert app.screen.table.total == CLEAN_ROWS
        for name, enc, keys, header in [
            ("sjis.csv", "cp932", [], True),
            ("utf8.csv", "utf-8", ["tab", "right"], True),
            ("noheader.csv", "utf-8", ["tab", "right", "tab", "right"], False),
        ]:
            dialog = await open_export(pilot)
            assert f"Export {CLEAN_ROWS} rows: search" in screen_text(app)
            await type_path(pilot, str(out / name))
            await pilot.press(*keys, "f2")
            await until(pilot, lambda d=dialog: d.written is not None, what="the export")
            assert (out / name).read_bytes() == expected(paths, CLEAN_SEARCH, enc, header)
            assert f"Written: {CLEAN_ROWS} rows" in screen_text(app)
            no_canary(app)
            await pilot.press("escape")
        assert sorted(os.listdir(out)) == ["noheader.csv", "sjis.csv", "utf8.csv"]  # no temp file left

        # the same path again: it asks before replacing
        dialog = await open_export(pilot)
        await type_path(pilot, str(out / "sjis.csv"))
        await pilot.press("f2")
        await until(pilot, lambda: "Replace the file?" in screen_text(app), what="the question")
        await pilot.press("n")
        assert dialog.written is None and (out / "sjis.csv").read_bytes() == expected(paths, CLEAN_SEARCH, "cp932")


async def test_an_emoji_row_stops_a_windows31j_export_with_the_finding(paths, tmp_path) -> None:
    dest = tmp_path / "all.csv"
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await open_menu(pilot)
        dialog = await open_export(pilot)
        await type_path(pilot, str(dest))
        await pilot.press("f2")
        await until(pilot, lambda: not dialog.busy and "Stopped" in status(dialog), what="the stop")
        said = " ".join(status(dialog).split())
        assert "Stopped: 1 character Windows-31J does not have" in said and "no file was written" in said
        text = screen_text(app)  # the finding, on screen
        assert f"row {EMOJI_ROW}, 会社名: character '\U0001f370' (U+1F370) does" in text
        assert not dest.exists() and os.listdir(tmp_path) == ["demo"]
        await pilot.press("enter")  # on the finding: back to the list, on its row
        await until(pilot, lambda: not isinstance(app.screen, CsvExportScreen), what="the jump")
        assert app.screen.table.cursor_row == EMOJI_ROW - 1
        assert "\U0001f370" in app.screen.table.row(EMOJI_ROW - 1)[1]


# -- the palette -------------------------------------------------------------------------------------


@pytest.mark.parametrize("words,dialog_type", [("CSV一括登録", CsvImportScreen), ("CSV出力", CsvExportScreen)])
async def test_the_palette_opens_the_list_with_its_csv_dialog(paths, words, dialog_type) -> None:
    from haihai_tui.tui.screens.record_list import RecordListScreen

    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("colon", *words)
        await app.workers.wait_for_complete()  # the palette searches in a worker
        await pilot.pause()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, dialog_type), what="the dialog")
        assert isinstance(app.screen_stack[-2], RecordListScreen) and app.screen_stack[-2].menu_name == "顧客一覧"
        assert isinstance(app.focused, PathInput)
        await pilot.press("escape")
        assert isinstance(app.screen, RecordListScreen)


# -- path completion ---------------------------------------------------------------------------------


def test_complete_path_like_a_shell(tmp_path, monkeypatch) -> None:
    from haihai_tui.tui.widgets.path_input import complete_path

    (tmp_path / "customers-2026.csv").write_text("")
    (tmp_path / "customers-2025.csv").write_text("")
    (tmp_path / "exports").mkdir()
    (tmp_path / ".hidden.csv").write_text("")
    d = str(tmp_path)
    assert complete_path(f"{d}/ex") == (f"{d}/exports/", [])  # a folder gets its slash
    assert complete_path(f"{d}/cu") == (f"{d}/customers-202", ["customers-2025.csv", "customers-2026.csv"])
    assert complete_path(f"{d}/customers-202") == (f"{d}/customers-202", ["customers-2025.csv", "customers-2026.csv"])
    assert complete_path(f"{d}/customers-2026") == (f"{d}/customers-2026.csv", [])
    assert complete_path(f"{d}/") == (f"{d}/", ["customers-2025.csv", "customers-2026.csv", "exports/"])
    assert complete_path(f"{d}/.h") == (f"{d}/.hidden.csv", [])  # hidden names only when asked for
    assert complete_path(f"{d}/zzz") == (f"{d}/zzz", []) and complete_path(f"{d}/nope/x") == (f"{d}/nope/x", [])
    assert complete_path("ex", base=tmp_path) == ("exports/", [])  # relative to the given folder
    monkeypatch.setenv("HOME", d)
    assert complete_path("~") == ("~/", [])
    assert complete_path("~/ex") == ("~/exports/", [])  # "~" stays as typed


async def test_tab_typed_ahead_completes_what_was_typed_before_it(paths, tmp_path, monkeypatch) -> None:
    """Keys arriving together (a terminal's type-ahead): Tab completes the name typed just before it, and with
    nothing left to complete the next Tab moves on to the mode field."""
    from conftest import burst

    (tmp_path / "batch-2026.csv").write_text("")
    monkeypatch.chdir(tmp_path)
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await open_menu(pilot)
        dialog = await open_import(pilot)
        await burst(pilot, "b", "a", "tab")
        assert dialog.query_one("#csv-path").value == "batch-2026.csv" and isinstance(app.focused, PathInput)
        await burst(pilot, "tab")
        await burst(pilot, "right")
        assert dialog.query_one("#csv-mode").value == "replace"


async def test_a_hostile_file_name_is_shown_literally_and_terminal_safe(paths, tmp_path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    name = "[b]x[i]\x1b[31m\u202e.csv"
    (folder / name).write_text("メールアドレス,会社名\r\nz@example.jp,Z社\r\n", encoding="utf-8")
    (folder / "[b]y.csv").write_text("", encoding="utf-8")
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await open_menu(pilot)
        dialog = await open_import(pilot)
        await type_path(pilot, f"{folder}/[")
        await pilot.press("tab")  # two names fit: listed
        listed = str(dialog.query_one("#csv-cands").render())
        assert "[b]y.csv" in listed and "[b]x[i]" in listed and "\x1b" not in listed
        await pilot.press("x", "tab")
        assert dialog.query_one("#csv-path").value == f"{folder}/{name}"  # the real name, kept exactly
        await pilot.press("f2")
        await until(pilot, lambda: dialog.result is not None, what="the import")
        text = screen_text(app)
        assert "[b]x[i]" in text and "Imported 1 record from" in text
        assert "\x1b" not in text and "\u202e" not in text and "\x1b" not in app.export_screenshot()
    assert count(paths) == ROWS + 1


async def test_esc_cancels_an_export_part_way_and_leaves_no_file(paths, tmp_path, monkeypatch) -> None:
    gate = threading.Event()
    real = csv_common.Progress.on_rows

    def held(self, rows):  # the first chunk waits until Esc has been pressed
        real(self, rows)
        gate.wait(30)

    monkeypatch.setattr(csv_common.Progress, "on_rows", held)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.csv").write_bytes(b"old")
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        await open_menu(pilot)
        dialog = await open_export(pilot)
        await type_path(pilot, str(out / "keep.csv"))
        await pilot.press("f2")
        await until(pilot, lambda: "Replace the file?" in screen_text(app), what="the question")
        await pilot.press("y")
        await until(pilot, lambda: dialog.progress is not None and dialog.progress.rows > 0, what="the first rows")
        await pilot.press("escape")
        assert isinstance(app.screen, CsvExportScreen) and "Cancelling" in status(dialog)
        gate.set()
        await until(pilot, lambda: not dialog.busy, what="the cancel")
        assert "Cancelled: no file was written" in status(dialog)
    assert os.listdir(out) == ["keep.csv"] and (out / "keep.csv").read_bytes() == b"old"
