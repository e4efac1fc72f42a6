"""ResponseCache single-flight: identical concurrent misses call once, threads and tasks alike."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from otel_resilience import Pipeline, semconv
from otel_resilience.cache import ResponseCache
from otel_resilience.testing import FakeClock

GUARD = 10.0  # real seconds: only a bound against hangs, never a timing assumption


def until(condition: Callable[[], bool]) -> None:
    """Wait (real time, bounded) for another thread to reach a state."""
    end = time.monotonic() + GUARD
    while not condition():
        assert time.monotonic() < end, "condition not reached"
        time.sleep(0.001)


async def auntil(condition: Callable[[], bool]) -> None:
    """Let the loop run (bounded) until ``condition`` holds."""
    end = time.monotonic() + GUARD
    while not condition():
        assert time.monotonic() < end, "condition not reached"
        await asyncio.sleep(0)


def in_threads(n: int, target: Callable[[], Any]) -> tuple[list[Any], list[threading.Thread]]:
    """Start ``n`` threads running ``target``; their outcomes land in the returned list."""
    out: list[Any] = []

    def body() -> None:
        try:
            out.append(target())
        except BaseException as exc:
            out.append(exc)

    threads = [threading.Thread(target=body) for _ in range(n)]
    for t in threads:
        t.start()
    return out, threads


def join(threads: list[threading.Thread]) -> None:
    for t in threads:
        t.join(GUARD)
        assert not t.is_alive()


def test_threads_share_one_call_and_its_result():
    """A thread leads; 7 identical misses wait for it and get its result; one dependency call."""
    clock = FakeClock(auto_advance=False)
    cache = ResponseCache()
    pipeline = Pipeline("svc", cache, clock=clock)
    calls = []

    def dep() -> str:
        calls.append(1)
        clock.sleep(1)
        return "v"

    lead, t1 = in_threads(1, lambda: pipeline.call(dep))
    clock.wait_for_sleepers(1)
    rest, t2 = in_threads(7, lambda: pipeline.call(dep))
    until(lambda: cache._core.joined() == 7)
    clock.advance(1)
    join(t1 + t2)
    assert lead + rest == ["v"] * 8
    assert len(calls) == 1
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.sets) == (7, 1, 1)
    assert cache._core.in_flight() == 0


def test_threads_share_the_error():
    """When the shared call fails, every waiting thread gets its error; nothing is stored."""
    clock = FakeClock(auto_advance=False)
    cache = ResponseCache()
    pipeline = Pipeline("svc", cache, clock=clock)
    boom = ConnectionError("down")
    calls = []

    def dep() -> str:
        calls.append(1)
        clock.sleep(1)
        raise boom

    lead, t1 = in_threads(1, lambda: pipeline.call(dep))
    clock.wait_for_sleepers(1)
    rest, t2 = in_threads(4, lambda: pipeline.call(dep))
    until(lambda: cache._core.joined() == 4)
    clock.advance(1)
    join(t1 + t2)
    assert all(r is boom for r in lead + rest)
    assert len(calls) == 1
    assert (cache.stats().misses, cache.stats().sets) == (5, 0)


def test_an_interrupted_leader_hands_over():
    """A leader leaving with a BaseException wakes the waiters; one of them calls again."""
    clock = FakeClock(auto_advance=False)
    cache = ResponseCache()
    pipeline = Pipeline("svc", cache, clock=clock)
    calls = []

    class Interrupt(BaseException):
        pass

    def dep() -> str:
        calls.append(1)
        clock.sleep(1)
        if len(calls) == 1:
            raise Interrupt
        return "v"

    lead, t1 = in_threads(1, lambda: pipeline.call(dep))
    clock.wait_for_sleepers(1)
    rest, t2 = in_threads(3, lambda: pipeline.call(dep))
    until(lambda: cache._core.joined() == 3)
    clock.advance(1)  # the leader is interrupted; a waiter leads and parks
    join(t1)
    clock.wait_for_sleepers(1)
    clock.advance(1)
    join(t2)
    assert isinstance(lead[0], Interrupt)
    assert rest == ["v"] * 3
    assert len(calls) == 2
    assert cache._core.in_flight() == 0


def test_tasks_share_one_call():
    """500 identical tasks: one dependency call, 499 waiters served by it."""
    clock = FakeClock(auto_advance=False)
    cache = ResponseCache()
    pipeline = Pipeline("svc", cache, clock=clock)
    calls = []

    async def dep() -> str:
        calls.append(1)
        await clock.asleep(1)
        return "v"

    async def main() -> list[Any]:
        tasks = [asyncio.ensure_future(pipeline.acall(dep)) for _ in range(500)]
        await clock.wait_for_sleepers_async(1)
        await auntil(lambda: cache._core.waiting() == 499)
        clock.advance(1)
        return await asyncio.gather(*tasks)

    assert asyncio.run(main()) == ["v"] * 500
    assert len(calls) == 1
    assert (cache.stats().hits, cache.stats().misses) == (499, 1)


def test_threads_wait_for_a_task():
    """A sync caller in another thread joins a flight led by an asyncio task."""
    clock = FakeClock(auto_advance=False)
    cache = ResponseCache(key=lambda: "k")
    pipeline = Pipeline("svc", cache, clock=clock)

    async def adep() -> str:
        await clock.asleep(1)
        return "async"

    def dep() -> str:
        return "sync"

    async def main() -> tuple[str, list[Any]]:
        task = asyncio.ensure_future(pipeline.acall(adep))
        await clock.wait_for_sleepers_async(1)
        out, threads = in_threads(2, lambda: pipeline.call(dep))
        await auntil(lambda: cache._core.joined() == 2)
        clock.advance(1)
        result = await task
        await asyncio.to_thread(join, threads)
        return result, out

    assert asyncio.run(main()) == ("async", ["async", "async"])


def test_sync_call_in_the_leading_loop_does_not_deadlock():
    """A sync call made inside the loop of the task leading its key bypasses the cache."""
    clock = FakeClock(auto_advance=False)
    cache = ResponseCache(key=lambda: "k")
    pipeline = Pipeline("svc", cache, clock=clock)

    async def adep() -> str:
        await clock.asleep(1)
        return "async"

    async def main() -> tuple[str, str]:
        task = asyncio.ensure_future(pipeline.acall(adep))
        await clock.wait_for_sleepers_async(1)
        inline = pipeline.call(lambda: "inline")  # would block the loop the leader needs
        clock.advance(1)
        return inline, await task

    box: list[Any] = []
    thread = threading.Thread(target=lambda: box.append(asyncio.run(main())))
    thread.start()
    thread.join(GUARD)
    assert not thread.is_alive()
    assert box == [("inline", "async")]


def test_a_cancelled_task_leader_hands_over():
    """Cancelling the leading task wakes the waiters; one of them calls again."""
    clock = FakeClock(auto_advance=False)
    cache = ResponseCache()
    pipeline = Pipeline("svc", cache, clock=clock)
    calls = []

    async def dep() -> str:
        calls.append(1)
        await clock.asleep(1)
        return "v"

    async def main() -> list[Any]:
        tasks = [asyncio.ensure_future(pipeline.acall(dep)) for _ in range(4)]
        await clock.wait_for_sleepers_async(1)
        await auntil(lambda: cache._core.waiting() == 3)
        tasks[0].cancel()
        await clock.wait_for_sleepers_async(1)
        await auntil(lambda: len(calls) == 2)
        clock.advance(1)
        return await asyncio.gather(*tasks, return_exceptions=True)

    results = asyncio.run(main())
    assert isinstance(results[0], asyncio.CancelledError)
    assert results[1:] == ["v"] * 3
    assert len(calls) == 2
    assert (cache._core.in_flight(), cache._core.waiting()) == (0, 0)


def test_a_cancelled_waiter_leaves_the_flight():
    """A waiting task that is cancelled is forgotten at once, while the call goes on."""
    clock = FakeClock(auto_advance=False)
    cache = ResponseCache()
    pipeline = Pipeline("svc", cache, clock=clock)

    async def dep() -> str:
        await clock.asleep(1)
        return "v"

    async def main() -> list[Any]:
        tasks = [asyncio.ensure_future(pipeline.acall(dep)) for _ in range(3)]
        await clock.wait_for_sleepers_async(1)
        await auntil(lambda: cache._core.waiting() == 2)
        tasks[1].cancel()
        await auntil(tasks[1].done)
        assert (cache._core.waiting(), cache._core.in_flight()) == (1, 1)
        clock.advance(1)
        return await asyncio.gather(*tasks, return_exceptions=True)

    results = asyncio.run(main())
    assert results[0] == results[2] == "v"
    assert isinstance(results[1], asyncio.CancelledError)


def test_random_cancellations_leak_nothing():
    """10,000 seeded random cancellations of leaders and waiters: no flight or waiter is left."""
    rng = random.Random(7)
    clock = FakeClock(auto_advance=False)
    cache = ResponseCache(max_size=2)  # small: entries get evicted, keys miss again
    pipeline = Pipeline("svc", cache, clock=clock)

    async def dep(key: int) -> int:
        await clock.asleep(1)
        return key * 10

    async def main() -> int:
        cancelled = 0
        while cancelled < 10_000:
            tasks = [
                asyncio.ensure_future(pipeline.acall(dep, rng.randrange(4))) for _ in range(16)
            ]
            for _ in range(rng.randrange(3)):
                await asyncio.sleep(0)
            for _ in range(20):
                for t in tasks:
                    if not t.done() and rng.random() < 0.3 and t.cancel():
                        cancelled += 1
                await asyncio.sleep(0)
                clock.advance(rng.choice((0.0, 0.5, 1.0)))
                await asyncio.sleep(0)
                if all(t.done() for t in tasks):
                    break
            while not all(t.done() for t in tasks):  # finish the round
                clock.advance(1)
                await asyncio.sleep(0)
            results = await asyncio.gather(*tasks, return_exceptions=True)
            for task, result in zip(tasks, results, strict=True):
                if not task.cancelled():
                    assert result % 10 == 0
            assert (cache._core.in_flight(), cache._core.waiting(), clock.parked) == (0, 0, 0)
        return cancelled

    assert asyncio.run(main()) >= 10_000


@pytest.mark.parametrize("mode", ["threads", "tasks"])
def test_counts_equal_ground_truth(mode, otel_capture):
    """Under threads (8 x 2,000) and tasks (500), counters match stats and dependency calls."""
    cache = ResponseCache(key=lambda k: k)
    pipeline = Pipeline("svc", cache, meter_provider=otel_capture.meter_provider)
    calls: list[int] = []
    lock = threading.Lock()

    def dep(k: int) -> int:
        with lock:
            calls.append(k)
        return k

    async def adep(k: int) -> int:
        calls.append(k)
        await asyncio.sleep(0)
        return k

    if mode == "threads":
        total = 8 * 2000

        def worker(seed: int) -> None:
            rng = random.Random(seed)
            for _ in range(2000):
                k = rng.randrange(50)
                assert pipeline.call(dep, k) == k

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        join(threads)
    else:
        total = 500

        async def main() -> None:
            keys = [i % 50 for i in range(total)]
            assert await asyncio.gather(*(pipeline.acall(adep, k) for k in keys)) == keys

        asyncio.run(main())

    stats = cache.stats()
    assert sorted(calls) == sorted(set(calls))  # single-flight: each key reached once
    assert stats.misses == len(calls) == 50
    assert stats.hits == total - 50

    def counted(event: str) -> int:
        points = otel_capture.metric_points(semconv.METRIC_EVENTS, **{semconv.EVENT: event})
        return sum(p.value for p in points)

    assert counted(semconv.EVENT_CACHE_HIT) == stats.hits
    assert counted(semconv.EVENT_CACHE_MISS) == stats.misses


def test_waiters_share_a_stale_answer(otel_capture):
    """When the shared call fails and a stale entry answers, every waiter gets it as stale."""
    clock = FakeClock(auto_advance=False)
    cache = ResponseCache(policy="ttl", ttl=1, stale_if_error=10)
    pipeline = Pipeline("svc", cache, clock=clock, **otel_capture.providers)
    outcomes: list[Any] = ["old", ConnectionError("down")]

    async def dep() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, BaseException):
            await clock.asleep(1)
            raise outcome
        return outcome

    async def main() -> list[Any]:
        await pipeline.acall(dep)
        clock.advance(2)
        tasks = [asyncio.ensure_future(pipeline.acall(dep)) for _ in range(3)]
        await clock.wait_for_sleepers_async(1)
        await auntil(lambda: cache._core.waiting() == 2)
        clock.advance(1)
        return await asyncio.gather(*tasks)

    assert asyncio.run(main()) == ["old"] * 3
    spans = otel_capture.spans("svc")[1:]
    assert [s.attributes[semconv.CACHE_STATUS] for s in spans] == ["stale"] * 3
    assert {s.attributes[semconv.OUTCOME] for s in spans} == {semconv.OUTCOME_FALLBACK}
    stats = cache.stats()
    assert (stats.stale_served, stats.misses, stats.hits) == (3, 4, 0)
