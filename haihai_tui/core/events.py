"""Typed progress events of one integration run.

The core emits them through a plain callback ``on_event(event)``; the command line prints them,
the TUI turns them into messages. They never carry a secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Callable, Literal


class Stage(str, Enum):
    QUERY = "query"          # reading rows from the record database
    PREFLIGHT = "preflight"  # checking and building the CSV
    CONFIRM = "confirm"      # waiting for the user's say
    SEND = "send"            # multipart upload
    RESPONSE = "response"    # waiting for / reading the server's answer
    POLL = "poll"            # polling the (optional) status endpoint
    HISTORY = "history"
    MAIL = "mail"
    DONE = "done"


class Outcome(str, Enum):
    """The run's final state, with the product's Japanese words."""
    RUNNING = "running"      # 実行中
    DONE = "done"            # 完了
    ERROR = "error"          # エラー
    UNKNOWN = "unknown"      # 結果不明: the body was sent, the answer never came
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
    part: int = 1      # 1-based request number when a run is split into several requests
    parts: int = 1


@dataclass(frozen=True)
class LogLine:
    text: str
    level: Literal["info", "warning", "error"] = "info"


@dataclass(frozen=True)
class ServerResponse:
    status: int | None
    summary: str        # one line: "200 success import_id=... rows=120"
    body_excerpt: str   # at most a few hundred characters, secrets never in it


@dataclass(frozen=True)
class RunStarted:
    """The run has its number in the history (システム連携状況確認)."""
    run_id: int


RunEvent = StageChanged | RowsProgress | BytesProgress | LogLine | ServerResponse | RunStarted
EventSink = Callable[[RunEvent], None]


def ignore(_event: RunEvent) -> None:
    """An EventSink that drops everything."""
