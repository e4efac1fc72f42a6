"""Refusals, attempts, keyword-only options and binding a strategy to pipelines."""

from __future__ import annotations

from typing import Any

import pytest
from core_support import counted, http_response

import otel_resilience
from otel_resilience import (
    CircuitBreaker,
    CircuitOpenError,
    ErrorCategory,
    ErrorClassifier,
    Pipeline,
    RejectedError,
    ResilienceError,
    Retry,
    RetryExhaustedError,
    semconv,
)
from otel_resilience._strategy import CallContext, DecidingStrategy, UsageError
from otel_resilience.testing import FakeClock

# -- refusals -----------------------------------------------------------------------------


def test_rejected_error_is_the_base_of_refusals():
    """RejectedError is a public ResilienceError; CircuitOpenError is one."""
    assert otel_resilience.RejectedError is RejectedError
    assert issubclass(RejectedError, ResilienceError)
    assert issubclass(CircuitOpenError, RejectedError)


@pytest.mark.parametrize(
    ("error", "category"),
    [
        (RejectedError("full"), ErrorCategory.REJECTED),
        (CircuitOpenError("b", 1.0), ErrorCategory.REJECTED),
        (RetryExhaustedError(3, TimeoutError()), ErrorCategory.TIMEOUT),
        (RetryExhaustedError(3, ConnectionError()), ErrorCategory.CONNECTION),
        (RetryExhaustedError(3, None, http_response(503)), ErrorCategory.SERVER_ERROR),
        (UsageError("call() of an async function"), ErrorCategory.INVALID_REQUEST),
    ],
)
def test_own_errors_are_classified(error, category):
    """Refusals are 'rejected', misuse 'invalid_request', a give-up its last error's or result's."""
    info = ErrorClassifier().classify(error)
    assert info.category is category
    if category is ErrorCategory.REJECTED:
        assert info.retryable is False


class Refuse(DecidingStrategy):
    """Test-only: refuses every call with a custom RejectedError."""

    class Full(RejectedError):
        """A custom refusal."""

    def enter(self, ctx: CallContext) -> Any:
        """Refuse."""
        raise self.Full("no room")


def test_a_custom_refusal_is_rejected_and_not_an_attempt(run, fake_clock, otel_capture):
    """Any RejectedError: outcome rejected, category rejected, no attempt, not retried."""
    fn = counted()
    breaker = CircuitBreaker(minimum_calls=1, window=1, window_type="count")
    retry = Retry(max_attempts=5)
    pipeline = Pipeline("p", retry, breaker, Refuse(), clock=fake_clock, **otel_capture.providers)
    run.raises(Refuse.Full, pipeline, fn)
    span = otel_capture.span("p")
    assert span.attributes[semconv.OUTCOME] == semconv.OUTCOME_REJECTED
    assert span.attributes[semconv.ERROR_CATEGORY] == "rejected"
    assert span.attributes[semconv.ATTEMPTS] == 0
    assert fn.calls == []  # type: ignore[attr-defined]
    assert fake_clock.sleeps == []
    assert breaker.state.value == "closed"  # one failure in a window of one would open it


def test_open_breaker_makes_no_attempt(run, fake_clock, otel_capture):
    """A call an open breaker refuses has 0 attempts, outcome rejected and a rejected event."""
    breaker = CircuitBreaker()
    pipeline = Pipeline("p", breaker, clock=fake_clock, **otel_capture.providers)
    breaker.isolate()
    run.raises(CircuitOpenError, pipeline, counted())
    span = otel_capture.span("p")
    assert span.attributes[semconv.ATTEMPTS] == 0
    assert span.attributes[semconv.OUTCOME] == semconv.OUTCOME_REJECTED
    assert [e.name for e in span.events] == [
        semconv.SPAN_EVENT_CIRCUIT_REJECTED,
        semconv.SPAN_EVENT_EXCEPTION,
    ]


def test_attempts_count_only_calls_that_reached_the_function(run, fake_clock, otel_capture):
    """Retry outside a breaker that opens mid-way: attempts equals the calls made."""
    fn = counted(ConnectionError(), ConnectionError(), ConnectionError())
    breaker = CircuitBreaker(minimum_calls=2, window=2, window_type="count")
    retry = Retry(max_attempts=5, base_delay=0.1, jitter=False)
    pipeline = Pipeline("p", retry, breaker, clock=fake_clock, **otel_capture.providers)
    run.raises(CircuitOpenError, pipeline, fn)
    span = otel_capture.span("p")
    assert len(fn.calls) == 2  # type: ignore[attr-defined]
    assert span.attributes[semconv.ATTEMPTS] == 2
    assert span.attributes[semconv.OUTCOME] == semconv.OUTCOME_REJECTED
    attempts = [e for e in span.events if e.name == semconv.SPAN_EVENT_ATTEMPT]
    assert [e.attributes[semconv.ATTEMPT_NUMBER] for e in attempts] == [1, 2]


# -- options and binding ------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [lambda: Retry(3), lambda: CircuitBreaker("x")],  # type: ignore[misc]
    ids=["Retry(3)", "CircuitBreaker('x')"],
)
def test_options_are_keyword_only(make):
    """Positional options are a TypeError: Retry(3) or CircuitBreaker('x') read ambiguously."""
    with pytest.raises(TypeError):
        make()


@pytest.mark.parametrize("factory", [Retry, CircuitBreaker])
def test_providers_belong_to_the_pipeline(factory):
    """Strategies take no telemetry providers of their own."""
    with pytest.raises(TypeError, match="tracer_provider"):
        factory(tracer_provider=object())


def test_second_pipeline_with_other_providers_is_refused(otel_capture):
    """Adding a strategy to a second pipeline that reports elsewhere is a ValueError."""
    retry = Retry()
    Pipeline("a", retry, **otel_capture.providers)
    with pytest.raises(ValueError, match="telemetry providers"):
        Pipeline("b", retry)


def test_second_pipeline_with_another_clock_is_refused():
    """A strategy without a clock of its own cannot follow two pipeline clocks."""
    breaker = CircuitBreaker()
    Pipeline("a", breaker, clock=FakeClock())
    with pytest.raises(ValueError, match="clock"):
        Pipeline("b", breaker, clock=FakeClock())


def test_second_pipeline_with_the_same_setup_shares_the_strategy(fake_clock, otel_capture):
    """Same providers and clock: one breaker may serve two pipelines, counting both."""
    breaker = CircuitBreaker(minimum_calls=2, window=2, window_type="count")
    a = Pipeline("a", breaker, clock=fake_clock, **otel_capture.providers)
    b = Pipeline("b", breaker, clock=fake_clock, **otel_capture.providers)
    for pipeline in (a, b):
        with pytest.raises(ConnectionError):
            pipeline.call(counted(ConnectionError()))
    assert breaker.state.value == "open"
    assert breaker.name == "a"
