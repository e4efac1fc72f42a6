"""Retry(budget=...): refused retries, telemetry, the storm it prevents, recovery."""

from __future__ import annotations

import pytest
from core_support import http_response

from otel_resilience import Pipeline, Retry, RetryExhaustedError, attempts_of, semconv
from otel_resilience.retry_budget import RetryBudget
from otel_resilience.testing import FakeClock


class Dependency:
    """Fails with ConnectionError while ``down``; counts every attempt."""

    def __init__(self) -> None:
        self.down = True
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.down:
            raise ConnectionError("down")
        return "ok"


def _points(capture, event):
    return capture.metric_points(semconv.METRIC_EVENTS, **{semconv.EVENT: event})


def test_a_refused_retry_returns_the_failure_at_once(run, fake_clock, otel_capture):
    """Below half of max_tokens the first failure is raised at once, reason ``budget``."""
    budget = RetryBudget(max_tokens=4, name="shared")
    pipeline = Pipeline(
        "p", Retry(max_attempts=5, budget=budget), clock=fake_clock, **otel_capture.providers
    )
    dep = Dependency()
    err = run.raises(ConnectionError, pipeline, dep)  # tokens 3 (retry), 2 (refused)
    assert dep.calls == 2
    assert attempts_of(err) == 2
    assert len(fake_clock.sleeps) == 1
    assert budget.tokens() == 2.0
    (event,) = [
        e for e in otel_capture.span("p").events if e.name == semconv.SPAN_EVENT_RETRY_EXHAUSTED
    ]
    assert event.attributes[semconv.RETRY_REASON] == semconv.RETRY_REASON_BUDGET
    (exhausted,) = _points(otel_capture, semconv.EVENT_RETRY_EXHAUSTED)
    assert exhausted.attributes[semconv.RETRY_REASON] == semconv.RETRY_REASON_BUDGET
    (refused,) = _points(otel_capture, semconv.EVENT_RETRY_BUDGET_EXHAUSTED)
    assert refused.value == 1
    assert refused.attributes[semconv.RETRY_BUDGET_NAME] == "shared"


def test_wrap_reports_the_budget_reason(run, fake_clock):
    """on_exhausted="wrap" raises RetryExhaustedError whose reason is ``budget``."""
    budget = RetryBudget(max_tokens=2)
    pipeline = Pipeline("p", Retry(on_exhausted="wrap", budget=budget), clock=fake_clock)
    err = run.raises(RetryExhaustedError, pipeline, Dependency())
    assert err.reason == semconv.RETRY_REASON_BUDGET
    assert err.attempts == 1


def test_a_failed_result_is_returned_when_refused(run, fake_clock):
    """A 503 response whose retry is refused is returned as the call's result, attempts 1."""
    budget = RetryBudget(max_tokens=1)
    response = http_response(503)
    calls = []
    pipeline = Pipeline("p", Retry(budget=budget), clock=fake_clock)
    assert run(pipeline, lambda: calls.append(1) or response) is response
    assert calls == [1]


def test_not_retryable_failures_cost_nothing(run, fake_clock):
    """A ValueError is not retried and leaves the budget untouched (gRPC counts retryable ones)."""
    budget = RetryBudget(max_tokens=10)
    pipeline = Pipeline("p", Retry(budget=budget), clock=fake_clock)

    def bad() -> None:
        raise ValueError("caller bug")

    for _ in range(3):
        run.raises(ValueError, pipeline, bad)
    assert budget.tokens() == 10.0


@pytest.mark.parametrize("deadline", [None, 60.0])
def test_successes_refill_the_budget(run, fake_clock, deadline):
    """Each successful attempt adds token_ratio, with or without a Retry deadline."""
    budget = RetryBudget(max_tokens=10, token_ratio=0.5)
    pipeline = Pipeline("p", Retry(budget=budget, deadline=deadline), clock=fake_clock)
    dep = Dependency()
    for _ in range(3):  # tokens 9, 8, 7 (attempts); 6, 5 (refused); 4 (refused)
        run.raises(ConnectionError, pipeline, dep)
    assert (dep.calls, budget.tokens()) == (6, 4.0)
    dep.down = False
    for _ in range(4):
        assert run(pipeline, dep) == "ok"
    assert budget.tokens() == 6.0


def test_percent_counts_not_retryable_first_attempts_as_requests(fake_clock):
    """In the percent kind every first attempt is a request, retryable or not."""
    budget = RetryBudget.percent(percent=50, min_retries_per_second=0.1, window=10)
    pipeline = Pipeline("p", Retry(budget=budget), clock=fake_clock)

    def bad() -> None:
        raise ValueError("caller bug")

    for _ in range(4):
        with pytest.raises(ValueError):
            pipeline.call(bad)
    assert budget.tokens() == 1.0 + 0.5 * 4


def test_one_budget_shared_by_two_pipelines(fake_clock):
    """Retries of two pipelines draw from one budget; it takes the first pipeline's name."""
    budget = RetryBudget(max_tokens=6)
    a = Pipeline("a", Retry(max_attempts=3, budget=budget), clock=fake_clock)
    b = Pipeline("b", Retry(max_attempts=3, budget=budget), clock=fake_clock)
    dep = Dependency()
    with pytest.raises(ConnectionError):
        a.call(dep)  # 5 (retry), 4 (retry), 3 (attempts)
    with pytest.raises(ConnectionError):
        b.call(dep)  # 2: refused
    assert dep.calls == 4
    assert budget.name == "a"


def test_retry_rejects_a_budget_of_the_wrong_type():
    """budget must be a RetryBudget: a number is a ValueError naming the field."""
    with pytest.raises(ValueError, match="budget"):
        Retry(budget=10)  # type: ignore[arg-type]


def _storm(pipeline: Pipeline, clock: FakeClock, dep: Dependency, seconds: int) -> int:
    """100 callers, one call per caller per simulated second; returns failed calls."""
    failed = 0
    for _ in range(seconds):
        started = clock.monotonic()
        for _caller in range(100):
            try:
                pipeline.call(dep)
            except ConnectionError:
                failed += 1
        clock.advance(max(0.0, started + 1.0 - clock.monotonic()))
    return failed


@pytest.mark.parametrize("kind", ["tokens", "percent"])
def test_the_storm_it_prevents_and_full_recovery(kind):
    """100 callers vs a dead dependency for 30 s: ~1x the calls, not 4x; then all succeed."""
    clock = FakeClock()
    if kind == "tokens":
        budget = RetryBudget(max_tokens=10, token_ratio=0.1)
        extra = 10 / 2  # at most max_tokens / 2 retries without a success
    else:
        budget = RetryBudget.percent(percent=10, min_retries_per_second=1, window=10)
        extra = 0.1 * 3000 + 1 * 30  # 10% of the requests plus the floor, over 30 s
    retry = Retry(max_attempts=4, base_delay=0.01, jitter=False, budget=budget)
    dep = Dependency()
    assert _storm(Pipeline("p", retry, clock=clock), clock, dep, 30) == 3000
    unbudgeted = Dependency()
    bare = Retry(max_attempts=4, base_delay=0.01, jitter=False)
    _storm(Pipeline("q", bare, clock=FakeClock()), FakeClock(), unbudgeted, 30)
    assert unbudgeted.calls == 4 * 3000  # what the budget prevents
    assert 3000 < dep.calls <= 3000 + extra <= 3000 * 1.12
    dep.down = False
    dep.calls = 0
    assert _storm(Pipeline("p2", retry, clock=clock), clock, dep, 10) == 0
    assert dep.calls == 1000
    # Percent: the clock now stands at the start of a new second, so the window holds the
    # last 9 seconds of requests: 10% of 900, plus the floor of 10.
    assert budget.tokens() == (10.0 if kind == "tokens" else 0.1 * 900 + 10)
    flaky = iter([ConnectionError("blip")])

    def blip() -> str:
        for error in flaky:
            raise error
        return "ok"

    assert Pipeline("p3", retry, clock=clock).call(blip) == "ok"  # retries work again
