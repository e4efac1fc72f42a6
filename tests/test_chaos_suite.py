"""The chaos suite: Retry, CircuitBreaker, Fallback and Timeout driven through seeded injections.

Each scenario knows its ground truth from the seed (``random.Random(seed)`` draws once per call
that reaches the Chaos) or from what the caller saw, and checks the telemetry against it.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections import Counter
from typing import Any

import pytest
from core_support import http_response

from otel_resilience import CircuitBreaker, CircuitOpenError, Pipeline, Retry, semconv
from otel_resilience.chaos import Chaos
from otel_resilience.errors import ResilienceTimeoutError
from otel_resilience.fallback import Fallback
from otel_resilience.testing import FakeClock, OTelCapture
from otel_resilience.timeout import Timeout


def _draws(seed: int, rate: float) -> Any:
    draw = random.Random(seed).random
    while True:
        yield draw() < rate


def _events(capture: OTelCapture, event: str) -> int:
    points = capture.metric_points(semconv.METRIC_EVENTS, **{semconv.EVENT: event})
    return sum(p.value for p in points)


def _outcomes(capture: OTelCapture, name: str) -> Counter[str]:
    return Counter(s.attributes[semconv.OUTCOME] for s in capture.spans(name))


def ok() -> str:
    """The healthy dependency."""
    return "ok"


def test_retry_rides_out_injected_faults(run, fake_clock, otel_capture):
    """Retry x3 over faults at 40%: retries, give-ups, injections and outcomes match the seed."""
    chaos = Chaos.fault(rate=0.4, error=ConnectionError, seed=21, enabled=True)
    retry = Retry(max_attempts=3, base_delay=0.01, jitter=False)
    pipeline = Pipeline("p", retry, chaos, clock=fake_clock, **otel_capture.providers)
    draws = _draws(21, 0.4)
    truth = Counter[str]()
    for _ in range(150):
        hits = 0
        while hits < 3 and next(draws):
            hits += 1
        truth["injected"] += hits
        truth["retries"] += min(hits, 2)
        truth["success" if hits < 3 else "failure"] += 1
        if hits < 3:
            assert run(pipeline, ok) == "ok"
        else:
            run.raises(ConnectionError, pipeline, ok)
    assert truth["failure"] > 0  # a real mix: calls that gave up, and retries that helped
    assert truth["retries"] > truth["failure"]
    assert _events(otel_capture, semconv.EVENT_CHAOS_INJECTED) == truth["injected"]
    assert _events(otel_capture, semconv.EVENT_RETRY) == truth["retries"]
    assert _events(otel_capture, semconv.EVENT_RETRY_EXHAUSTED) == truth["failure"]
    assert _outcomes(otel_capture, "p") == {
        semconv.OUTCOME_SUCCESS: truth["success"],
        semconv.OUTCOME_FAILURE: truth["failure"],
    }


def test_injected_faults_are_numbered_as_attempts(run, fake_clock, otel_capture):
    """Injected and real failures share one attempt numbering: resilience.attempts counts both."""
    chaos = Chaos.fault(rate=0.5, error=ConnectionError, seed=8, enabled=True)
    retry = Retry(max_attempts=4, base_delay=0.01, jitter=False)
    pipeline = Pipeline("p", retry, chaos, clock=fake_clock, **otel_capture.providers)

    def down() -> None:
        raise ConnectionError("real")

    for _ in range(10):
        run.raises(ConnectionError, pipeline, down)
    for span in otel_capture.spans("p"):
        assert span.attributes[semconv.ATTEMPTS] == 4
        numbers = [
            e.attributes[semconv.ATTEMPT_NUMBER]
            for e in span.events
            if e.name in (semconv.SPAN_EVENT_RETRY, semconv.SPAN_EVENT_RETRY_EXHAUSTED)
        ]
        assert numbers == [1, 2, 3, 4]


def test_retry_retries_injected_error_responses(run, fake_clock, otel_capture):
    """Injected 503 responses are failures by the pipeline's predicate: retried, then returned."""
    chaos = Chaos.result(rate=0.5, value=http_response(503), seed=5, enabled=True)
    retry = Retry(max_attempts=2, base_delay=0.01, jitter=False)
    pipeline = Pipeline("p", retry, chaos, clock=fake_clock, **otel_capture.providers)
    draws = _draws(5, 0.5)
    injected = failed = 0
    for _ in range(60):
        first, second = next(draws), False
        if first:
            second = next(draws)
        injected += first + second
        result = run(pipeline, ok)
        if first and second:
            failed += 1
            assert result.status_code == 503
        else:
            assert result == "ok"
    assert _events(otel_capture, semconv.EVENT_CHAOS_INJECTED) == injected
    assert _outcomes(otel_capture, "p")[semconv.OUTCOME_FAILURE] == failed


def test_the_breaker_opens_on_injected_faults(run, otel_capture):
    """Faults at 70%: rejections, injections, openings match what callers saw and the seed."""
    clock = FakeClock()
    breaker = CircuitBreaker(failure_ratio=0.5, minimum_calls=5, window=10.0, break_duration=3.0)
    chaos = Chaos.fault(rate=0.7, error=ConnectionError, seed=9, enabled=True)
    pipeline = Pipeline("p", breaker, chaos, clock=clock, **otel_capture.providers)
    draws = _draws(9, 0.7)
    seen = Counter[str]()
    for _ in range(120):
        try:
            run(pipeline, ok)
            seen["ok"] += 1
        except CircuitOpenError:
            seen["rejected"] += 1
        except ConnectionError:
            seen["injected"] += 1
        clock.advance(0.5)
    reached = seen["ok"] + seen["injected"]
    assert [next(draws) for _ in range(reached)].count(True) == seen["injected"]
    assert seen["rejected"] > 0
    assert seen["ok"] > 0
    assert _events(otel_capture, semconv.EVENT_CHAOS_INJECTED) == seen["injected"]
    assert _events(otel_capture, semconv.EVENT_CIRCUIT_REJECTED) == seen["rejected"]
    opened = _events(otel_capture, semconv.EVENT_CIRCUIT_OPENED)
    half_opened = _events(otel_capture, semconv.EVENT_CIRCUIT_HALF_OPENED)
    closed = _events(otel_capture, semconv.EVENT_CIRCUIT_CLOSED)
    # Every half-opening follows an opening; every closing follows a half-opening.
    assert 1 <= closed <= half_opened <= opened
    assert _outcomes(otel_capture, "p")[semconv.OUTCOME_REJECTED] == seen["rejected"]


def test_fallback_serves_every_injected_fault(run, fake_clock, otel_capture):
    """Faults at 25%: the Fallback serves exactly the hit calls."""
    chaos = Chaos.fault(rate=0.25, error=TimeoutError("injected"), seed=4, enabled=True)
    pipeline = Pipeline(
        "p", Fallback(value="cached"), chaos, clock=fake_clock, **otel_capture.providers
    )
    draws = _draws(4, 0.25)
    expected = [("cached" if next(draws) else "ok") for _ in range(80)]
    assert [run(pipeline, ok) for _ in range(80)] == expected
    hits = expected.count("cached")
    assert _events(otel_capture, semconv.EVENT_FALLBACK_USED) == hits
    assert _events(otel_capture, semconv.EVENT_CHAOS_INJECTED) == hits
    assert _outcomes(otel_capture, "p")[semconv.OUTCOME_FALLBACK] == hits


def test_timeout_bounds_injected_latency(run, fake_clock, otel_capture):
    """5 s delays at 30% under a 1 s Timeout: exactly the delayed calls time out."""
    chaos = Chaos.latency(rate=0.3, seconds=5.0, seed=13, enabled=True)
    pipeline = Pipeline(
        "p", Timeout(seconds=1.0), chaos, clock=fake_clock, **otel_capture.providers
    )
    draws = _draws(13, 0.3)
    timeouts = 0
    for _ in range(50):
        if next(draws):
            timeouts += 1
            run.raises(ResilienceTimeoutError, pipeline, ok)
        else:
            assert run(pipeline, ok) == "ok"
    assert timeouts > 0
    assert _events(otel_capture, semconv.EVENT_TIMEOUT) == timeouts
    assert _events(otel_capture, semconv.EVENT_CHAOS_INJECTED) == timeouts
    spans = otel_capture.spans("p")
    assert sum(bool(s.attributes.get(semconv.CHAOS_INJECTED)) for s in spans) == timeouts


def test_retry_over_timed_out_attempts(fake_clock, otel_capture):
    """Retry > Timeout > latency (async): every injected delay is one timed-out, retried attempt."""
    chaos = Chaos.latency(rate=0.5, seconds=5.0, seed=3, enabled=True)
    retry = Retry(max_attempts=4, base_delay=0.01, jitter=False)
    pipeline = Pipeline(
        "p", retry, Timeout(seconds=1.0), chaos, clock=fake_clock, **otel_capture.providers
    )

    async def dep() -> str:
        return "ok"

    async def main() -> None:
        for _ in range(30):
            assert await pipeline.acall(dep) == "ok"

    draws = _draws(3, 0.5)
    runs = []
    for _ in range(30):  # hits in a row before the attempt that gets through
        run = 0
        while next(draws):
            run += 1
        runs.append(run)
    assert max(runs) <= 3  # with this seed every call succeeds within 4 attempts
    injected = sum(runs)
    asyncio.run(main())
    assert _events(otel_capture, semconv.EVENT_TIMEOUT) == injected
    assert _events(otel_capture, semconv.EVENT_RETRY) == injected


@pytest.mark.parametrize("mode", ["threads", "tasks"])
def test_concurrent_callers_see_exactly_the_seeded_number_of_faults(mode, otel_capture):
    """8 callers x 250 calls: whoever draws, the hits among 2,000 draws are the seed's."""
    chaos = Chaos.fault(rate=0.2, error=ConnectionError, seed=99, enabled=True)
    pipeline = Pipeline("p", chaos, clock=FakeClock(), **otel_capture.providers)
    failures = [0] * 8
    lock = threading.Lock()

    def caller(i: int) -> None:
        for _ in range(250):
            try:
                pipeline.call(ok)
            except ConnectionError:
                with lock:
                    failures[i] += 1

    async def acaller(i: int) -> None:
        async def dep() -> str:
            await asyncio.sleep(0)
            return "ok"

        for _ in range(250):
            try:
                await pipeline.acall(dep)
            except ConnectionError:
                failures[i] += 1

    if mode == "threads":
        threads = [threading.Thread(target=caller, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    else:

        async def main() -> None:
            await asyncio.gather(*(acaller(i) for i in range(8)))

        asyncio.run(main())
    draws = _draws(99, 0.2)
    expected = sum(next(draws) for _ in range(2000))
    assert sum(failures) == expected
    assert _events(otel_capture, semconv.EVENT_CHAOS_INJECTED) == expected
