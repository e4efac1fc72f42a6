"""Every strategy that holds something, together: 10,000 seeded cancellations leak nothing."""

from __future__ import annotations

import asyncio
import logging
import random

import pytest

from otel_resilience import Pipeline, RejectedError, semconv
from otel_resilience.bulkhead import Bulkhead
from otel_resilience.cache import ResponseCache
from otel_resilience.hedging import Hedging
from otel_resilience.rate_limiter import RateLimiter
from otel_resilience.testing import FakeClock, OTelCapture
from tests.hedging_support import others

#: Batches end by advancing time; a leak that keeps a task alive fails here, not by hanging.
MAX_DRAIN_STEPS = 2_000


def _sum(capture: OTelCapture, metric: str) -> int:
    return sum(p.value for p in capture.metric_points(metric))


def test_ten_thousand_cancellations_across_all_strategies_leak_nothing(
    otel_capture: OTelCapture, caplog: pytest.LogCaptureFixture
) -> None:
    """Single-flight followers, hedges, rate-limiter waiters and bulkhead queues in one
    pipeline, cancelled at random points: no permit, queue slot, waiter, flight, timer or
    task is left, and asyncio logs nothing."""
    rng = random.Random(20261202)
    clock = FakeClock(auto_advance=False)
    cache = ResponseCache()
    limiter = RateLimiter(rate=40, burst=4, max_wait=0.5)
    bulkhead = Bulkhead(max_concurrent=2, max_queue=6, queue_timeout=0.5)
    pipeline = Pipeline(
        "p",
        cache,
        Hedging(max_hedges=1, delay=0.1),
        limiter,
        bulkhead,
        clock=clock,
        meter_provider=otel_capture.meter_provider,  # metrics only: spans would triple the time
    )
    seen = {"started": 0, "ended": 0, "cancelled": 0}
    outcomes = {"value": 0, "error": 0, "rejected": 0, "cancelled": 0}

    async def dep(key: int, delay: float) -> int:
        seen["started"] += 1
        try:
            await clock.asleep(delay)
        except asyncio.CancelledError:
            seen["cancelled"] += 1
            raise
        seen["ended"] += 1
        if rng.random() < 0.2:
            raise ConnectionError(key)
        return key

    async def batch() -> None:
        cache.invalidate_all()  # identical misses meet in flights again
        tasks = [
            asyncio.ensure_future(
                pipeline.acall(dep, rng.randrange(8), rng.choice((0.0, 0.05, 0.3, 1.0)))
            )
            for _ in range(rng.randint(4, 40))
        ]
        for _ in range(rng.randrange(12)):
            await asyncio.sleep(0)
            if rng.random() < 0.4:
                clock.advance(rng.choice((0.05, 0.1, 0.2, 0.6)))
            for task in tasks:
                if not task.done() and rng.random() < 0.15:
                    task.cancel()
        for _ in range(MAX_DRAIN_STEPS):  # the rest run to their end
            if all(task.done() for task in tasks):
                break
            clock.advance(0.1)
            await asyncio.sleep(0)
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for result in results:
            if isinstance(result, asyncio.CancelledError):
                outcomes["cancelled"] += 1
            elif isinstance(result, RejectedError):
                outcomes["rejected"] += 1
            elif isinstance(result, ConnectionError):
                outcomes["error"] += 1
            else:
                assert isinstance(result, int), result
                outcomes["value"] += 1
        # Nothing is held between batches.
        assert (bulkhead.active, bulkhead.queued) == (0, 0)
        assert limiter.waiting == 0
        assert (cache._core.in_flight(), cache._core.waiting()) == (0, 0)
        assert clock.parked == 0
        assert others() == set()

    async def main() -> None:
        while outcomes["cancelled"] < 10_000:
            await batch()

    with caplog.at_level(logging.ERROR, logger="asyncio"):
        asyncio.run(main())
    assert not [r for r in caplog.records if r.name == "asyncio"]
    assert min(outcomes.values()) > 100, outcomes  # every ending was exercised
    assert seen["cancelled"] > 100, seen  # dependency calls were cancelled mid-flight too
    assert seen["started"] == seen["ended"] + seen["cancelled"]
    assert _sum(otel_capture, semconv.METRIC_BULKHEAD_ACTIVE) == 0
    assert _sum(otel_capture, semconv.METRIC_BULKHEAD_QUEUED) == 0
    clock.advance(3600)
    assert limiter.available() == 4.0  # every reservation was given back or spent
