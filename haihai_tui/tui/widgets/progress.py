"""The live progress panel of the App's run: stage, rows, bytes and percent, rate, the server's answer,
the outcome, and the log so far. It reads ``app.runs.state`` when mounted and follows
``app.runs.changed``, so opening it late shows everything that happened before. Names, the memo,
log lines and everything the server said are shown terminal-safe (``core.text.safe``), never as markup.
"""

from __future__ import annotations

from rich.cells import cell_len, get_character_cell_size
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Log, Static

from haihai_tui.core.events import COUNT_WORDS, STAGE_WORDS, UNKNOWN_ADVICE_LINES, Outcome
from haihai_tui.core.text import one_line, safe
from haihai_tui.tui.host import host
from haihai_tui.tui.runs import RunState

OUTCOME_STYLE = {
    Outcome.RUNNING: "bold",
    Outcome.DONE: "bold green",
    Outcome.ERROR: "bold red",
    Outcome.UNKNOWN: "bold yellow reverse",
    Outcome.CANCELLED: "bold",
}
BAR = 30


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} GB"


def bar(percent: float | None, width: int = BAR) -> str:
    """An ASCII bar: [#########.........]."""
    if percent is None:
        return "[" + "." * width + "]"
    fill = int(round(width * percent / 100))
    return "[" + "#" * fill + "." * (width - fill) + "]"


def wrap_cells(text: str, width: int, indent: int = 11) -> list[str]:
    """Split ``text`` into lines of at most ``width`` display cells, at a space where one is near
    the end (continuations indented); wide characters are never split."""
    if width <= indent + 10 or cell_len(text) <= width:
        return [text]
    lines: list[str] = []
    rest, first = text, True
    while rest:
        room = width if first else width - indent
        if cell_len(rest) <= room:
            lines.append(rest if first else " " * indent + rest)
            break
        used, cut = 0, 0
        for i, ch in enumerate(rest):
            used += get_character_cell_size(ch)
            if used > room:
                cut = i
                break
        space = rest.rfind(" ", 0, cut + 1)
        if space > cut - 20 and space > 0:
            cut = space
        piece, rest = rest[:cut], rest[cut:].lstrip(" ")
        lines.append(piece if first else " " * indent + piece)
        first = False
    return lines


def describe(state: RunState) -> Text:
    """The panel's summary lines as Rich text (no markup parsing of user data)."""
    t = Text()
    number = f"#{state.run_id} " if state.run_id else ""
    t.append(f"Run {number}", style="bold")
    t.append(one_line(state.integration), style="bold")
    t.append(f"  ({one_line(state.menu)}, {state.started_at})  ")
    t.append(f" {state.outcome.label} ({state.outcome.value}) ", style=OUTCOME_STYLE[state.outcome])
    if state.running and state.cancel_requested:
        t.append("  cancel requested...", style="bold")
    t.append("\n")
    if state.outcome is Outcome.UNKNOWN and not state.running:
        t.append("結果不明: ", style="bold yellow")
        t.append(" ".join(UNKNOWN_ADVICE_LINES[:3]) + "\n", style="yellow")
    t.append(f"What:  {safe(state.summary, multiline=True)}\n")
    if state.memo:
        t.append(f"Memo:  {one_line(state.memo)}\n")
    stage = state.stage_text if state.running and state.stage_text else STAGE_WORDS.get(state.stage, state.stage.value)
    t.append(f"Stage: {one_line(stage)}\n")
    pct = state.percent
    if state.bytes_total:
        part = f", request {state.part} of {state.parts}" if state.parts > 1 else ""
        t.append(
            f"Sent:  {bar(pct, 20)} {pct or 0:5.1f}%  {human_bytes(state.bytes_sent)} of "
            f"{human_bytes(state.bytes_total)}{part}\n"
        )
    else:
        t.append(f"Sent:  {bar(None, 20)}   nothing sent yet\n")
    reqs = f" in {state.parts} requests" if state.parts > 1 else ""
    rate = f"   {human_bytes(state.rate)}/s" if state.rate else ""
    t.append(f"Rows:  {state.rows:,}{reqs}{rate}   {state.elapsed:,.1f} s\n")
    if state.response is not None:
        t.append("HaiHai: ", style="bold")
        t.append(f"{safe(state.response.summary, multiline=True)}\n")
    rec = state.record
    if rec is not None and not state.running:
        if rec.counts:
            t.append("Counts: " + ", ".join(f"{COUNT_WORDS.get(k, k)} {v:,}" for k, v in rec.counts.items()) + "\n")
        if rec.message:
            t.append(f"Result: {safe(rec.message, multiline=True)}\n")
    if state.error:
        t.append(f"Error: {safe(state.error, multiline=True)}\n", style="bold red")
    t.rstrip()
    return t


class ProgressPanel(Vertical):
    """Summary above, log below; follows the App's RunService. Tab moves between the two."""

    DEFAULT_CSS = """
    ProgressPanel { height: 1fr; }
    ProgressPanel > #run-summary-box { height: auto; max-height: 60%; padding: 0 1; }
    ProgressPanel > #run-log { height: 1fr; min-height: 3; border-top: solid $panel-lighten-2; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._seen: tuple[int, int] = (0, 0)  # (run number, log lines written)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="run-summary-box"):
            yield Static("", id="run-summary", markup=False)
        yield Log(id="run-log", max_lines=2000, auto_scroll=True)

    def on_mount(self) -> None:
        runs = host(self).runs
        runs.changed.subscribe(self, self.show)
        if runs.state is not None:
            self.show(runs.state)
            return
        self.query_one("#run-summary", Static).update(
            "No run yet in this session. Open a record list (レコード一覧), choose an integration with r, "
            "and its progress appears here. Past runs: システム連携状況確認 (history)."
        )

    def show(self, state: RunState) -> None:
        self.query_one("#run-summary", Static).update(describe(state))
        log = self.query_one("#run-log", Log)
        number, written = self._seen
        if number != state.number:
            log.clear()
            written = 0
        new = state.log_seq - written
        lines = state.log[-new:] if 0 < new <= len(state.log) else (state.log if new > 0 else [])
        if lines:
            # leave room for the vertical scrollbar, which appears once the log outgrows its height
            width = max(log.size.width - 3, 40) if log.size.width else 77
            out: list[str] = []
            for t, lvl, text in lines:
                mark = "!" if lvl != "info" else " "
                for i, line in enumerate(safe(text, multiline=True).split("\n")):
                    out += wrap_cells(f"{t} {mark} {line}" if i == 0 else " " * 11 + line, width)
            log.write_lines(out)
            self.call_after_refresh(log.scroll_end, animate=False)
        self._seen = (state.number, state.log_seq)
        if state.running and not getattr(self, "_ticking", False):
            self._ticking = True
            self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        runs = host(self).runs
        if runs.state is not None and runs.state.running:
            self.query_one("#run-summary", Static).update(describe(runs.state))
