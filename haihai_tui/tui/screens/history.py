"""システム連携状況確認: every run, newest first, and a detail view with the request, the response,
the counts and the row-level result file when HaiHai offered it. Everything a run recorded (names,
memo, the server's answer and result file) is shown terminal-safe (``core.text``), never as markup."""

from __future__ import annotations

import json

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static, TextArea

from haihai_tui.core.events import COUNT_WORDS, REPORT_PLACE, Outcome
from haihai_tui.core.run.history import HistoryError, RunRecord
from haihai_tui.core.run.history_text import sync_words
from haihai_tui.core.run.state import open_history, open_sync_store
from haihai_tui.core.text import fit_cells, one_line, safe
from haihai_tui.tui.bindings import scope
from haihai_tui.tui.screens.base import AppScreen

LIMIT = 500
STATE_STYLE = {
    Outcome.RUNNING: "bold",
    Outcome.DONE: "green",
    Outcome.ERROR: "bold red",
    Outcome.UNKNOWN: "bold yellow reverse",
    Outcome.CANCELLED: "",
}
# (heading, width, right-aligned); the widths fit 80 columns with one space between
COLUMNS = [
    ("#", 4, True),
    ("time", 11, False),
    ("who", 8, False),
    ("integration", 16, False),
    ("memo", 10, False),
    ("rows", 7, True),
    ("state", 8, False),
    ("HTTP", 4, True),
]


def _cells(r: RunRecord) -> list[Text]:
    when = (r.started_at or "")[5:16].replace("T", " ")
    values = [
        str(r.run_id or ""),
        when,
        r.executor,
        r.integration,
        r.memo,
        f"{r.rows:,}",
        r.outcome.label + ("*" if r.dry_run else ""),
        str(r.http_status) if r.http_status else "-",
    ]
    out = []
    for (_, width, right), v in zip(COLUMNS, values):
        out.append(Text(fit_cells(one_line(v or ""), width, right=right) + " "))
    out[6].stylize(STATE_STYLE[r.outcome], 0, len(out[6]) - 1)
    return out


def decode_result(data: bytes) -> str:
    """The row-level result file as text: Windows-31J first (what HaiHai sends), then UTF-8."""
    for enc in ("cp932", "utf-8-sig"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    return data.decode("cp932", errors="replace")


class HistoryScreen(AppScreen):
    TITLE_TEXT = "システム連携状況確認 History"
    HELP_TEXT = (
        "Every run of every integration in this machine's history (or every host's, with a shared state "
        "in PostgreSQL), newest first. Enter opens "
        "the details: the request (no token is ever stored), HaiHai's answer, the counts and the "
        "row-level result. 結果不明 means the upload left but no answer came: check HaiHai before "
        "sending again."
    )
    BINDINGS = scope("history")

    def body(self) -> ComposeResult:
        yield Static("", id="hist-status", classes="status", markup=False)
        table = DataTable(id="runs", cursor_type="row", cell_padding=0, zebra_stripes=False)
        yield table

    def on_mount(self) -> None:
        table = self.query_one("#runs", DataTable)
        for head, width, right in COLUMNS:
            table.add_column(Text(fit_cells(head, width, right=right) + " "), key=head)
        table.focus()
        self.happ.runs.changed.subscribe(self, self._run_changed)
        self.action_reload()

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        if self.is_mounted:
            self.action_reload()

    def _run_changed(self, state) -> None:
        key = (state.number, state.stage, state.running)
        if key != getattr(self, "_last_run_key", None):
            self._last_run_key = key
            self.action_reload()

    def action_reload(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, group="history-load", exit_on_error=False)
    def _load(self) -> None:
        ctx = self.happ.ctx
        try:
            h = open_history(ctx.paths, ctx.settings, ctx.environ)
            recs, total = h.list(limit=LIMIT), h.count()
        except HistoryError as e:
            self.app.call_from_thread(self._show_error, str(e))
            return
        self.app.call_from_thread(self._fill, recs, total)

    def _show_error(self, text: str) -> None:
        self.query_one("#hist-status", Static).update(Text(safe(text, multiline=True)))

    def _fill(self, recs: list[RunRecord], total: int) -> None:
        table = self.query_one("#runs", DataTable)
        shown = [(r.run_id, r.outcome, r.http_status, r.memo, r.rows, r.ended_at) for r in recs]
        if shown == getattr(self, "_shown", None):
            return  # unchanged: keep the cursor where the user left it
        self._shown = shown
        keep = table.cursor_row
        table.clear()
        for r in recs:
            table.add_row(*_cells(r), key=str(r.run_id))
        if recs:
            table.move_cursor(row=min(keep, len(recs) - 1))
        shown = (
            f"{len(recs):,} of {total:,} runs" if total > len(recs) else f"{total:,} run" + ("" if total == 1 else "s")
        )
        hint = "Enter = details" if recs else "No runs yet: run an integration from a record list (r)."
        self.query_one("#hist-status", Static).update(f"{shown}, newest first.  {hint}  (* = dry run)")

    def action_open(self) -> None:
        table = self.query_one("#runs", DataTable)
        if table.row_count == 0:
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        if key:
            self.app.push_screen(RunDetailScreen(int(key)))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value:
            self.app.push_screen(RunDetailScreen(int(event.row_key.value)))


def _when(iso: str | None) -> str:
    """2026-04-01T10:01:00+09:00 -> 2026-04-01 10:01:00 +09:00."""
    if not iso:
        return "-"
    return iso.replace("T", " ")[:19] + (" " + iso[19:] if len(iso) > 19 else "")


def describe_run(r: RunRecord) -> Text:
    def s(value: object) -> str:
        return safe(value, multiline=True)

    def o(value: object) -> str:
        return one_line(value)

    t = Text()
    t.append(f"Run #{r.run_id}  ", style="bold")
    t.append(f" {r.outcome.label} ({r.outcome.value}) ", style=STATE_STYLE[r.outcome] or "bold")
    t.append("  dry run (nothing sent)\n" if r.dry_run else "\n")
    t.append(f"Started {o(_when(r.started_at))}   ended {o(_when(r.ended_at))}\n")
    host = f" on {o(r.machine)}" if r.machine else ""  # with a shared state, runs of every host are here
    t.append(f"Who: {o(r.executor)}{host}   Integration: {o(r.integration)}   Menu: {o(r.menu)}\n")
    t.append(f"Memo: {o(r.memo) or '-'}\n")
    t.append("\nRequest\n", style="bold")
    t.append(f"  host {o(r.host)}   URL {o(r.url)}\n")
    t.append(f"  rows {r.rows:,}   bytes {r.bytes:,}   requests {r.requests}\n")
    t.append(f"  conditions: {o(', '.join(r.conditions)) if r.conditions else '(none: the whole list)'}\n")
    t.append(f"  import_settings: {o(json.dumps(r.params, ensure_ascii=False))}\n")
    t.append("\nResponse\n", style="bold")
    t.append(f"  HTTP {r.http_status if r.http_status is not None else '-'}   code {o(r.code) or '-'}\n")
    if r.message:
        t.append(f"  {s(r.message)}\n")
    if r.import_ids:
        t.append(f"  import id(s): {o(', '.join(r.import_ids))}\n")
    if r.response_excerpt:
        t.append(f"  excerpt: {s(r.response_excerpt)}\n")
    if r.outcome is Outcome.UNKNOWN:
        t.append(
            f"\n結果不明: the upload left this machine but no answer came back. Check HaiHai "
            f"({REPORT_PLACE}) before sending it again; it was not re-sent.\n",
            style="bold yellow",
        )
    t.append("\nCounts\n", style="bold")
    if r.counts:
        t.append("  " + "   ".join(f"{o(COUNT_WORDS.get(k, k))} {v:,}" for k, v in r.counts.items()) + "\n")
    else:
        t.append("  (HaiHai gave no counts for this run)\n")
    if r.sync:
        t.append(f"  sync: {o(sync_words(r.sync))}\n")
    t.append("\nRow-level result\n", style="bold")
    if not r.has_result_csv:
        t.append("  (not offered by the server)\n")
    else:
        t.append("  below (成功 success / 失敗 failure / その他 other / 配信停止 stopped per row)\n")
    return t


class RunDetailScreen(AppScreen):
    TITLE_TEXT = "システム連携状況確認 Run details"
    BINDINGS = scope("run_detail")
    DEFAULT_CSS = """
    RunDetailScreen #detail { height: 1fr; padding: 0 1; }
    RunDetailScreen #result-head { height: 1; padding: 0 1; background: $boost; display: none; }
    RunDetailScreen #result { height: 1fr; min-height: 5; border: none; display: none; }
    RunDetailScreen.with-result #result-head, RunDetailScreen.with-result #result { display: block; }
    """

    def __init__(self, run_id: int) -> None:
        super().__init__()
        self.run_id = run_id
        self.result_text = ""
        self.rec: RunRecord | None = None
        self.failures: list[tuple[str, str, str]] = []  # (key, address, reason) HaiHai reported 失敗 in this run

    def body(self) -> ComposeResult:
        with VerticalScroll(id="detail"):
            yield Static("loading...", id="detail-text", markup=False)
        yield Static("Row-level result from HaiHai (Tab = move here, y = copy)", id="result-head", markup=False)
        yield TextArea("", id="result", read_only=True, soft_wrap=False, show_line_numbers=True)

    def on_mount(self) -> None:
        self.query_one("#detail").focus()
        self._load()

    @work(thread=True, exit_on_error=False)
    def _load(self) -> None:
        ctx = self.happ.ctx
        try:
            rec = open_history(ctx.paths, ctx.settings, ctx.environ).get(self.run_id)
        except HistoryError as e:
            self.app.call_from_thread(self.query_one("#detail-text", Static).update, Text(safe(str(e), multiline=True)))
            return
        text = decode_result(rec.result_csv) if rec and rec.result_csv else ""
        try:
            failures = open_sync_store(ctx.paths, ctx.settings, ctx.environ).failures(self.run_id) if rec else []
        except Exception:  # the sync state cannot be read: the retry key says so when pressed
            failures = []
        self.app.call_from_thread(self._show, rec, text, failures)

    def _show(self, rec: RunRecord | None, result: str, failures: list | None = None) -> None:
        if rec is None:
            self.query_one("#detail-text", Static).update(f"There is no run #{self.run_id}.")
            return
        self.rec, self.failures = rec, list(failures or [])
        text = describe_run(rec)
        if self.failures:
            shown = ", ".join(one_line(a) for _k, a, _r in self.failures[:3])
            text.append(
                f"\nHaiHai reported {len(self.failures):,} row(s) 失敗 (e.g. {shown}): "
                f"{self.happ.key_for('history_retry_failed')} re-sends exactly those rows, with their current values "
                "(pre-flight and confirm first).\n",
                style="bold yellow",
            )
        self.query_one("#detail-text", Static).update(text)
        self.result_text = result  # copied as HaiHai sent it (the clipboard write is base64-encoded)
        self.set_class(bool(result), "with-result")
        self.query_one("#result", TextArea).load_text(safe(result.replace("\r\n", "\n"), multiline=True))

    def action_retry_failed(self) -> None:
        """Re-send exactly the rows HaiHai reported 失敗 in this run: pre-flight, confirm, then the run."""
        rec = self.rec
        if rec is None:
            self.notify("The run is still loading; press the key again in a moment.", markup=False)
            return
        if not self.failures:
            self.notify(
                f"HaiHai reported no 失敗 row in run #{rec.run_id} (or its row results were not fetched); "
                "nothing to retry.",
                markup=False,
            )
            return
        runs = self.happ.runs
        if runs.busy:
            self.notify(runs.busy_text(), severity="warning", markup=False)
            return
        self._retry_flow(rec)

    @work(exclusive=True, group="run-flow", exit_on_error=False)
    async def _retry_flow(self, rec: RunRecord) -> None:
        """The one run flow (tui/dialogs/run_flow.py) on the rows HaiHai refused in ``rec``."""
        from haihai_tui.core.run.prepare import Target
        from haihai_tui.tui.dialogs.run_flow import confirm_and_start

        def leave(_choice: str, _row: int | None, _findings) -> None:
            self.notify("Not sent: correct the rows in the record list, then retry.", markup=False)

        started = await confirm_and_start(
            self,
            Target(rec.menu, rec.integration),
            memo=f"retry of run #{rec.run_id}",
            retry_run=rec.run_id,
            refused_title="Cannot retry / 再送できません",
            on_findings_exit=leave,
        )
        if started:
            self.app.action_progress()  # the progress screen (the App's; it links back to this history)

    def action_copy(self) -> None:
        if self.result_text:
            self.app.copy_to_clipboard(self.result_text)
            self.notify("Row-level result copied.", markup=False)
        else:
            self.notify("This run has no row-level result.", markup=False)
