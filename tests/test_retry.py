"""Retry: backoff kinds, jitter, Retry-After, deadlines, categories, exhaustion, telemetry."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import tenacity
from core_support import http_error

from otel_resilience import (
    CircuitOpenError,
    ClassificationRule,
    ErrorCategory,
    ErrorClassifier,
    Pipeline,
    Retry,
    RetryExhaustedError,
    RetryPolicy,
    attempts_of,
    semconv,
)
from otel_resilience.testing import FakeClock

REQUEST = httpx.Request("GET", "http://127.0.0.1:9/")


def test_succeeds_after_transient_failures_with_exponential_backoff(run, flaky, fake_clock):
    """Connection errors are retried; delay n is base_delay * 2**(n-1)."""
    dep = flaky(ConnectionError(), ConnectionError(), ConnectionError())
    pipeline = Pipeline("p", Retry(max_attempts=4, base_delay=0.5, jitter=False), clock=fake_clock)
    assert run(pipeline, dep) == "ok"
    assert dep.calls == 4
    assert fake_clock.sleeps == [0.5, 1.0, 2.0]


@pytest.mark.parametrize(
    ("backoff", "expected"),
    [
        ("constant", [1.0, 1.0, 1.0, 1.0]),
        ("linear", [1.0, 2.0, 3.0, 3.5]),
        ("exponential", [1.0, 2.0, 3.5, 3.5]),
    ],
)
def test_backoff_kinds_and_max_delay_cap(run, flaky, fake_clock, backoff, expected):
    """Each backoff kind gives its delay sequence, capped by max_delay."""
    dep = flaky(*[TimeoutError() for _ in range(4)])
    retry = Retry(max_attempts=5, backoff=backoff, base_delay=1.0, max_delay=3.5, jitter=False)
    assert run(Pipeline("p", retry, clock=fake_clock), dep) == "ok"
    assert fake_clock.sleeps == expected


def test_decorrelated_backoff_grows_within_bounds(run, flaky, fake_clock):
    """Decorrelated delays are drawn between base and 3x the previous delay, capped."""
    dep = flaky(*[TimeoutError() for _ in range(4)])
    retry = Retry(
        max_attempts=5, backoff="decorrelated", base_delay=1.0, max_delay=20.0, random=lambda: 1.0
    )
    run(Pipeline("p", retry, clock=fake_clock), dep)
    assert fake_clock.sleeps == [3.0, 9.0, 20.0, 20.0]


def test_jitter_only_shortens_the_delay(run, flaky, fake_clock):
    """jitter=0.5 takes at most half of the delay off, drawn from the injected random source."""
    dep = flaky(TimeoutError(), TimeoutError())
    draws = iter([1.0, 0.0])
    retry = Retry(max_attempts=3, base_delay=2.0, jitter=0.5, random=lambda: next(draws))
    run(Pipeline("p", retry, clock=fake_clock), dep)
    assert fake_clock.sleeps == [1.0, 4.0]


def test_exhaustion_reraises_last_error_with_attempt_count(run, flaky, fake_clock):
    """After max_attempts the last error propagates, marked with the number of attempts."""
    last = ConnectionError("third")
    dep = flaky(ConnectionError("first"), ConnectionError("second"), last)
    pipeline = Pipeline("p", Retry(max_attempts=3, jitter=False), clock=fake_clock)
    err = run.raises(ConnectionError, pipeline, dep)
    assert err is last
    assert attempts_of(err) == 3
    assert dep.calls == 3


def test_exhaustion_can_wrap(run, flaky, fake_clock):
    """on_exhausted='wrap' raises RetryExhaustedError with the attempts and the cause."""
    dep = flaky(TimeoutError(), TimeoutError())
    pipeline = Pipeline("p", Retry(max_attempts=2, on_exhausted="wrap"), clock=fake_clock)
    err = run.raises(RetryExhaustedError, pipeline, dep)
    assert err.attempts == 2
    assert isinstance(err.__cause__, TimeoutError)
    assert err.reason == "attempts"


def test_non_retryable_category_is_not_retried(run, flaky, fake_clock):
    """A 400 (invalid_request) propagates after one attempt, even with wrap on."""
    dep = flaky(http_error(400))
    pipeline = Pipeline("p", Retry(max_attempts=5, on_exhausted="wrap"), clock=fake_clock)
    run.raises(httpx.HTTPStatusError, pipeline, dep)
    assert dep.calls == 1
    assert fake_clock.sleeps == []


def test_retry_after_header_is_honoured_and_capped_when_asked(run, flaky, fake_clock):
    """Retry-After lengthens the backoff; with clamp_retry_after, max_delay caps it."""
    dep = flaky(http_error(429, **{"Retry-After": "3"}), http_error(429, **{"Retry-After": "60"}))
    retry = Retry(
        max_attempts=3, base_delay=0.1, max_delay=10.0, jitter=False, clamp_retry_after=True
    )
    assert run(Pipeline("p", retry, clock=fake_clock), dep) == "ok"
    assert fake_clock.sleeps == [3.0, 10.0]


def test_retry_after_can_be_ignored(run, flaky, fake_clock):
    """respect_retry_after=False keeps the plain backoff."""
    dep = flaky(http_error(429, **{"Retry-After": "3"}))
    retry = Retry(base_delay=0.1, jitter=False, respect_retry_after=False)
    run(Pipeline("p", retry, clock=fake_clock), dep)
    assert fake_clock.sleeps == [0.1]


def test_deadline_stops_a_retry_that_would_end_after_it(run, flaky, fake_clock):
    """A retry whose delay would pass the deadline is not started."""
    dep = flaky(TimeoutError(), TimeoutError(), TimeoutError())
    retry = Retry(max_attempts=10, base_delay=1.0, jitter=False, deadline=2.5, on_exhausted="wrap")
    err = run.raises(RetryExhaustedError, Pipeline("p", retry, clock=fake_clock), dep)
    assert fake_clock.sleeps == [1.0]
    assert err.reason == "deadline"
    assert dep.calls == 2


def test_deadline_counts_time_spent_in_attempts(run, flaky):
    """Slow attempts use up the deadline as well as sleeps do."""
    clock = FakeClock()
    dep = flaky(TimeoutError(), TimeoutError(), clock=clock, takes=2.0)
    retry = Retry(max_attempts=10, base_delay=1.0, jitter=False, deadline=4.0)
    run.raises(TimeoutError, Pipeline("p", retry, clock=clock), dep)
    # t=2 after attempt 1, +1s sleep fits (3 <= 4); t=5 after attempt 2, so no third attempt.
    assert clock.sleeps == [1.0]
    assert dep.calls == 2


def test_retry_on_types_and_categories(run, flaky, fake_clock):
    """retry_on replaces the default test: listed types and categories are retried."""
    dep = flaky(KeyError("k"), http_error(404))
    retry = Retry(retry_on=[KeyError, ErrorCategory.NOT_FOUND], jitter=False, base_delay=0.1)
    assert run(Pipeline("p", retry, clock=fake_clock), dep) == "ok"
    assert dep.calls == 3
    other = flaky(ConnectionError())
    run.raises(ConnectionError, Pipeline("q", Retry(retry_on=[KeyError]), clock=fake_clock), other)
    assert other.calls == 1


def test_retry_on_predicate(run, flaky, fake_clock):
    """A predicate on the exception decides alone."""
    dep = flaky(ValueError("again"), ValueError("stop"))
    retry = Retry(retry_on=lambda e: str(e) == "again", max_attempts=5, base_delay=0.1)
    run.raises(ValueError, Pipeline("p", retry, clock=fake_clock), dep)
    assert dep.calls == 2


def test_retry_if_result_retries_a_503_response(run, flaky, fake_clock):
    """A returned 503 is retried without an exception; a 200 ends the loop."""
    bad = httpx.Response(503, headers={"Retry-After": "2"}, request=REQUEST)
    good = httpx.Response(200, request=REQUEST)
    dep = flaky(bad, result=good)
    retry = Retry(retry_if_result=lambda r: r.status_code >= 500, base_delay=0.1, jitter=False)
    assert run(Pipeline("p", retry, clock=fake_clock), dep) is good
    assert fake_clock.sleeps == [2.0]


def test_exhausted_result_is_returned_and_marked_failure(run, flaky, fake_clock, otel_capture):
    """When results keep asking for a retry, the last one is returned and the call fails."""
    bad = httpx.Response(503, request=REQUEST)
    dep = flaky(result=bad)
    retry = Retry(max_attempts=2, retry_if_result=lambda r: r.status_code == 503)
    pipeline = Pipeline("p", retry, clock=fake_clock, **otel_capture.providers)
    assert run(pipeline, dep) is bad
    span = otel_capture.span("p")
    assert span.attributes[semconv.OUTCOME] == "failure"
    assert span.attributes[semconv.ERROR_TYPE] == "503"
    assert span.attributes[semconv.ERROR_CATEGORY] == "server_error"


def test_per_category_policy(run, flaky, fake_clock):
    """A rate-limited policy waits longer and gives up sooner; other errors keep the default."""
    policies = {
        ErrorCategory.RATE_LIMITED: RetryPolicy(max_attempts=2, backoff="constant", base_delay=5.0)
    }
    retry = Retry(max_attempts=4, base_delay=0.1, jitter=False, policies=policies)
    pipeline = Pipeline("p", retry, clock=fake_clock)
    dep = flaky(ConnectionError(), http_error(429), ConnectionError())
    assert run(pipeline, dep) == "ok"
    assert fake_clock.sleeps == [0.1, 5.0, 0.4]
    limited = flaky(http_error(429), http_error(429), http_error(429))
    run.raises(httpx.HTTPStatusError, Pipeline("q", retry, clock=fake_clock), limited)
    assert limited.calls == 2


def test_user_rules_change_what_is_retried(run, flaky, fake_clock):
    """A classifier rule can make an unknown exception retryable."""
    classifier = ErrorClassifier(
        rules=[
            ClassificationRule(types=(KeyError,), category=ErrorCategory.CONNECTION, retryable=True)
        ]
    )
    dep = flaky(KeyError("k"))
    assert (
        run(Pipeline("p", Retry(classifier=classifier, base_delay=0.0), clock=fake_clock), dep)
        == "ok"
    )
    assert dep.calls == 2


def test_circuit_open_error_is_never_retried(run, flaky, fake_clock):
    """Retrying an open breaker's rejection would defeat it."""
    dep = flaky(CircuitOpenError("b", 10.0))
    run.raises(CircuitOpenError, Pipeline("p", Retry(max_attempts=5), clock=fake_clock), dep)
    assert dep.calls == 1


def test_base_exceptions_are_not_retried(run, flaky, fake_clock):
    """KeyboardInterrupt and cancellation pass straight through."""
    dep = flaky(KeyboardInterrupt())
    run.raises(KeyboardInterrupt, Pipeline("p", Retry(max_attempts=5), clock=fake_clock), dep)
    assert dep.calls == 1


def test_cancellation_is_not_retried(flaky, fake_clock):
    """An asyncio.CancelledError from the attempt propagates at once."""
    dep = flaky(asyncio.CancelledError())

    async def call() -> object:
        async def afn() -> object:
            return dep()

        return await Pipeline("p", Retry(max_attempts=5), clock=fake_clock).acall(afn)

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(call())
    assert dep.calls == 1


def test_success_path_does_not_touch_tenacity(run, flaky, fake_clock, monkeypatch):
    """A first-attempt success never calls a tenacity wait strategy."""

    def boom(self, retry_state):
        raise AssertionError("tenacity entered on the success path")

    monkeypatch.setattr(tenacity.wait_exponential, "__call__", boom)
    assert run(Pipeline("p", Retry(), clock=fake_clock), flaky()) == "ok"


def test_retry_telemetry(run, flaky, fake_clock, otel_capture):
    """Each retry is a span event with attempt number, delay and error type; attempts are events."""
    dep = flaky(ConnectionError(), TimeoutError(), clock=fake_clock, takes=0.25)
    retry = Retry(max_attempts=3, base_delay=1.0, jitter=False)
    assert run(Pipeline("p", retry, clock=fake_clock, **otel_capture.providers), dep) == "ok"
    span = otel_capture.span("p")
    assert span.attributes[semconv.ATTEMPTS] == 3
    retries = [e for e in span.events if e.name == semconv.SPAN_EVENT_RETRY]
    assert [e.attributes[semconv.ATTEMPT_NUMBER] for e in retries] == [1, 2]
    assert [e.attributes[semconv.RETRY_DELAY] for e in retries] == [1.0, 2.0]
    assert [e.attributes[semconv.ERROR_TYPE] for e in retries] == [
        "ConnectionError",
        "TimeoutError",
    ]
    attempts = [e for e in span.events if e.name == semconv.SPAN_EVENT_ATTEMPT]
    assert [e.attributes[semconv.ATTEMPT_OUTCOME] for e in attempts] == [
        "failure",
        "failure",
        "success",
    ]
    assert [e.attributes[semconv.ATTEMPT_DURATION] for e in attempts] == [0.25, 0.25, 0.25]
    points = otel_capture.metric_points(semconv.METRIC_EVENTS, **{semconv.EVENT: "retry"})
    assert [p.value for p in points] == [2]
    assert points[0].attributes[semconv.STRATEGY] == "retry"


def test_exhaustion_telemetry(run, flaky, fake_clock, otel_capture):
    """Exhaustion adds a retry_exhausted event and counts it."""
    dep = flaky(TimeoutError(), TimeoutError())
    pipeline = Pipeline("p", Retry(max_attempts=2), clock=fake_clock, **otel_capture.providers)
    run.raises(TimeoutError, pipeline, dep)
    span = otel_capture.span("p")
    assert [e.name for e in span.events if e.name.startswith("resilience.retry")] == [
        semconv.SPAN_EVENT_RETRY,
        semconv.SPAN_EVENT_RETRY_EXHAUSTED,
    ]
    assert (
        otel_capture.metric_points(semconv.METRIC_EVENTS, **{semconv.EVENT: "retry_exhausted"})[
            0
        ].value
        == 1
    )


def test_first_attempt_success_records_no_attempt_event(run, flaky, fake_clock, otel_capture):
    """The pipeline span alone stands for a call that succeeds at once."""
    run(Pipeline("p", Retry(), clock=fake_clock, **otel_capture.providers), flaky())
    assert otel_capture.span("p").events == ()
