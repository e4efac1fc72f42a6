"""One RetryBudget shared by threads and asyncio tasks: exact counts, gauge, telemetry."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from otel_resilience import Pipeline, Retry, semconv
from otel_resilience.retry_budget import RetryBudget
from otel_resilience.testing import FakeClock, OTelCapture


@pytest.fixture
def busy_switching() -> Iterator[None]:
    """Switch threads every microsecond, so that calls really interleave."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def _count(capture: OTelCapture, event: str) -> int:
    points = capture.metric_points(semconv.METRIC_EVENTS, **{semconv.EVENT: event})
    return sum(p.value for p in points)


def _gauge(capture: OTelCapture, name: str) -> float:
    (point,) = capture.metric_points(
        semconv.METRIC_RETRY_BUDGET_TOKENS, **{semconv.RETRY_BUDGET_NAME: name}
    )
    return float(point.value)


class FailOnce:
    """Each call of one caller fails once (ConnectionError), then succeeds."""

    def __init__(self) -> None:
        self.failed = False
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        self.failed = not self.failed
        if self.failed:
            raise ConnectionError("blip")
        return "ok"


def _pipeline(budget: RetryBudget, capture: OTelCapture) -> Pipeline:
    retry = Retry(max_attempts=2, base_delay=0.0, jitter=False, budget=budget)
    return Pipeline("p", retry, clock=FakeClock(), **capture.providers)


@pytest.mark.usefixtures("busy_switching")
def test_threads_share_one_budget_exactly(otel_capture: OTelCapture) -> None:
    """8 threads x 100 calls failing once: 800 retries, 1000 - 800 + 0.5 x 800 = 600 tokens."""
    budget = RetryBudget(max_tokens=1000, token_ratio=0.5, name="b")
    pipeline = _pipeline(budget, otel_capture)
    deps = [FailOnce() for _ in range(8)]

    def caller(dep: FailOnce) -> None:
        for _ in range(100):
            assert pipeline.call(dep) == "ok"

    threads = [threading.Thread(target=caller, args=(d,)) for d in deps]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sum(d.calls for d in deps) == 1600
    assert budget.tokens() == 600.0
    assert _count(otel_capture, semconv.EVENT_RETRY) == 800
    assert _count(otel_capture, semconv.EVENT_RETRY_BUDGET_EXHAUSTED) == 0
    assert _gauge(otel_capture, "b") == 600.0


def test_tasks_share_one_budget_exactly(otel_capture: OTelCapture) -> None:
    """200 tasks interleaving at every await: 200 retries, 1000 - 200 + 0.5 x 200 = 900 tokens."""
    budget = RetryBudget(max_tokens=1000, token_ratio=0.5, name="b")
    pipeline = _pipeline(budget, otel_capture)

    async def one() -> None:
        failed = False

        async def dep() -> str:
            nonlocal failed
            await asyncio.sleep(0)  # let the other tasks run between attempts
            failed = not failed
            if failed:
                raise ConnectionError("blip")
            return "ok"

        assert await pipeline.acall(dep) == "ok"

    async def main() -> None:
        await asyncio.gather(*(one() for _ in range(200)))

    asyncio.run(main())
    assert budget.tokens() == 900.0
    assert _count(otel_capture, semconv.EVENT_RETRY) == 200
    assert _gauge(otel_capture, "b") == 900.0


@pytest.mark.usefixtures("busy_switching")
def test_refusals_under_threads_match_ground_truth(otel_capture: OTelCapture) -> None:
    """A dead dependency, 8 threads: exactly the first 49 charges may retry; counts agree."""
    budget = RetryBudget(max_tokens=100, name="b")
    pipeline = _pipeline(budget, otel_capture)
    calls = [0] * 8

    def caller(i: int) -> None:
        def dead() -> None:
            calls[i] += 1
            raise ConnectionError("down")

        for _ in range(50):
            with pytest.raises(ConnectionError):
                pipeline.call(dead)

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    retries = _count(otel_capture, semconv.EVENT_RETRY)
    assert sum(calls) == 400 + retries
    # Tokens 99..51 allow a retry: 49 charges, each retry's own failure being one of them.
    assert 25 <= retries <= 49
    assert _count(otel_capture, semconv.EVENT_RETRY_BUDGET_EXHAUSTED) == 400 - retries
    assert budget.tokens() == 0.0
    assert _gauge(otel_capture, "b") == 0.0


def test_the_gauge_reports_each_budget_by_name(otel_capture: OTelCapture) -> None:
    """Two budgets, one unnamed (takes the pipeline's name): one gauge point each."""
    tokens = RetryBudget(max_tokens=8, name="tokens")
    percent = RetryBudget.percent(percent=50, min_retries_per_second=1, window=10)
    clock = FakeClock()
    providers: Any = otel_capture.providers
    Pipeline("a", Retry(budget=tokens), clock=clock, **providers)
    p = Pipeline("pct", Retry(budget=percent), clock=clock, **providers)
    for _ in range(4):
        p.call(lambda: "ok")
    assert _gauge(otel_capture, "tokens") == 8.0
    assert _gauge(otel_capture, "pct") == 10 + 0.5 * 4
