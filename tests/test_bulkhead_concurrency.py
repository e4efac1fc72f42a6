"""Bulkhead under load: exact telemetry under threads and tasks, nothing leaks on cancellation."""

from __future__ import annotations

import asyncio
import random
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from otel_resilience import Pipeline, semconv
from otel_resilience.bulkhead import Bulkhead
from otel_resilience.bulkhead._core import BulkheadCore, Waiter
from otel_resilience.errors import BulkheadFullError
from otel_resilience.testing import FakeClock, OTelCapture


def _sum(capture: OTelCapture, metric: str, **attrs: Any) -> int:
    return sum(p.value for p in capture.metric_points(metric, **attrs))


class _Peak:
    """Counts calls running at once, and the most ever seen."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now = 0
        self.peak = 0

    def enter(self) -> None:
        with self._lock:
            self.now += 1
            self.peak = max(self.peak, self.now)

    def exit(self) -> None:
        with self._lock:
            self.now -= 1


@pytest.fixture
def busy_switching() -> Iterator[None]:
    """Switch threads every microsecond, so that calls really overlap and contend."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


@pytest.mark.usefixtures("busy_switching")
def test_threads_telemetry_equals_ground_truth(otel_capture: OTelCapture) -> None:
    """8 threads x 2,000 calls: never more than max_concurrent run; counts match exactly."""
    bulkhead = Bulkhead(max_concurrent=3, max_queue=2, name="pool")
    pipeline = Pipeline("p", bulkhead, **otel_capture.providers)
    peak = _Peak()
    done = [0] * 8
    refused = [0] * 8

    def work() -> None:
        peak.enter()
        try:
            for _ in range(50):  # a little work, so that calls overlap
                pass
        finally:
            peak.exit()

    def worker(i: int) -> None:
        for _ in range(2000):
            try:
                pipeline.call(work)
                done[i] += 1
            except BulkheadFullError:
                refused[i] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(done) + sum(refused) == 16_000
    assert sum(refused) > 0  # the calls did contend: the refusal path ran
    assert peak.peak <= 3
    assert (bulkhead.active, bulkhead.queued) == (0, 0)
    assert _sum(otel_capture, semconv.METRIC_EVENTS, **{semconv.EVENT: "bulkhead_rejected"}) == (
        sum(refused)
    )
    spans = otel_capture.spans("p")
    outcomes = [s.attributes[semconv.OUTCOME] for s in spans]
    assert (outcomes.count("success"), outcomes.count("rejected")) == (sum(done), sum(refused))
    waited = [e for s in spans for e in s.events if e.name == semconv.SPAN_EVENT_BULKHEAD_QUEUED]
    assert waited  # and the queue path ran too
    name = {semconv.BULKHEAD_NAME: "pool"}
    assert _sum(otel_capture, semconv.METRIC_BULKHEAD_ACTIVE, **name) == 0
    assert _sum(otel_capture, semconv.METRIC_BULKHEAD_QUEUED, **name) == 0


def test_tasks_queue_up_and_all_run(otel_capture: OTelCapture) -> None:
    """500 tasks through 5 permits with room to queue: all run, at most 5 at once."""
    bulkhead = Bulkhead(max_concurrent=5, max_queue=500)
    pipeline = Pipeline("p", bulkhead, **otel_capture.providers)
    peak = _Peak()

    async def work(i: int) -> int:
        peak.enter()
        try:
            await asyncio.sleep(0)
            return i
        finally:
            peak.exit()

    async def main() -> list[int]:
        return await asyncio.gather(*(pipeline.acall(work, i) for i in range(500)))

    assert asyncio.run(main()) == list(range(500))
    assert peak.peak == 5
    queued = [
        e
        for s in otel_capture.spans("p")
        for e in s.events
        if e.name == semconv.SPAN_EVENT_BULKHEAD_QUEUED
    ]
    assert len(queued) == 495  # the first 5 found a free permit
    assert _sum(otel_capture, semconv.METRIC_BULKHEAD_QUEUED) == 0


def test_ten_thousand_random_cancellations_leak_nothing(otel_capture: OTelCapture) -> None:
    """Tasks cancelled at random points (running, queued, timing out) leave nothing behind."""
    rng = random.Random(20261202)
    clock = FakeClock(auto_advance=False)
    bulkhead = Bulkhead(max_concurrent=3, max_queue=40, queue_timeout=1.0)
    # Metrics only: spans would triple the run time and are checked elsewhere.
    pipeline = Pipeline("p", bulkhead, clock=clock, meter_provider=otel_capture.meter_provider)

    async def work(steps: int) -> None:
        for _ in range(steps):
            await asyncio.sleep(0)

    async def main() -> int:
        cancelled = 0
        while cancelled < 10_000:
            tasks = [
                asyncio.ensure_future(pipeline.acall(work, rng.randrange(4))) for _ in range(60)
            ]
            for _ in range(rng.randrange(6)):
                await asyncio.sleep(0)
            if rng.random() < 0.2:
                clock.advance(rng.choice((0.5, 1.0)))  # time out some waiters
            for task in rng.sample(tasks, rng.randrange(20, 60)):
                if task.cancel():
                    cancelled += 1
            await asyncio.gather(*tasks, return_exceptions=True)
            assert (bulkhead.active, bulkhead.queued) == (0, 0)
        return cancelled

    assert asyncio.run(main()) >= 10_000
    assert _sum(otel_capture, semconv.METRIC_BULKHEAD_ACTIVE) == 0
    assert _sum(otel_capture, semconv.METRIC_BULKHEAD_QUEUED) == 0
    assert clock._timers == []  # no queue_timeout timer left armed


def test_release_skips_a_waiter_that_cannot_be_woken() -> None:
    """A waiter whose event loop is gone is skipped: the permit goes to the next one."""
    core = BulkheadCore(1, 2)
    assert core.try_acquire()

    def dead() -> None:
        raise RuntimeError("Event loop is closed")

    woken: list[str] = []
    lost, alive = Waiter(dead), Waiter(lambda: woken.append("alive"))
    core.enqueue(lost)
    core.enqueue(alive)
    core.release()
    assert woken == ["alive"]
    assert (alive.granted, lost.granted) == (True, False)
    assert not core.leave(lost)  # already out of the queue: nothing to remove
    assert (core.active, core.queued) == (1, 0)
    core.release()
    assert core.active == 0


def test_cancelled_tasks_give_back_permit_and_queue_slot() -> None:
    """Cancelling a queued task frees its slot; cancelling a running one frees its permit."""
    bulkhead = Bulkhead(max_concurrent=1, max_queue=2)
    pipeline = Pipeline("p", bulkhead)

    async def main() -> list[Any]:
        hold = asyncio.Event()

        async def held() -> str:
            await hold.wait()
            return "held"

        async def quick() -> str:
            return "quick"

        running = asyncio.ensure_future(pipeline.acall(held))
        await asyncio.sleep(0)
        first = asyncio.ensure_future(pipeline.acall(quick))
        second = asyncio.ensure_future(pipeline.acall(quick))
        await asyncio.sleep(0)
        assert (bulkhead.active, bulkhead.queued) == (1, 2)
        first.cancel()
        await asyncio.sleep(0)
        assert bulkhead.queued == 1
        running.cancel()  # cancelled while running: its permit goes to the next waiter
        return await asyncio.gather(running, first, second, return_exceptions=True)

    running, first, second = asyncio.run(main())
    assert isinstance(running, asyncio.CancelledError)
    assert isinstance(first, asyncio.CancelledError)
    assert second == "quick"
    assert (bulkhead.active, bulkhead.queued) == (0, 0)
