"""What the CSV import and export dialogs share: the dialog frame, the progress a worker thread writes and
the screen reads (never the other way: the worker is never blocked by the screen), and the progress line."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from rich.text import Text
from textual import on
from textual.screen import ModalScreen
from textual.widgets import Static

from haihai_tui.core.text import one_line
from haihai_tui.tui.widgets.path_input import PathInput
from haihai_tui.tui.widgets.progress import bar

CSV_DIALOG_CSS = """
{cls} { align: center middle; }
{cls} > Vertical { width: 78; max-width: 100%; height: auto; max-height: 100%; border: round $accent;
                   background: $surface; padding: 0 1; }
{cls} .dlg-title { text-style: bold; }
{cls} .dlg-hint { color: $text-muted; }
{cls} .dlg-info { color: $text-muted; }
{cls} Horizontal { height: auto; }
{cls} .dlg-label { width: 13; }
{cls} PathInput { width: 1fr; background: $boost; }
{cls} Choice { width: 1fr; }
{cls} .dlg-cands { color: $text-muted; height: auto; max-height: 3; }
{cls} .dlg-bar { height: 1; }
{cls} .dlg-status { height: auto; max-height: 11; }
{cls} .dlg-status.error { color: $text-error; }
{cls} OptionList { height: auto; max-height: 8; }
"""


@dataclass
class Progress:
    """Written by the worker thread (plain attribute stores), read by the screen's timer."""

    total: int | None = None  # rows expected, when known
    rows: int = 0
    done_bytes: int = 0
    size: int = 0
    started: float = field(default_factory=time.perf_counter)

    def on_import(self, rows: int, done_bytes: int, size: int) -> None:
        self.rows, self.done_bytes, self.size = rows, done_bytes, size

    def on_rows(self, rows: int) -> None:
        self.rows = rows

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started

    @property
    def percent(self) -> float | None:
        if self.size:
            return min(100.0 * self.done_bytes / self.size, 100.0)
        if self.total:
            return min(100.0 * self.rows / self.total, 100.0)
        return None

    def rate(self) -> float:
        s = self.seconds
        return self.rows / s if s > 0 else 0.0

    def line(self) -> str:
        """``[####......]  45%  123,456 rows  98,765 rows/s  1.3 s`` (ASCII: no ambiguous-width glyphs)."""
        pct = self.percent
        rows = f"{self.rows:,}" + (f" / {self.total:,}" if self.total is not None else "")
        head = f"{bar(pct, 24)} {pct:3.0f}%" if pct is not None else bar(None, 24)
        return f"{head}  {rows} rows  {self.rate():,.0f} rows/s  {self.seconds:.1f} s"


class CsvDialog(ModalScreen):
    """Base of the two dialogs: a worker may be running (``busy``); Esc cancels it, else closes."""

    busy = False

    @on(PathInput.Candidates)
    def _candidates(self, event: PathInput.Candidates) -> None:
        """The names that fit what is typed, under the path field (one line each; 40 at most)."""
        names = event.names
        more = f"  ... ({len(names):,} in all)" if len(names) > 40 else ""
        self.query_one("#csv-cands", Static).update(Text("  ".join(one_line(n) for n in names[:40]) + more))

    def status(self, text: str, error: bool = False) -> None:
        w = self.query_one("#csv-status", Static)
        w.update(text)
        w.set_class(error, "error")
