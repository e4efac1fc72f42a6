"""Timeout under threads and tasks: counts equal ground truth, nothing is left behind."""

from __future__ import annotations

import asyncio
import concurrent.futures
import random

from otel_resilience import Pipeline, deadline, semconv
from otel_resilience.errors import ResilienceTimeoutError
from otel_resilience.testing import FakeClock
from otel_resilience.timeout import Timeout

GUARD = 30.0  # real seconds: a bound against hangs only


def _timeouts(capture) -> int:
    points = capture.metric_points(
        semconv.METRIC_EVENTS,
        **{semconv.STRATEGY: semconv.STRATEGY_TIMEOUT, semconv.EVENT: semconv.EVENT_TIMEOUT},
    )
    return sum(p.value for p in points)


class _PerThreadTime:
    """Test-only clock: each thread has its own time, so threads cannot disturb each other."""

    def __init__(self) -> None:
        import threading

        self._local = threading.local()

    def monotonic(self) -> float:
        """This thread's time."""
        return getattr(self._local, "now", 0.0)

    def advance(self, seconds: float) -> None:
        """Move this thread's time."""
        self._local.now = self.monotonic() + seconds

    def sleep(self, seconds: float) -> None:
        """Advance this thread's time."""
        self.advance(seconds)

    async def asleep(self, seconds: float) -> None:
        """Advance this thread's time."""
        self.advance(seconds)


def test_threads_count_exactly_the_late_calls(otel_capture):
    """8 threads x 500 calls, some late: the timeout counter equals the late calls exactly."""
    clock = _PerThreadTime()
    pipeline = Pipeline("p", Timeout(seconds=1), clock=clock, **otel_capture.providers)

    def worker(seed: int) -> tuple[int, int]:
        rng = random.Random(seed)
        late = raised = 0
        for _ in range(500):
            takes = rng.choice((0.5, 2.0))
            late += takes > 1

            def dep(takes: float = takes) -> str:
                clock.advance(takes)
                return "ok"

            try:
                pipeline.call(dep)
            except ResilienceTimeoutError:
                raised += 1
        return late, raised

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(worker, range(8), timeout=GUARD))
    late = sum(r[0] for r in results)
    assert late == sum(r[1] for r in results)
    assert _timeouts(otel_capture) == late
    spans = otel_capture.spans("p")
    assert len(spans) == 8 * 500
    failed = [s for s in spans if s.attributes[semconv.OUTCOME] == semconv.OUTCOME_FAILURE]
    assert len(failed) == late


def test_tasks_count_exactly_the_cancelled_calls(otel_capture):
    """500 tasks, some sleeping past the bound: exactly those time out, no timer is left."""
    clock = FakeClock(auto_advance=False)
    pipeline = Pipeline("p", Timeout(seconds=1), clock=clock, **otel_capture.providers)
    rng = random.Random(7)
    durations = [rng.choice((0.5, 2.0)) for _ in range(500)]

    async def dep(takes: float) -> float | None:
        await clock.asleep(takes)
        return deadline.remaining()

    async def main() -> list[object]:
        tasks = [asyncio.create_task(pipeline.acall(dep, d)) for d in durations]
        await clock.wait_for_sleepers_async(500, timeout=GUARD)
        clock.advance(0.5)  # the short calls end in time...
        await _settle()
        clock.advance(2.5)  # ...the long ones are cancelled at 1.0
        return await asyncio.gather(*tasks, return_exceptions=True)

    results = asyncio.run(main())
    late = sum(d > 1 for d in durations)
    timed_out = [r for r in results if isinstance(r, ResilienceTimeoutError)]
    assert len(timed_out) == late
    assert [r for r in results if not isinstance(r, ResilienceTimeoutError)] == [0.5] * (500 - late)
    assert _timeouts(otel_capture) == late
    assert clock.parked == 0


async def _settle() -> None:
    """Let every ready task run until it parks again or ends."""
    for _ in range(5):
        await asyncio.sleep(0)


def test_seeded_cancellations_leave_no_deadline_nor_timer():
    """Seeded random cancellations of timed calls leave no deadline and no pending timer."""
    clock = FakeClock(auto_advance=False)
    pipeline = Pipeline("p", Timeout(seconds=5), clock=clock)
    rng = random.Random(1234)

    async def dep() -> None:
        await clock.asleep(rng.choice((1.0, 10.0)))

    async def main() -> tuple[int, int]:
        cancelled = 0
        for _ in range(200):
            tasks = [asyncio.create_task(pipeline.acall(dep)) for _ in range(10)]
            await clock.wait_for_sleepers_async(10, timeout=GUARD)
            victims = rng.sample(tasks, rng.randint(0, 10))
            for t in victims:
                t.cancel()
            clock.advance(rng.choice((0.5, 2.0, 6.0)))
            await _settle()
            clock.advance(20.0)  # every survivor ends (in time or by its timeout)
            results = await asyncio.gather(*tasks, return_exceptions=True)
            cancelled += sum(isinstance(r, asyncio.CancelledError) for r in results)
        return cancelled, clock.parked

    cancelled, parked = asyncio.run(main())
    assert cancelled > 0
    assert parked == 0
    assert not clock._timers  # no timeout timer left armed
    assert deadline.remaining() is None
