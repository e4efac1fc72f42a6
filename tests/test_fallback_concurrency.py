"""Fallback under threads and asyncio tasks: telemetry counts equal ground truth exactly."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from typing import Any

from otel_resilience import Pipeline, semconv
from otel_resilience.fallback import Fallback

THREADS, CALLS, TASKS = 8, 1000, 500


def dependency(i: int) -> str:
    if i % 3 == 0:
        raise ConnectionError(i)
    return f"fresh {i}"


def first_alt(i: int) -> str:
    if i % 2 == 0:
        raise TimeoutError(i)
    return f"alt1 {i}"


def second_alt(i: int) -> str:
    return f"alt2 {i}"


def expected(i: int) -> tuple[str, int | None]:
    """What call ``i`` returns and which alternative (1-based) served it."""
    if i % 3:
        return f"fresh {i}", None
    return (f"alt1 {i}", 1) if i % 2 else (f"alt2 {i}", 2)


def check_telemetry(otel_capture: Any, total: int) -> None:
    truth = Counter(expected(i)[1] for i in range(total))
    spans = otel_capture.spans("svc")
    assert len(spans) == total
    served = Counter(s.attributes.get(semconv.FALLBACK_INDEX) for s in spans)
    assert served == truth
    outcomes = Counter(s.attributes[semconv.OUTCOME] for s in spans)
    assert outcomes == {
        semconv.OUTCOME_SUCCESS: truth[None],
        semconv.OUTCOME_FALLBACK: truth[1] + truth[2],
    }
    points = otel_capture.metric_points(
        semconv.METRIC_EVENTS, **{semconv.EVENT: semconv.EVENT_FALLBACK_USED}
    )
    assert sum(p.value for p in points) == truth[1] + truth[2]


def test_threads(fake_clock, otel_capture):
    """8 threads share one Fallback; every call gets its own alternative, counts are exact."""
    fallback = Fallback(chain=[first_alt, second_alt])
    pipeline = Pipeline("svc", fallback, clock=fake_clock, **otel_capture.providers)
    results: dict[int, str] = {}

    def worker(t: int) -> None:
        for i in range(t, THREADS * CALLS, THREADS):
            results[i] = pipeline.call(dependency, i)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert results == {i: expected(i)[0] for i in range(THREADS * CALLS)}
    check_telemetry(otel_capture, THREADS * CALLS)


def test_tasks(fake_clock, otel_capture):
    """500 interleaved tasks share one Fallback; results and counts are exact."""

    async def adependency(i: int) -> str:
        await asyncio.sleep(0)  # interleave the tasks
        return dependency(i)

    async def afirst(i: int) -> str:
        await asyncio.sleep(0)
        return first_alt(i)

    fallback = Fallback(chain=[afirst, second_alt])
    pipeline = Pipeline("svc", fallback, clock=fake_clock, **otel_capture.providers)

    async def main() -> list[str]:
        return await asyncio.gather(*(pipeline.acall(adependency, i) for i in range(TASKS)))

    assert asyncio.run(main()) == [expected(i)[0] for i in range(TASKS)]
    check_telemetry(otel_capture, TASKS)
