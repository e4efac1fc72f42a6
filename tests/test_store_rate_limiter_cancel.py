"""A fleet RateLimiter (RedisStateStore, real redis-server) gives a waiter's permit back when
the waiter is cancelled, like the local bucket: only if nobody was admitted after it."""

from __future__ import annotations

import asyncio

import pytest

from otel_resilience import Pipeline, RateLimitedError, RateLimiter
from otel_resilience.store import RedisStateStore, _gcra
from otel_resilience.testing import FakeClock
from tests import store_support

# Fixture of the real redis-server.
redis_server = store_support.redis_server

STEP = 10.0  # seconds per permit: no real time passes between the steps of a test


def _limiter(store: RedisStateStore) -> RateLimiter:
    return RateLimiter(name="api", rate=1, per=STEP, burst=1, max_wait=5 * STEP, store=store)


def _retry_after(store: RedisStateStore) -> float:
    """What another process is told now: seconds until the fleet's next permit."""
    probe = Pipeline("probe", RateLimiter(name="api", rate=1, per=STEP, burst=1, store=store))
    with pytest.raises(RateLimitedError) as refused:
        probe.call(lambda: None)
    return refused.value.retry_after


async def _one() -> str:
    return "ok"


def test_cancelled_async_waiter_gives_its_permit_back(redis_server):
    """A task cancelled while waiting for its fleet permit returns it: the fleet's next permit
    is one interval away again, not two (it stayed spent before)."""
    store, other = RedisStateStore(redis_server.url), RedisStateStore(redis_server.url)
    clock = FakeClock(auto_advance=False)
    pipeline = Pipeline("cancel", _limiter(store), clock=clock)

    async def main() -> None:
        assert await pipeline.acall(_one) == "ok"  # the burst
        waiter = asyncio.ensure_future(pipeline.acall(_one))
        await clock.wait_for_sleepers_async(1)
        assert STEP < _retry_after(other) <= 2 * STEP  # reserved on the server
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        await asyncio.gather(*_gcra._RELEASING)

    asyncio.run(main())
    assert 0 < _retry_after(other) <= STEP
    store.close()
    other.close()


def test_interrupted_sync_waiter_gives_its_permit_back(redis_server):
    """KeyboardInterrupt during a sync wait for a fleet permit returns the permit."""

    class Interrupting(FakeClock):
        def sleep(self, seconds: float) -> None:
            raise KeyboardInterrupt

    store, other = RedisStateStore(redis_server.url), RedisStateStore(redis_server.url)
    pipeline = Pipeline("interrupt", _limiter(store), clock=Interrupting())
    assert pipeline.call(lambda: "ok") == "ok"
    with pytest.raises(KeyboardInterrupt):
        pipeline.call(lambda: "never")
    assert 0 < _retry_after(other) <= STEP
    store.close()
    other.close()


def test_only_the_latest_reservation_is_given_back(redis_server):
    """Two waiters: cancelling the first leaves its slot spent (the second was admitted after
    it); cancelling the second then returns one interval."""
    store, other = RedisStateStore(redis_server.url), RedisStateStore(redis_server.url)
    clock = FakeClock(auto_advance=False)
    pipeline = Pipeline("two", _limiter(store), clock=clock)

    async def main() -> None:
        await pipeline.acall(_one)
        first = asyncio.ensure_future(pipeline.acall(_one))
        await clock.wait_for_sleepers_async(1)
        second = asyncio.ensure_future(pipeline.acall(_one))
        await clock.wait_for_sleepers_async(2)
        first.cancel()
        await asyncio.gather(first, return_exceptions=True)
        await asyncio.gather(*_gcra._RELEASING)
        assert 2 * STEP < _retry_after(other) <= 3 * STEP  # still both slots spent
        second.cancel()
        await asyncio.gather(second, return_exceptions=True)
        await asyncio.gather(*_gcra._RELEASING)

    asyncio.run(main())
    assert STEP < _retry_after(other) <= 2 * STEP  # the first's slot stays spent
    store.close()
    other.close()


def test_give_back_skipped_when_the_store_is_down(redis_server):
    """A waiter cancelled after Redis died: the cancellation goes through, nothing raises."""
    store = RedisStateStore(redis_server.url, backoff=60.0, max_backoff=60.0)
    clock = FakeClock(auto_advance=False)
    pipeline = Pipeline("down", _limiter(store), clock=clock)

    async def main() -> None:
        await pipeline.acall(_one)
        waiter = asyncio.ensure_future(pipeline.acall(_one))
        await clock.wait_for_sleepers_async(1)
        redis_server.kill()
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert await asyncio.gather(*_gcra._RELEASING) == [False]

    asyncio.run(main())
    assert store.connected is False
    store.close()
