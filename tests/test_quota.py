"""The daily quota is reserved atomically when a run starts: runs at once never send more than it allows."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest

from haihai_tui.core.events import Outcome
from haihai_tui.core.run.execute import execute
from haihai_tui.core.run.history import History
from haihai_tui.core.run.prepare import RunRefused, Target, prepare
from haihai_tui.core.settings import store
from haihai_tui.core.settings.context import AppContext
from test_run import env, mock, received  # noqa: F401  (fixtures)

INTEG = "配配メール 顧客登録"


@pytest.fixture
def one_a_day(env):  # noqa: F811
    def quota(doc):
        doc["integrations"][0]["limits"]["daily_quota"] = 1

    store.update(env.db, quota)
    return AppContext(env)


def _prepared(ctx):
    p = prepare(ctx.settings, ctx.paths, Target("顧客一覧", INTEG), environ=ctx.environ)
    p.lock.release()  # as if several integrations shared the host's quota (one integration's lock refuses a second run)
    return p


def _run(ctx, prepared, cancel_first=False):
    async def go():
        cancel = asyncio.Event()
        if cancel_first:
            cancel.set()
        return await execute(
            prepared, ctx.paths, ctx.settings, executor=ctx.login, cancel=cancel, poll_interval=0.05, poll_timeout=5
        )

    return asyncio.run(go())


def test_three_runs_at_once_with_quota_one_send_one_request(one_a_day, mock):  # noqa: F811
    ctx = one_a_day
    # all three pass pre-flight while nothing is used yet: the race the quota check at prepare time loses
    prepared = [_prepared(ctx) for _ in range(3)]
    assert all(p.quota_left == 1 and not p.over_quota for p in prepared)
    gate = threading.Barrier(3)
    results: list[object] = []

    def one(p):
        gate.wait(timeout=20)
        try:
            results.append(_run(ctx, p).outcome)
        except RunRefused as e:
            results.append(str(e))

    threads = [threading.Thread(target=one, args=(p,)) for p in prepared]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(received(mock)) == 1
    assert results.count(Outcome.DONE) == 1
    refusals = [r for r in results if not isinstance(r, Outcome)]
    assert len(refusals) == 2 and all("daily quota" in r and "Nothing was sent" in r for r in refusals)
    h = History(ctx.paths.history_db)
    assert h.count() == 1 and h.used_today("127.0.0.1") == 1


def test_a_run_that_sent_nothing_releases_its_reservation(one_a_day, mock):  # noqa: F811
    ctx = one_a_day
    cancelled = _run(ctx, _prepared(ctx), cancel_first=True)
    assert cancelled.outcome is Outcome.CANCELLED and cancelled.requests == 0
    assert received(mock) == []
    assert History(ctx.paths.history_db).used_today("127.0.0.1") == 0
    assert _run(ctx, _prepared(ctx)).outcome is Outcome.DONE
    assert len(received(mock)) == 1
    with pytest.raises(RunRefused, match="daily quota"):
        _run(ctx, _prepared(ctx))
    assert len(received(mock)) == 1
    assert httpx.get(f"{mock.url}/_mock/requests").status_code == 200
