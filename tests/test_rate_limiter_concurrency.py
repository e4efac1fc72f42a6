"""RateLimiter under threads and tasks: exact admissions, FIFO waiters, no leak on cancel."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from typing import Any

from otel_resilience import Pipeline, semconv
from otel_resilience.errors import RateLimitedError
from otel_resilience.rate_limiter import RateLimiter
from otel_resilience.testing import FakeClock


def _hammer(pipeline: Pipeline, threads: int, calls: int) -> tuple[int, int]:
    """``threads`` threads making ``calls`` calls each: (admitted, refused)."""
    admitted, refused = [0] * threads, [0] * threads
    barrier = threading.Barrier(threads)

    def worker(i: int) -> None:
        barrier.wait()
        for _ in range(calls):
            try:
                pipeline.call(lambda: None)
                admitted[i] += 1
            except RateLimitedError:
                refused[i] += 1

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=60)
    return sum(admitted), sum(refused)


def test_threads_get_exactly_the_permits_and_telemetry_counts_them(otel_capture):
    """8 threads x 1,000 calls, twice, clock frozen: exactly burst, then the refill, admitted."""
    clock = FakeClock()
    pipeline = Pipeline(
        "p",
        RateLimiter(rate=10_000, burst=5_000),
        clock=clock,
        meter_provider=otel_capture.meter_provider,
    )
    assert _hammer(pipeline, 8, 1000) == (5_000, 3_000)
    clock.advance(0.37)  # 3,700 permits
    assert _hammer(pipeline, 8, 1000) == (3_700, 4_300)
    points = otel_capture.metric_points(
        semconv.METRIC_EVENTS, **{semconv.EVENT: semconv.EVENT_RATE_LIMITED}
    )
    assert sum(p.value for p in points) == 3_000 + 4_300
    outcomes = otel_capture.metric_points(semconv.METRIC_PIPELINE_DURATION)
    by_outcome = {p.attributes[semconv.OUTCOME]: p.count for p in outcomes}
    assert by_outcome == {"success": 8_700, "rejected": 7_300}


def test_tasks_get_exactly_the_permits():
    """500 tasks on a frozen clock: exactly burst admitted."""
    clock = FakeClock()
    pipeline = Pipeline("p", RateLimiter(rate=10, burst=7), clock=clock)

    async def one() -> int:
        return 1

    async def main() -> list[Any]:
        return await asyncio.gather(
            *(pipeline.acall(one) for _ in range(500)), return_exceptions=True
        )

    results = asyncio.run(main())
    assert results.count(1) == 7
    assert sum(isinstance(r, RateLimitedError) for r in results) == 493


def test_waiting_threads_hold_distinct_slots():
    """Threads that wait are given one slot each, 1/rate apart: none shares or skips one."""
    clock = FakeClock(auto_advance=False)
    limiter = RateLimiter(rate=1, burst=1, max_wait=100)
    pipeline = Pipeline("p", limiter, clock=clock)
    pipeline.call(lambda: None)
    done: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        pipeline.call(lambda: done.append(clock.monotonic()))

    pool = [threading.Thread(target=worker) for _ in range(7)]
    for t in pool:
        t.start()
    clock.wait_for_sleepers(7)
    assert sorted(clock.sleeps) == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    with lock:
        assert done == []
    clock.advance(3.0)  # slots 1, 2 and 3 are due, not 4
    clock.wait_for_sleepers(0)
    assert clock.parked == 4
    clock.advance(4.0)
    for t in pool:
        t.join(timeout=10)
    assert len(done) == 7
    assert limiter.waiting == 0


def test_waiters_are_served_first_come_first_served():
    """Tasks are admitted in arrival order, and a newcomer cannot overtake a waiter."""
    clock = FakeClock(auto_advance=False)
    limiter = RateLimiter(rate=1, burst=1, max_wait=100)
    pipeline = Pipeline("p", limiter, clock=clock)
    order: list[int] = []

    async def job(i: int) -> None:
        order.append(i)

    async def main() -> None:
        await pipeline.acall(job, 0)
        tasks = [asyncio.ensure_future(pipeline.acall(job, i)) for i in range(1, 6)]
        await clock.wait_for_sleepers_async(5)
        clock.advance(1.0)  # the first waiter's slot; the bucket is empty again
        while order != [0, 1]:
            await asyncio.sleep(0)
        newcomer = asyncio.ensure_future(pipeline.acall(job, 99))
        await clock.wait_for_sleepers_async(5)
        assert clock.sleeps[-1] == 5.0  # queued behind the four waiters still parked
        clock.advance(5.0)
        await asyncio.gather(*tasks, newcomer)

    asyncio.run(main())
    assert order == [0, 1, 2, 3, 4, 5, 99]


def test_random_cancellations_leak_nothing():
    """10,000 seeded random cancellations of waiting tasks: no waiter, timer or permit leaks."""
    rng = random.Random(7)
    clock = FakeClock(auto_advance=False)
    limiter = RateLimiter(rate=50, burst=5, max_wait=1.0)
    pipeline = Pipeline("p", limiter, clock=clock)
    admitted: list[float] = []
    cancelled = 0

    async def job() -> None:
        admitted.append(clock.monotonic())

    async def main() -> None:
        nonlocal cancelled
        while cancelled < 10_000:
            tasks = [asyncio.ensure_future(pipeline.acall(job)) for _ in range(rng.randint(1, 40))]
            await asyncio.sleep(0)  # every task has now been admitted, refused or parked
            for _ in range(2):  # cancel while parked, then again after time moved
                for task in tasks:
                    if not task.done() and rng.random() < 0.4:
                        task.cancel()
                clock.advance(rng.choice((0.0, 0.01, 0.05, 0.3)))
                await asyncio.sleep(0)
            while not all(task.done() for task in tasks):  # let the rest through
                clock.advance(0.1)
                await asyncio.sleep(0)
            results = await asyncio.gather(*tasks, return_exceptions=True)
            cancelled += sum(isinstance(r, asyncio.CancelledError) for r in results)
            assert all(
                r is None or isinstance(r, RateLimitedError)
                for r in results
                if not isinstance(r, asyncio.CancelledError)
            )

    asyncio.run(main())
    assert limiter.waiting == 0
    assert clock.parked == 0
    clock.advance(3600)
    assert limiter.available() == 5.0
    # The rate bound held over the whole run: burst + rate * elapsed.
    assert len(admitted) <= 5 + 50 * clock.monotonic()
    for start in admitted[:: max(1, len(admitted) // 200)]:
        window = [t for t in admitted if start <= t < start + 1.0]
        assert len(window) <= 5 + 50


class _Switching(float):
    """A time whose arithmetic hands the GIL to another thread: the bucket's read-modify-write
    of its tokens then really interleaves, as it would without a GIL."""

    def _switch(self) -> None:
        time.sleep(0.0001)

    def __sub__(self, other: float) -> float:
        self._switch()
        return float(self) - other

    def __le__(self, other: float) -> bool:
        self._switch()
        return float(self) <= other


class _SwitchingClock:
    """A clock that moves by a microsecond per read and returns switching times."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._now = 0.0

    def monotonic(self) -> float:
        with self._lock:
            self._now += 1e-6
            return _Switching(self._now)

    def sleep(self, seconds: float) -> None:
        raise AssertionError("max_wait=0: nothing sleeps")

    async def asleep(self, seconds: float) -> None:
        raise AssertionError("max_wait=0: nothing sleeps")


def test_threads_interleaving_inside_the_bucket_still_get_exactly_the_permits():
    """8 threads whose reads of time switch threads mid-update take exactly the burst."""
    limiter = RateLimiter(rate=1, per=600_000, burst=40)  # refills nothing during the test
    pipeline = Pipeline("p", limiter, clock=_SwitchingClock())
    admitted = [0] * 8
    start = threading.Barrier(8)

    def worker(i: int) -> None:
        start.wait()
        for _ in range(30):
            try:
                pipeline.call(lambda: None)
            except RateLimitedError:
                continue
            admitted[i] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert sum(admitted) == 40
