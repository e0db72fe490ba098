"""HaiHai's row results and what they confirm; each record's last result for the record list.

- ``parse_result_csv``: HaiHai's result file (処理結果, 理由, the columns as sent) by key.
- ``confirm_run``: after a run part, what HaiHai confirmed goes into the sync state (only a 完了 run
  confirms; 失敗 rows are kept as refused, to be sent again).
- The record list's results column: ``record_results`` (成功 / 失敗 with the reason / 未送信 / 変更あり per
  row of a page), ``keys_with_result`` (the keys whose last result was 失敗 or 成功) and ``changed_keys``
  (the keys among a query's rows whose cells changed since HaiHai confirmed them).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import compress, islice
from operator import itemgetter, not_
from pathlib import Path

from haihai_tui.core.run.syncstate import (
    CHUNK,
    CONFIRMED,
    REFUSED,
    SyncStore,
    key_index,
    row_digest,
    row_digests,
    row_key,
    row_keys,
)
from haihai_tui.core.settings.model import Database, Menu
from haihai_tui.core.text import one_line

__all__ = [
    "FAILED_WORD",
    "RESULT_CHANGED",
    "RESULT_FAILED",
    "RESULT_OK",
    "RESULT_UNSENT",
    "RecordResult",
    "changed_keys",
    "confirm_run",
    "keys_with_result",
    "parse_result_csv",
    "record_results",
]

RESULT_OK, RESULT_FAILED, RESULT_UNSENT, RESULT_CHANGED = "成功", "失敗", "未送信", "変更あり"
FAILED_WORD = "失敗"
REASON_MAX = 200  # characters of HaiHai's reason kept per key


# -- HaiHai's row results ----------------------------------------------------------------------------


def parse_result_csv(data: bytes, key_label: str) -> dict[str, tuple[str, str, str]] | None:
    """key -> (category, reason, address as sent) from a result.csv (処理結果, 理由, then the columns as
    sent); None when it cannot be read (then nothing in it may be relied on)."""
    for enc in ("utf-8-sig", "cp932"):
        try:
            text = data.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        return None
    rows = csv.reader(io.StringIO(text, newline=""))
    head = next(rows, None)
    if not head or len(head) < 3 or key_label not in head[2:]:
        return None
    at = head.index(key_label, 2)
    out: dict[str, tuple[str, str, str]] = {}
    for row in rows:
        if len(row) <= at:
            continue
        key = row_key(row[at])
        if not key:
            continue
        cat, reason = row[0], row[1][:REASON_MAX]  # the server is not trusted: a reason stays short
        prev = out.get(key)
        if prev is None or cat == FAILED_WORD:  # a duplicate that failed counts as failed
            out[key] = (cat, reason, row[at])
    return out


def confirm_run(
    store: SyncStore,
    run_id: int,
    integration: str,
    plan,
    *,
    done: bool,
    offered: bool,
    files: Sequence[bytes | None],
    complete: bool,
    outcome_word: str,
    rows_per_file: Sequence[int],
) -> str:
    """Write what HaiHai confirmed of one finished run part; return what was kept, in words.

    Only a 完了 run confirms. Where HaiHai offers row results (result.csv), every row it reported 失敗 is
    kept as refused (sent again next time) and the rest as confirmed; rows missing from the file are not
    confirmed. Where it offers none, every row of the 完了 request counts. When the row results were
    offered but not all fetched, nothing is confirmed: the next changes run sends the rows again."""
    if not plan.sent:
        return "sync state: no row was sent"
    if not done:
        return f"sync state: nothing confirmed ({outcome_word}: HaiHai did not confirm these rows)"
    if offered and not complete:
        return (
            "sync state: nothing confirmed, because HaiHai's row results were not all fetched; "
            "the next changes run sends these rows again"
        )
    refused: dict[str, str] = {}
    sent: list[tuple[str, bytes, str]] = []
    start = 0
    for i, n in enumerate(rows_per_file):
        part = plan.sent[start : start + n]
        start += n
        data = files[i] if offered and i < len(files) else None
        if data is None:  # no row results for this request: every row of a 完了 request counts
            sent += part
            continue
        results = parse_result_csv(data, plan.key_label)
        if results is None:
            return (
                "sync state: nothing confirmed, because HaiHai's result file could not be read; "
                "the next changes run sends these rows again"
            )
        for row in part:
            got = results.get(row[0])
            if got is None:
                continue  # not in HaiHai's answer: not confirmed
            sent.append(row)
            if got[0] == FAILED_WORD:
                refused[row[0]] = got[1] or FAILED_WORD
    ok, bad = store.record(run_id, integration, plan.scope_id, sent, refused, removal=plan.mode == "removal")
    what = "removal(s)" if plan.mode == "removal" else "row(s)"
    text = f"sync state: HaiHai confirmed {ok:,} {what}"
    if bad:
        text += f"; {bad:,} refused (失敗): sent again by the next changes run, or now with --retry-failed {run_id}"
    unconfirmed = len(plan.sent) - ok - bad
    if unconfirmed > 0:
        text += f"; {unconfirmed:,} not in HaiHai's row results (not confirmed)"
    return text


# -- the record list's results column ----------------------------------------------------------------


@dataclass(frozen=True)
class RecordResult:
    """A record's last HaiHai result in one integration, for the record list."""

    word: str  # 成功 | 失敗 | 未送信 | 変更あり
    reason: str = ""  # HaiHai's reason for 失敗
    run_id: int | None = None

    def text(self) -> str:
        return f"{self.word}: {one_line(self.reason)}" if self.reason else self.word


def _store(source) -> SyncStore:
    """The sync state of ``source``: the history file's path, a store, or a function giving one (core/run/state.py
    sync_source: the shared PostgreSQL state)."""
    if isinstance(source, SyncStore):
        return source
    return source() if callable(source) else SyncStore(source)


def record_results(
    history_db: Path, integration: str, menu: Menu, database: Database, rows: Sequence[Sequence[str]]
) -> list[RecordResult]:
    """One result per row (cells in ``menu.columns`` order, as the record list pages them)."""
    ix = key_index(menu, database)
    if ix is None:
        return [RecordResult(RESULT_UNSENT)] * len(rows)
    keys = [row_key(r[ix]) for r in rows]
    found = _store(history_db).lookup(integration, keys)
    out = []
    for row, key in zip(rows, keys):
        st = found.get(key)
        if st is None:
            out.append(RecordResult(RESULT_UNSENT))
        elif st.state == REFUSED:
            out.append(RecordResult(RESULT_FAILED, st.reason, st.run))
        elif st.digest is not None and st.digest != row_digest(row):
            out.append(RecordResult(RESULT_CHANGED, "", st.run))
        else:
            out.append(RecordResult(RESULT_OK, "", st.run))
    return out


def keys_with_result(history_db: Path, integration: str, word: str) -> set[str]:
    """The keys whose last result in ``integration`` was 失敗 (``RESULT_FAILED``) or 成功 (``RESULT_OK``)."""
    state = {RESULT_FAILED: REFUSED, RESULT_OK: CONFIRMED}.get(word)
    if state is None:
        raise ValueError(f"keys_with_result: {word!r} is kept per key only for 成功 and 失敗")
    return _store(history_db).keys_with_state(integration, state)


def changed_keys(
    history_db: Path, integration: str, menu: Menu, database: Database, rows: Iterable[Sequence[str]]
) -> set[str]:
    """Keys among ``rows`` whose cells differ from what HaiHai confirmed (変更あり), in one pass by chunks."""
    ix = key_index(menu, database)
    if ix is None:
        return set()
    store = _store(history_db)
    known = store.confirmed_digest_set(integration)
    out: set[str] = set()
    it, get_addr = iter(rows), itemgetter(ix)
    while chunk := list(islice(it, CHUNK)):
        ds = row_digests(chunk)
        misses = list(compress(range(len(chunk)), map(not_, map(known.__contains__, ds))))
        if not misses:
            continue
        keys = row_keys(get_addr(chunk[i]) for i in misses)
        found = store.lookup(integration, keys)
        out.update(k for k in keys if k in found and found[k].state == CONFIRMED and found[k].digest is not None)
    return out
