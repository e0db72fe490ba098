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
- ``prepare(..., retry_run=RUN)``: exactly the rows HaiHai reported 失敗 in run RUN, current values
  (``SyncStore(paths.history_db).failures(RUN)`` lists them: key, address, reason; empty: nothing to
  retry, and prepare refuses saying so). ``plan.missing`` are the keys no longer in the database.
- ``prepare`` takes the integration's run lock (core/run/lock.py) and raises ``RunBusy`` (a
  ``RunRefused``) naming who holds it and since when; ``Prepared.discard()`` (which ``execute`` calls)
  lets it go. ``Prepared.total_requests`` counts a mirror run's removal request too.
- A run that sends nothing (``Prepared.nothing_to_send``) is still a run: ``execute`` records it 完了
  with 0 requests and the message "nothing changed since run #N", and says so in a ``LogLine`` and the
  ``StageChanged(Stage.DONE, ...)`` event. ``RunRecord.sync`` holds the mode and counts
  (``history_text.sync_words`` says them in words).
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

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import compress, islice
from operator import itemgetter, not_

from haihai_tui.core.run.syncresults import (
    RESULT_CHANGED,
    RESULT_FAILED,
    RESULT_OK,
    RESULT_UNSENT,
    RecordResult,
    changed_keys,
    confirm_run,
    keys_with_result,
    parse_result_csv,
    record_results,
)
from haihai_tui.core.run.syncstate import (
    CHUNK,
    SyncStore,
    key_index,
    row_digest,
    row_digests,
    row_keys,
    was_confirmed,
)
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


def resolve_mode(integration: Integration, override: str | None = None) -> str:
    """The mode of a run: the override (``run --sync``) or the integration's ``sync`` (default full)."""
    return override or getattr(integration, "sync", "") or "full"


def mode_problem(mode: str, integration: Integration, menu: Menu, database: Database) -> str | None:
    """Why ``mode`` cannot be used for this integration on this menu, or None."""
    return sync_problem(mode, integration.params, has_key=key_index(menu, database) is not None, menu=menu.name)


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
        ix = self.key_ix
        if ix is None:  # full mode on a menu without an e-mail column: nothing to key, nothing kept
            yield from rows
            return
        it, get_addr = iter(rows), itemgetter(ix)
        while chunk := list(islice(it, CHUNK)):
            yield from self.chunk(chunk, list(map(get_addr, chunk)))

    def chunk(self, chunk: list, addrs: list[str], ds: list[bytes] | None = None) -> list:
        """The items of ``chunk`` to send. Items are rows, or stand for rows (PostgreSQL's COPY lines,
        core/run/copyplan.py) when their addresses and ``row_digest``s are given."""
        p, known = self.plan, self.view.digests
        if self.retry is not None:
            return self._retry(chunk, addrs, ds)
        if self.seen is not None:
            self.seen.update(row_keys(addrs))
        if ds is None:
            ds = row_digests(chunk)
        hits = list(map(known.__contains__, ds))
        misses = list(compress(range(len(chunk)), map(not_, hits)))
        p.unchanged += len(chunk) - len(misses)
        if p.mode == "full":
            p.sent.extend(zip(row_keys(addrs), ds, addrs))
            self._classify(chunk, addrs, ds, misses, keep=False)
            return chunk
        return self._classify(chunk, addrs, ds, misses, keep=True)

    def _classify(self, chunk, addrs, ds, misses, keep: bool) -> list:
        """Count the rows at ``misses`` as new / changed / retried; return them (and keep them as sent)."""
        p, ex = self.plan, self.plan.examples
        keys = row_keys(addrs[i] for i in misses)
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

    def _retry(self, chunk, addrs, ds=None) -> list:
        p, out = self.plan, []
        for i, (row, key, addr) in enumerate(zip(chunk, row_keys(addrs), addrs)):
            if key in self.retry:  # type: ignore[operator]
                self.seen.add(key)  # type: ignore[union-attr]
                p.sent.append((key, row_digest(row) if ds is None else ds[i], addr))
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
