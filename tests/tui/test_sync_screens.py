"""Sync modes in the TUI (issue 10), keys only at 80x24 against the mock HaiHai server: the confirm wording
(new / changed / unchanged, "nothing changed since run #N"), the typed removal confirmation of a mirror
run, the record list's HaiHai results column and its filter, and the retry of 失敗 rows from the history."""

from __future__ import annotations

import sqlite3

from textual.widgets import OptionList

from haihai_tui.core.run.history import History
from haihai_tui.core.settings import store
from haihai_tui.tui.dialogs.common import PickScreen
from haihai_tui.tui.dialogs.removal_confirm import RemovalConfirmScreen
from haihai_tui.tui.dialogs.run_confirm import ConfirmRunScreen
from haihai_tui.tui.dialogs.run_preflight import FindingsScreen, PreflightScreen
from haihai_tui.tui.screens.history import HistoryScreen, RunDetailScreen
from haihai_tui.tui.screens.integration_form import IntegrationFormScreen
from haihai_tui.tui.screens.progress import ProgressScreen
from haihai_tui.tui.screens.record_list import RecordListScreen
from runfixtures import (  # noqa: F401  (tests/tui is on sys.path)
    CANARY,
    CLEAN_ROWS,
    CLEAN_SEARCH,
    REGISTER,
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


def set_sync(env, mode: str) -> None:
    def edit(doc) -> None:
        for g in doc["integrations"]:
            if str(g["name"]) == REGISTER:
                g["sync"] = mode

    store.update(env.paths.db, edit)


def sql(env, statement: str, *params) -> None:
    db = sqlite3.connect(env.paths.records_dir / "customers.sqlite3")
    with db:
        db.execute(statement, params)
    db.close()


def dialog_words(screen) -> str:
    """Every Static of ``screen`` as plain text, whitespace collapsed (what the dialog says, unwrapped)."""
    from textual.widgets import Static

    parts = []
    for w in screen.query(Static):
        r = w.render()
        parts.append(getattr(r, "plain", str(r)))
    return " ".join(" ".join(parts).split())


def listed_addresses(screen: RecordListScreen, n: int) -> list[str]:
    """The e-mail column of the first ``n`` listed rows (results column off)."""
    return [screen.table.row(i)[0] for i in range(n)]


async def run_to_confirm(pilot) -> ConfirmRunScreen:
    """r, the first attached integration (顧客登録), pre-flight; returns the confirm dialog."""
    app = pilot.app
    await pilot.press("r")
    await until(pilot, lambda: isinstance(app.screen, PickScreen), what="the integration picker")
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(app.screen, (ConfirmRunScreen, FindingsScreen)), what="pre-flight")
    assert isinstance(app.screen, ConfirmRunScreen), screen_text(app)
    return app.screen


async def finish_run(pilot) -> None:
    """From the progress screen: wait for the run to end, go back to the list."""
    app = pilot.app
    await until(pilot, lambda: isinstance(app.screen, ProgressScreen), what="the progress screen")
    await until(pilot, lambda: app.runs.state is not None and not app.runs.state.running, what="the run's end")
    await pilot.press("escape")
    await until(pilot, lambda: isinstance(app.screen, RecordListScreen), what="the record list")


async def test_confirm_says_new_changed_unchanged_and_nothing_changed(env) -> None:
    set_sync(env, "changes")
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await open_menu(pilot)
        await search(pilot, CLEAN_SEARCH)
        first, second = listed_addresses(app.screen, 2)
        confirm = await run_to_confirm(pilot)
        assert "差分 changes (nothing confirmed before: every row is new)" in dialog_words(confirm)
        assert "差分 changes" in screen_text(app)
        assert confirm.p.sync.new == CLEAN_ROWS and confirm.p.sync.unchanged == 0
        await pilot.press("enter")
        await finish_run(pilot)
        run1 = History(env.paths.history_db).list()[0]
        assert run1.outcome.value == "done" and len(env.received()) == 1

        # one edit: 1 changed (its address as the example), the rest unchanged and not sent
        sql(env, "UPDATE records SET f_company = ? WHERE f_email = ?", "編集後商事", second)
        confirm = await run_to_confirm(pilot)
        plan = confirm.p.sync
        assert (plan.new, plan.changed, plan.retried, plan.unchanged) == (0, 1, 0, CLEAN_ROWS - 1)
        words = dialog_words(confirm)
        assert f"since run #{run1.run_id}" in words
        assert f"1 changed (e.g. {second})" in words
        assert f"{CLEAN_ROWS - 1} unchanged (not sent)" in words
        assert first not in confirm.sync_text()  # an unchanged row is no example
        await pilot.press("enter")
        await finish_run(pilot)
        assert len(env.received()) == 2
        assert second in env.received()[-1]["csv"]["text"] and first not in env.received()[-1]["csv"]["text"]
        run2 = History(env.paths.history_db).list()[0]

        # nothing changed: the dialog says so, F2 records it, no request is sent
        confirm = await run_to_confirm(pilot)
        words = dialog_words(confirm)
        assert f"nothing changed since run #{run2.run_id}" in words
        assert "no request is sent" in words
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(app.screen, ProgressScreen), what="the progress screen")
        await until(pilot, lambda: not app.runs.state.running, what="the run's end")
        assert f"nothing changed since run #{run2.run_id}" in dialog_words(app.screen)
        assert len(env.received()) == 2  # no request
        run3 = History(env.paths.history_db).list()[0]
        assert run3.requests == 0 and run3.sync["unchanged"] == CLEAN_ROWS
        assert_no_canary(app)


async def test_mirror_removal_needs_the_typed_confirmation(env) -> None:
    set_sync(env, "mirror")
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await open_menu(pilot)
        await search(pilot, CLEAN_SEARCH)
        gone = listed_addresses(app.screen, 3)[1:3]
        await run_to_confirm(pilot)
        await pilot.press("enter")  # first mirror run: all new, nobody to remove, no removal dialog
        await finish_run(pilot)
        assert len(env.received()) == 1
        for address in gone:
            sql(env, "DELETE FROM records WHERE f_email = ?", address)

        confirm = await run_to_confirm(pilot)
        assert confirm.p.removal is not None and confirm.p.sync.removed == 2
        assert "2 to remove from delivery group (gid) 12" in dialog_words(confirm)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RemovalConfirmScreen), what="the removal confirmation")
        dialog = app.screen
        words = dialog_words(dialog)
        assert "removes 2 customer(s) from delivery group (gid) 12" in words
        assert "second request (import_type 1" in words
        listed = [str(o.prompt) for o in dialog.query_one("#rm-list", OptionList).options]
        assert sorted(listed) == sorted(gone)
        await pilot.press(*"remove 3", "enter")  # a wrong count is not the confirmation
        assert app.screen is dialog and "Type exactly: remove 2" in dialog_words(dialog)
        await pilot.press("escape")  # cancelled: nothing sent, nobody removed
        await until(pilot, lambda: isinstance(app.screen, RecordListScreen), what="the record list")
        assert len(env.received()) == 1
        assert app.runs.state.number == 1  # no second run started

        await run_to_confirm(pilot)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RemovalConfirmScreen), what="the removal confirmation")
        await pilot.press(*"remove 2", "enter")
        await until(pilot, lambda: isinstance(app.screen, ProgressScreen), what="the progress screen")
        assert "then removes 2 customer(s) from delivery group (gid) 12" in app.runs.state.summary
        await finish_run(pilot)
        reqs = env.received()
        assert len(reqs) == 2  # nothing changed to register: only the removal request
        assert reqs[-1]["settings"]["import_type"] == "1" and reqs[-1]["settings"]["gid"] == "12"
        assert sorted(reqs[-1]["csv"]["text"].splitlines()[1:]) == sorted(gone)
        assert_no_canary(app)


async def test_results_column_and_filter(env) -> None:
    set_sync(env, "changes")
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await open_menu(pilot)
        await search(pilot, CLEAN_SEARCH)
        addresses = listed_addresses(app.screen, CLEAN_ROWS)
        refused, edited = addresses[0], addresses[4]
        env.control("refuse", {"addresses": [refused], "reason": "受信拒否"})
        await run_to_confirm(pilot)
        await pilot.press("enter")
        await finish_run(pilot)
        env.control("refuse", {"addresses": []})
        sql(env, "UPDATE records SET f_company = ? WHERE f_email = ?", "変更後", edited)

        screen = app.screen
        table = screen.table
        await pilot.press("v")  # two integrations are attached: pick 顧客登録
        await until(pilot, lambda: isinstance(app.screen, PickScreen), what="the integration picker")
        await pilot.press("enter")
        await until(pilot, lambda: app.screen is screen and table.results is not None, what="the results column")
        await until(pilot, lambda: table.row(0) is not None and table.row(0)[0] != "", what="the results")
        shown = {table.row(i)[1]: table.row(i)[0] for i in range(CLEAN_ROWS)}
        assert shown[refused] == "失敗: 受信拒否"
        assert shown[edited] == "変更あり"
        assert {v for a, v in shown.items() if a not in (refused, edited)} == {"成功"}
        text = screen_text(app)
        assert (
            "HaiHai結果" in text
            and "失敗: 受信拒否" in text
            and "results: 配配メール 顧客登録 (f filters by result)" in text
        )

        async def choose_filter(downs: int) -> None:
            await pilot.press("f")
            await until(pilot, lambda: isinstance(app.screen, PickScreen), what="the filter picker")
            await pilot.press(*(["down"] * downs), "enter")
            await until(pilot, lambda: app.screen is screen and table.total is not None, what="the filtered count")
            await until(pilot, lambda: table.total == 0 or table.row(0) is not None, what="the filtered rows")

        await choose_filter(1)  # 失敗 last time
        assert table.total == 1 and table.row(0)[1] == refused
        assert "filter: 失敗 last time" in screen_text(app)
        await choose_filter(2)  # changed since last sync
        assert table.total == 1 and table.row(0)[1] == edited and table.row(0)[0] == "変更あり"
        await choose_filter(0)  # all records again
        assert table.total == CLEAN_ROWS
        await pilot.press("v")  # the column goes
        await until(pilot, lambda: table.results is None and table.row(0) is not None, what="the column off")
        assert table.row(0)[0] == addresses[0] and "HaiHai結果" not in screen_text(app)


async def test_retry_from_history_detail_resends_exactly_the_refused_rows(env) -> None:
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await open_menu(pilot)
        await search(pilot, CLEAN_SEARCH)
        addresses = listed_addresses(app.screen, 10)
        refused = [addresses[2], addresses[7]]
        env.control("refuse", {"addresses": refused, "reason": "宛先不明"})
        await run_to_confirm(pilot)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ProgressScreen), what="the progress screen")
        await until(pilot, lambda: not app.runs.state.running, what="the run's end")
        env.control("refuse", {"addresses": []})
        failed_run = History(env.paths.history_db).list()[0].run_id

        await pilot.press("h")  # the progress screen's history key
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen), what="the history")
        await until(pilot, lambda: app.screen.query_one("#runs").row_count == 1, what="the runs")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RunDetailScreen), what="the run details")
        detail = app.screen
        await until(pilot, lambda: detail.rec is not None, what="the run loaded")
        assert "HaiHai reported 2 row(s) 失敗" in dialog_words(detail)
        await pilot.press("r")
        await until(
            pilot, lambda: isinstance(app.screen, (ConfirmRunScreen, FindingsScreen, PreflightScreen)), what="retry"
        )
        await until(pilot, lambda: isinstance(app.screen, ConfirmRunScreen), what="the confirm dialog")
        words = dialog_words(app.screen)
        assert f"retry of run #{failed_run}: 2 row(s) HaiHai reported 失敗 are sent again" in words
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ProgressScreen), what="the progress screen")
        await until(pilot, lambda: not app.runs.state.running, what="the retry's end")
        reqs = env.received()
        assert len(reqs) == 2
        sent = [line.split(",")[0] for line in reqs[-1]["csv"]["text"].splitlines()[1:]]
        assert sorted(sent) == sorted(refused)
        rec = History(env.paths.history_db).list()[0]
        assert rec.sync["mode"] == "retry" and rec.sync["retry_of"] == failed_run and rec.outcome.value == "done"
        assert_no_canary(app)


def saved_sync(env) -> str | None:
    import tomllib

    doc = tomllib.loads(env.paths.db.read_text(encoding="utf-8"))
    return next(g.get("sync") for g in doc["integrations"] if g["name"] == REGISTER)


async def open_form(pilot) -> IntegrationFormScreen:
    app = pilot.app
    app.push_screen(IntegrationFormScreen(app.ctx.settings.integration(REGISTER)))
    await until(pilot, lambda: isinstance(app.screen, IntegrationFormScreen), what="the form")
    form = app.screen
    await until(pilot, lambda: form.snapshot is not None, what="the form's snapshot")
    return form


async def test_integration_form_edits_sync_with_its_meaning_and_rules(env) -> None:
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(pilot)
        choice = form.query_one("#f-sync")
        choice.focus()
        await pilot.pause()
        assert choice.value == "full" and saved_sync(env) is None
        assert "全件: every row of the result" in dialog_words(form)
        await pilot.press("right")
        assert choice.value == "changes"
        assert "差分: only rows new, changed or refused" in dialog_words(form)
        await pilot.press("f2")
        await until(pilot, lambda: saved_sync(env) == "changes", what="sync saved to db.toml")

        def no_gid(doc) -> None:
            for x in doc["integrations"]:
                if str(x["name"]) == REGISTER:
                    del x["params"]["gid"]

        store.update(env.paths.db, no_gid)
        app.reload_settings()
        form = await open_form(pilot)
        problems = form.query_one("#form-problems")
        assert "sync = mirror" not in problems.render().plain
        choice = form.query_one("#f-sync")
        choice.focus()
        await pilot.press("right")  # changes -> mirror: the rule error appears as the value changes
        assert choice.value == "mirror"
        words = " ".join(problems.render().plain.split())
        assert "error" in words and "sync = mirror" in words and "gid" in words
        await pilot.press("f2")  # refused: nothing saved
        await pilot.pause()
        assert saved_sync(env) == "changes" and app.screen is form
        await pilot.press("right")  # mirror -> full: the error goes
        assert "sync = mirror" not in problems.render().plain


async def test_results_column_refused_on_a_menu_without_an_email_column(env) -> None:
    def no_email(doc) -> None:
        for m in doc["menus"]:
            m["columns"] = [c for c in m["columns"] if str(c) != "email"]

    store.update(env.paths.db, no_email)
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await open_menu(pilot)
        screen = app.screen
        await pilot.press("v")
        await until(pilot, lambda: isinstance(app.screen, PickScreen), what="the integration picker")
        await pilot.press("enter")
        await until(pilot, lambda: app.screen is screen, what="the list")
        await pilot.pause()
        assert screen.table.results is None and screen.results_view.integration is None
        notes = " ".join(str(n.message) for n in app._notifications)
        assert "shows no e-mail column" in notes and "HaiHai結果" not in screen_text(app)
