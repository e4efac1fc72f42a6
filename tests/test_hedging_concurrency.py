"""Hedging under load: exact telemetry with 500 tasks; seeded random cancellations leak nothing."""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

import pytest

from otel_resilience import Pipeline, semconv
from otel_resilience.hedging import Hedging
from otel_resilience.testing import FakeClock, OTelCapture
from tests.hedging_support import Script, others


def test_500_tasks_count_exactly(otel_capture: OTelCapture) -> None:
    """Every third call's first attempt fails and is hedged at once: the hedge counter, the
    span events and resilience.attempts equal what the dependency saw."""
    clock = FakeClock(auto_advance=False)  # the delay never runs out: only failures hedge
    pipeline = Pipeline("p", Hedging(delay=1.0), clock=clock, **otel_capture.providers)
    seen: dict[int, int] = {}

    async def dep(k: int) -> int:
        seen[k] = seen.get(k, 0) + 1
        await asyncio.sleep(0)
        if k % 3 == 0 and seen[k] == 1:
            raise ConnectionError(k)
        return k

    async def main() -> Any:
        results = await asyncio.gather(*(pipeline.acall(dep, k) for k in range(500)))
        return results, others()

    results, left = asyncio.run(main())
    assert results == list(range(500))
    assert left == set()
    hedged = sum(1 for k in range(500) if k % 3 == 0)
    assert sum(seen.values()) == 500 + hedged
    spans = otel_capture.spans("p")
    assert len(spans) == 500
    assert sum(s.attributes[semconv.ATTEMPTS] for s in spans) == 500 + hedged
    events = sum(1 for s in spans for e in s.events if e.name == semconv.SPAN_EVENT_HEDGE)
    assert events == hedged
    points = otel_capture.metric_points(
        semconv.METRIC_EVENTS, **{semconv.EVENT: semconv.EVENT_HEDGE}
    )
    assert sum(p.value for p in points) == hedged
    assert clock.parked == 0


def _plan(rng: random.Random) -> list[tuple[float, Any]]:
    """Three attempts, each quick or slow, each answering or failing."""
    return [
        (rng.choice((0.0, 0.05, 0.2, 1.0)), rng.choice(("ok", ConnectionError("x"))))
        for _ in range(3)
    ]


def test_seeded_random_cancellations_leak_nothing(caplog: pytest.LogCaptureFixture) -> None:
    """10,000 calls cancelled at random points (before, between and during hedges) leave no
    task, no timer and no parked sleeper behind, and asyncio logs no destroyed task."""
    rng = random.Random(7)
    outcomes = {"ok": 0, "error": 0, "cancelled": 0}

    async def one() -> None:
        clock = FakeClock(auto_advance=False)
        script = Script(clock, *_plan(rng))
        pipeline = Pipeline("p", Hedging(max_hedges=2, delay=0.1), clock=clock)
        call = asyncio.ensure_future(pipeline.acall(script))
        for _ in range(rng.randrange(40)):
            await asyncio.sleep(0)
            if rng.random() < 0.3:
                clock.advance(rng.choice((0.05, 0.1, 0.2)))
        call.cancel()
        try:
            await call
            outcomes["ok"] += 1
        except asyncio.CancelledError:
            outcomes["cancelled"] += 1
        except ConnectionError:
            outcomes["error"] += 1
        assert others() == set()
        assert clock.parked == 0
        assert sorted(script.cancelled + script.finished) == script.started

    async def main() -> None:
        for _ in range(10_000):
            await one()

    with caplog.at_level(logging.ERROR, logger="asyncio"):
        asyncio.run(main())
    assert not [r for r in caplog.records if r.name == "asyncio"]
    assert min(outcomes.values()) > 100, outcomes  # every path was exercised
