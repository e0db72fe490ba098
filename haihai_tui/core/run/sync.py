"""Sync modes: send only what changed, mirror a group, retry the rows HaiHai refused (issue 10).

The API both front ends use (the TUI through ``Prepared.sync``, the command line through ``run``):

- ``SYNC_MODES`` = ("full", "changes", "mirror"); ``SYNC_WORDS[mode]`` says each in plain words.
  ``resolve_mode(integration, override)`` is the mode of a run: ``run --sync MODE`` over ``sync`` in
  db.toml (default "full"). ``mode_problem(mode, integration, menu, database)`` is why a mode cannot
  be used there (no e-mail column; mirror without import_type 0 and a gid/spid), or None.
- The key of a customer is the menu's e-mail column (the field of type ``email``), lower-cased:
  ``key_index(menu, database)``. The scope of a sync is ``Scope`` (integration, menu, conditions,
  search, gid/spid).
- ``prepare(..., sync="changes")`` (core/run/prepare.py) returns a ``Prepared`` whose ``sync`` is a
  ``SyncPlan``: counts ``new`` / ``changed`` / ``retried`` / ``unchanged`` (not sent) / ``removed``,
  ``examples[kind]`` (the first few addresses of each), ``since_run`` (the run the unchanged rows were
  confirmed in, "nothing changed since run #N"), ``removals`` (the addresses a mirror run removes),
  ``missing`` (retry-failed keys no longer in the database) and ``describe()``: the plain words for
  ``--dry-run``, the output and the confirm dialog. ``Prepared.removal`` is the second request of a
  mirror run (import_type 1, same login_id, gid/spid and report option) or None; ``execute(...,
  confirm_removal=True)`` is needed to send it (the TUI after its typed confirmation, the command
  line with ``--yes``).
- ``prepare(..., retry_run=RUN)``: exactly the rows HaiHai reported 失敗 in run RUN, current values.
- Per record, for the record list's results column: ``record_results(history_db, integration, menu,
  database, rows)`` -> one ``RecordResult`` per row (成功 / 失敗 with the reason / 未送信 / 変更あり).
  To filter by it: ``keys_with_result(history_db, integration, RESULT_FAILED)`` is the set of keys
  whose last result was 失敗 (small; ``Condition`` on the e-mail column per key, or a ``key IN``
  filter); "changed since last sync" is ``changed_keys(history_db, integration, menu, database, rows)``
  over the rows of a query (one pass, digests compared in memory).
- After a run, ``execute`` writes what HaiHai confirmed (``confirm_run``): only a 完了 run confirms,
  and then every row sent except those HaiHai's row results (result.csv, where offered) report 失敗.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import compress, islice
from operator import itemgetter, methodcaller, not_
from pathlib import Path

from haihai_tui.core.run.syncstate import CONFIRMED, REFUSED, SyncStore, was_confirmed
from haihai_tui.core.settings.model import SYNC_MODES, SYNC_WORDS, Database, Integration, Menu
from haihai_tui.core.settings.validate import sync_problem
from haihai_tui.core.text import one_line

__all__ = [
    "EXAMPLES",
    "RESULT_CHANGED",
    "RESULT_FAILED",
    "RESULT_OK",
    "RESULT_UNSENT",
    "SYNC_MODES",
    "SYNC_WORDS",
    "Planner",
    "ScopeView",
    "RecordResult",
    "Scope",
    "SyncPlan",
    "changed_keys",
    "confirm_run",
    "key_index",
    "keys_with_result",
    "mode_problem",
    "parse_result_csv",
    "record_results",
    "resolve_mode",
    "row_digest",
]

EXAMPLES = 3  # addresses shown per kind
RESULT_OK, RESULT_FAILED, RESULT_UNSENT, RESULT_CHANGED = "成功", "失敗", "未送信", "変更あり"
FAILED_WORD = "失敗"
_SEP = "\x1f"


def resolve_mode(integration: Integration, override: str | None = None) -> str:
    """The mode of a run: the override (``run --sync``) or the integration's ``sync`` (default full)."""
    return override or getattr(integration, "sync", "") or "full"


def key_index(menu: Menu, database: Database) -> int | None:
    """Position of the e-mail column (the first field of type ``email``) among the menu's columns."""
    for i, fid in enumerate(menu.columns):
        f = database.field(fid)
        if f is not None and f.type == "email":
            return i
    return None


def mode_problem(mode: str, integration: Integration, menu: Menu, database: Database) -> str | None:
    """Why ``mode`` cannot be used for this integration on this menu, or None."""
    return sync_problem(mode, integration.params, has_key=key_index(menu, database) is not None, menu=menu.name)


def row_digest(row: Sequence[str]) -> bytes:
    """8 bytes that change when any cell of the row changes (blake2b over the cells as sent)."""
    return hashlib.blake2b(_SEP.join(row).encode("utf-8", "surrogatepass"), digest_size=8).digest()


def row_key(address: str) -> str:
    return address.strip().lower()


@dataclass(frozen=True)
class Scope:
    """What a sync is about: the integration, the menu, the conditions and search, and the gid/spid."""

    integration: str
    menu: str
    conditions: tuple[tuple[str, str, str], ...] = ()
    search: str = ""
    target: str = ""  # "gid=12" | "spid=7" | ""

    @classmethod
    def of(cls, integration: Integration, menu: Menu, conditions: Iterable, search: str) -> Scope:
        p = integration.params
        target = next((f"{k}={p[k]}" for k in ("gid", "spid") if str(p.get(k, "")).strip()), "")
        conds = tuple(sorted((c.field_id, c.op, c.value) for c in conditions))
        return cls(integration.name, menu.name, conds, search.strip(), target)

    def ident(self) -> str:
        return json.dumps(
            [self.integration, self.menu, [list(c) for c in self.conditions], self.search, self.target],
            ensure_ascii=False,
        )

    def describe(self) -> str:
        parts = [f"{f}{op}{v}" for f, op, v in self.conditions] + ([f"search:{self.search}"] if self.search else [])
        where = "; ".join(parts) or "all records"
        return f"{self.integration} / {self.menu} / {where}" + (f" / {self.target}" if self.target else "")


@dataclass
class SyncPlan:
    """What a run in a sync mode sends, keeps back and removes, and why."""

    mode: str  # full | changes | mirror | retry
    scope_id: int
    since_run: int | None = None
    new: int = 0
    changed: int = 0
    retried: int = 0
    unchanged: int = 0
    removed: int = 0
    examples: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in KINDS})
    removals: list[str] = field(default_factory=list)  # addresses a mirror run removes
    missing: list[str] = field(default_factory=list)  # retry-failed keys no longer in the database
    retry_of: int | None = None
    #: what was sent, for the state written after the run: (key, digest, address) per row
    sent: list[tuple[str, bytes, str]] = field(default_factory=list, repr=False)
    target: str = ""  # "gid=12" for the removal's wording
    key_label: str = ""  # the e-mail column's label (the CSV's and result.csv's key column)
    removal_of: int | None = None  # a mirror run's removal part: the run it belongs to

    @property
    def to_send(self) -> int:
        return self.new + self.changed + self.retried

    @property
    def nothing_to_send(self) -> bool:
        return self.mode != "full" and self.to_send == 0

    def counts(self) -> dict:
        """For the history (``runs.sync``) and ``history --json``."""
        out = {
            "mode": self.mode,
            "new": self.new,
            "changed": self.changed,
            "retried": self.retried,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "since_run": self.since_run,
        }
        out["scope"] = self.scope_id
        if self.removal_of is not None:
            out["removal_of"] = self.removal_of
        if self.retry_of is not None:
            out["retry_of"] = self.retry_of
            out["missing"] = len(self.missing)
        return out

    def nothing_changed(self) -> str:
        since = f"run #{self.since_run}" if self.since_run else "the last confirmed run"
        return f"nothing changed since {since}: {self.unchanged:,} unchanged row(s), nothing is sent"

    def describe(self) -> str:
        """Plain words: how many rows are new, changed, retried, unchanged (not sent) and removed, with examples."""

        def ex(kind: str) -> str:
            names = [one_line(a) for a in self.examples.get(kind, [])]
            return f" (e.g. {', '.join(names)})" if names else ""

        if self.mode == "retry":
            line = (
                f"retry of run #{self.retry_of}: {self.retried:,} row(s) HaiHai reported 失敗 are sent again"
                f"{ex('retried')}"
            )
            if self.missing:
                shown = ", ".join(one_line(a) for a in self.missing[:EXAMPLES])
                line += f"; {len(self.missing):,} are no longer in the database and are skipped ({shown})"
            return line
        if self.nothing_to_send and not self.removed:
            return self.nothing_changed()
        since = f" since run #{self.since_run}" if self.since_run else " (nothing confirmed before: every row is new)"
        head = {"full": "全件 full", "changes": "差分 changes", "mirror": "同期 mirror"}.get(self.mode, self.mode)
        parts = [
            f"{self.new:,} new{ex('new')}",
            f"{self.changed:,} changed{ex('changed')}",
            f"{self.retried:,} retried (HaiHai refused them last time){ex('retried')}",
            f"{self.unchanged:,} unchanged " + ("(not sent)" if self.mode != "full" else "(sent again)"),
        ]
        if self.mode == "mirror":
            where = f" from {target_words(self.target)}" if self.target else ""
            parts.append(f"{self.removed:,} to remove{where} (left the result){ex('removed')}")
        return f"{head}{since}: " + ", ".join(parts)


KINDS = ("new", "changed", "retried", "removed")


def target_words(target: str) -> str:
    """ "gid=12" -> "delivery group (gid) 12"; "spid=7" -> "step-mail plan (spid) 7"."""
    kind, _, value = target.partition("=")
    return {"gid": f"delivery group (gid) {value}", "spid": f"step-mail plan (spid) {value}"}.get(kind, target)


class ScopeView:
    """What a Planner needs of the confirmed state of one scope, read in bulk.

    ``digests``: the set of digests HaiHai confirmed in the scope (a row whose digest is in it is
    unchanged: the digest covers every cell, the e-mail among them); ``lookup(keys)`` -> key -> value
    as ``SyncStore.load_scope`` gives it, for the few rows that are not; ``removable()`` the keys a
    mirror run may remove (confirmed at some time in this scope)."""

    def __init__(self, store: SyncStore | None, integration: str, scope_id: int, values: dict | None = None):
        self.store, self.integration, self.scope_id = store, integration, scope_id
        self._values = values  # in-memory (tests, small scopes); else read from ``store``
        if values is not None:
            self.digests = {v for v in values.values() if len(v) == 8}
            self.empty = not values
        else:
            assert store is not None
            self.digests = store.scope_digests(integration, scope_id)
            self.empty = not self.digests and not store.scope_has_keys(integration, scope_id)

    def lookup(self, keys: Sequence[str]) -> dict[str, bytes]:
        if self.empty or not keys:
            return {}
        if self._values is not None:
            return {k: self._values[k] for k in keys if k in self._values}
        return self.store.scope_lookup(self.integration, self.scope_id, keys)  # type: ignore[union-attr]

    def removable(self) -> set[str]:
        if self._values is not None:
            return {k for k, v in self._values.items() if was_confirmed(v)}
        return self.store.scope_keys(self.integration, self.scope_id)  # type: ignore[union-attr]


CHUNK = 5000
_B8 = partial(hashlib.blake2b, digest_size=8)
_DIGEST = methodcaller("digest")


def _digests(chunk: list) -> list[bytes]:
    """row_digest of every row of ``chunk``, at C speed (map), the same bytes as row by row."""
    try:
        return list(map(_DIGEST, map(_B8, map(str.encode, map(_SEP.join, chunk)))))
    except (UnicodeEncodeError, TypeError):  # a lone surrogate, or a cell that is not text
        return [row_digest(tuple("" if c is None else str(c) for c in r)) for r in chunk]


def _keys(addresses: Iterable[str]) -> list[str]:
    return list(map(str.lower, map(str.strip, addresses)))


class Planner:
    """Decides what a run sends, chunk by chunk, while the rows stream into the CSV builder.

    Per chunk of rows: the digests at C speed, one set lookup each against the digests HaiHai confirmed
    in the scope; only the rows that miss (new, changed, refused: about 1% on a normal day) are looked up
    by key, in one query per chunk. ``retry`` (key -> address) restricts a retry-failed run."""

    def __init__(self, plan: SyncPlan, key_ix: int | None, view: ScopeView, retry: dict[str, str] | None = None):
        self.plan, self.key_ix, self.view, self.retry = plan, key_ix, view, retry
        self.seen: set[str] | None = set() if plan.mode in ("mirror", "retry") else None

    def rows(self, rows: Iterable[Sequence[str]]) -> Iterator[Sequence[str]]:
        """The rows to send, in order; counts, examples and what was sent are kept on the plan."""
        p, ix = self.plan, self.key_ix
        if ix is None:  # full mode on a menu without an e-mail column: nothing to key, nothing kept
            yield from rows
            return
        it, get_addr, known = iter(rows), itemgetter(ix), self.view.digests
        while chunk := list(islice(it, CHUNK)):
            addrs = list(map(get_addr, chunk))
            if self.retry is not None:
                yield from self._retry(chunk, addrs)
                continue
            if self.seen is not None:
                self.seen.update(_keys(addrs))
            ds = _digests(chunk)
            hits = list(map(known.__contains__, ds))
            misses = list(compress(range(len(chunk)), map(not_, hits)))
            p.unchanged += len(chunk) - len(misses)
            if p.mode == "full":
                p.sent.extend(zip(_keys(addrs), ds, addrs))
                self._classify(chunk, addrs, ds, misses, keep=False)
                yield from chunk
            else:
                yield from self._classify(chunk, addrs, ds, misses, keep=True)

    def _classify(self, chunk, addrs, ds, misses, keep: bool) -> list:
        """Count the rows at ``misses`` as new / changed / retried; return them (and keep them as sent)."""
        p, ex = self.plan, self.plan.examples
        keys = _keys(addrs[i] for i in misses)
        values = self.view.lookup(keys)
        out = []
        for i, key in zip(misses, keys):
            v = values.get(key)
            kind = "new" if v is None else "retried" if len(v) != 8 else "changed"
            setattr(p, kind, getattr(p, kind) + 1)
            if len(ex[kind]) < EXAMPLES:
                ex[kind].append(addrs[i])
            if keep:
                p.sent.append((key, ds[i], addrs[i]))
                out.append(chunk[i])
        return out

    def _retry(self, chunk, addrs) -> list:
        p, out = self.plan, []
        for row, key, addr in zip(chunk, _keys(addrs), addrs):
            if key in self.retry:  # type: ignore[operator]
                self.seen.add(key)  # type: ignore[union-attr]
                p.sent.append((key, row_digest(row), addr))
                p.retried += 1
                if len(p.examples["retried"]) < EXAMPLES:
                    p.examples["retried"].append(addr)
                out.append(row)
        return out

    def finish(self, addresses=None) -> SyncPlan:
        """Work out the removals (mirror) or the missing keys (retry) once every row was seen."""
        p = self.plan
        if p.mode == "mirror" and self.seen is not None:
            gone = sorted(self.view.removable() - self.seen)
            p.removals = addresses(gone) if addresses else gone
            p.removed = len(p.removals)
            p.examples["removed"] = p.removals[:EXAMPLES]
        if p.mode == "retry" and self.retry is not None and self.seen is not None:
            p.missing = sorted(a for k, a in self.retry.items() if k not in self.seen)
        return p


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
        cat, reason = row[0], row[1]
        prev = out.get(key)
        if prev is None or cat == FAILED_WORD:  # a duplicate that failed counts as failed
            out[key] = (cat, reason, row[at])
    return out


def confirm_run(
    store: SyncStore,
    run_id: int,
    integration: str,
    plan: SyncPlan,
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


def record_results(
    history_db: Path, integration: str, menu: Menu, database: Database, rows: Sequence[Sequence[str]]
) -> list[RecordResult]:
    """One result per row (cells in ``menu.columns`` order, as the record list pages them)."""
    ix = key_index(menu, database)
    if ix is None:
        return [RecordResult(RESULT_UNSENT)] * len(rows)
    keys = [row_key(r[ix]) for r in rows]
    found = SyncStore(history_db).lookup(integration, keys)
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
    return SyncStore(history_db).keys_with_state(integration, state)


def changed_keys(
    history_db: Path, integration: str, menu: Menu, database: Database, rows: Iterable[Sequence[str]]
) -> set[str]:
    """Keys among ``rows`` whose cells differ from what HaiHai confirmed (変更あり), in one pass by chunks."""
    ix = key_index(menu, database)
    if ix is None:
        return set()
    store = SyncStore(history_db)
    known = store.confirmed_digest_set(integration)
    out: set[str] = set()
    it, get_addr = iter(rows), itemgetter(ix)
    while chunk := list(islice(it, CHUNK)):
        ds = _digests(chunk)
        misses = list(compress(range(len(chunk)), map(not_, map(known.__contains__, ds))))
        if not misses:
            continue
        keys = _keys(get_addr(chunk[i]) for i in misses)
        found = store.lookup(integration, keys)
        out.update(k for k in keys if k in found and found[k].state == CONFIRMED and found[k].digest is not None)
    return out
