"""Typed progress events of one integration run.

The core emits them through a plain callback ``on_event(event)``; the command line prints them,
the TUI turns them into messages. They never carry a secret.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Literal


class Stage(str, Enum):
    QUERY = "query"  # reading rows from the record database
    PREFLIGHT = "preflight"  # checking and building the CSV
    CONFIRM = "confirm"  # waiting for the user's say
    SEND = "send"  # multipart upload
    RESPONSE = "response"  # waiting for / reading the server's answer
    POLL = "poll"  # polling the (optional) status endpoint
    HISTORY = "history"
    MAIL = "mail"
    DONE = "done"


class Outcome(str, Enum):
    """The run's final state, with the product's Japanese words."""

    RUNNING = "running"  # 実行中
    DONE = "done"  # 完了
    ERROR = "error"  # エラー
    UNKNOWN = "unknown"  # 結果不明: the body was sent, the answer never came
    CANCELLED = "cancelled"  # 中止: stopped by the user before anything was sent, or part-way through
    # the upload (the body never completed; HaiHai rejects incomplete uploads)

    @property
    def label(self) -> str:
        return OUTCOME_LABELS[self]


OUTCOME_LABELS = {
    Outcome.RUNNING: "実行中",
    Outcome.DONE: "完了",
    Outcome.ERROR: "エラー",
    Outcome.UNKNOWN: "結果不明",
    Outcome.CANCELLED: "中止",
}

# --- the words every output (command line, TUI, history, mail) uses for a run; defined only here ------

STAGE_WORDS = {
    Stage.QUERY: "reading records",
    Stage.PREFLIGHT: "checking and building the CSV",
    Stage.CONFIRM: "waiting for confirmation",
    Stage.SEND: "uploading to HaiHai",
    Stage.RESPONSE: "waiting for HaiHai's answer",
    Stage.POLL: "asking HaiHai for the row results",
    Stage.HISTORY: "recording in the history",
    Stage.MAIL: "report mail",
    Stage.DONE: "finished",
}
#: HaiHai's four result categories of a finished import
COUNT_WORDS = {
    "success": "成功 success",
    "failure": "失敗 failure",
    "other": "その他 other",
    "stopped": "配信停止 stopped",
}
#: where HaiHai's own screens show an import's result
REPORT_PLACE = "レポート > 一括登録・削除の処理結果"
#: what to do after 結果不明, one sentence a line (the command line joins them, the TUI lists them)
UNKNOWN_ADVICE_LINES = (
    "HaiHai may or may not have imported these rows: the file was sent, but no answer confirmed the import.",
    f"Check {REPORT_PLACE} (and the group's customers) in HaiHai before doing anything else.",
    "Do NOT simply run it again: it was not re-sent, and a repeat spends the daily quota.",
    "The run is recorded as 結果不明 in システム連携状況確認 (history).",
)
#: the short form appended to a 結果不明 message
UNKNOWN_ADVICE = (
    f"The upload may or may not have been processed: check {REPORT_PLACE} and the import "
    "history in HaiHai before sending again. It was NOT re-sent."
)


@dataclass(frozen=True)
class StageChanged:
    stage: Stage
    message: str = ""


@dataclass(frozen=True)
class RowsProgress:
    done: int
    total: int | None  # None while unknown


@dataclass(frozen=True)
class BytesProgress:
    sent: int
    total: int
    part: int = 1  # 1-based request number when a run is split into several requests
    parts: int = 1


@dataclass(frozen=True)
class LogLine:
    text: str
    level: Literal["info", "warning", "error"] = "info"


@dataclass(frozen=True)
class ServerResponse:
    status: int | None
    summary: str  # one line: "200 success import_id=... rows=120"
    body_excerpt: str  # at most a few hundred characters, secrets never in it


@dataclass(frozen=True)
class RunStarted:
    """The run has its number in the history (システム連携状況確認)."""

    run_id: int


RunEvent = StageChanged | RowsProgress | BytesProgress | LogLine | ServerResponse | RunStarted
EventSink = Callable[[RunEvent], None]


def ignore(_event: RunEvent) -> None:
    """An EventSink that drops everything."""
