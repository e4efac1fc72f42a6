"""Give-ups that explain themselves: Retry-After limits, reasons on events and counters, order."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from core_support import http_error, http_response

from otel_resilience import (
    CircuitBreaker,
    CircuitOpenError,
    Pipeline,
    Retry,
    RetryExhaustedError,
    attempts_of,
    semconv,
)

ROOT = Path(__file__).resolve().parents[1]


def exhausted(capture: Any, name: str = "p") -> tuple[dict[str, Any], dict[str, Any]]:
    """The one retry_exhausted span event and the one retry_exhausted counter point."""
    span = capture.span(name)
    (event,) = [e for e in span.events if e.name == semconv.SPAN_EVENT_RETRY_EXHAUSTED]
    (point,) = capture.metric_points(
        semconv.METRIC_EVENTS, **{semconv.EVENT: semconv.EVENT_RETRY_EXHAUSTED}
    )
    assert point.value == 1
    return dict(event.attributes), dict(point.attributes)


# -- Retry-After beyond what the caller allows -------------------------------------------------


def test_retry_after_above_max_delay_gives_up_at_once(run, flaky, fake_clock, otel_capture):
    """A 429 asking for more than max_delay reaches the caller at once, with the reason."""
    error = http_error(429, **{"Retry-After": "60"})
    dep = flaky(error)
    retry = Retry(max_attempts=5, max_delay=10.0)
    pipeline = Pipeline("p", retry, clock=fake_clock, **otel_capture.providers)
    assert run.raises(httpx.HTTPStatusError, pipeline, dep) is error
    assert attempts_of(error) == 1
    assert dep.calls == 1
    assert fake_clock.sleeps == []
    event, point = exhausted(otel_capture)
    for attrs in (event, point):
        assert attrs[semconv.RETRY_REASON] == semconv.RETRY_REASON_RETRY_AFTER_EXCEEDS_MAX_DELAY
    assert event[semconv.RETRY_REQUESTED_DELAY] == 60.0


def test_a_503_response_asking_too_much_is_returned(run, flaky, fake_clock, otel_capture):
    """A returned 503 asking for more than max_delay is handed back as the call's failure."""
    response = http_response(503, **{"Retry-After": "3600"})
    dep = flaky(response)
    pipeline = Pipeline("p", Retry(max_delay=30.0), clock=fake_clock, **otel_capture.providers)
    assert run(pipeline, dep) is response
    assert dep.calls == 1
    assert otel_capture.span("p").attributes[semconv.OUTCOME] == semconv.OUTCOME_FAILURE
    event, _ = exhausted(otel_capture)
    assert event[semconv.RETRY_REASON] == semconv.RETRY_REASON_RETRY_AFTER_EXCEEDS_MAX_DELAY


def test_clamp_retry_after_waits_max_delay_instead(run, flaky, fake_clock):
    """clamp_retry_after=True retries after max_delay rather than giving up."""
    dep = flaky(http_error(429, **{"Retry-After": "60"}))
    retry = Retry(max_delay=10.0, clamp_retry_after=True)
    assert run(Pipeline("p", retry, clock=fake_clock), dep) == "ok"
    assert fake_clock.sleeps == [10.0]


def test_retry_after_beyond_the_deadline_gives_up(run, flaky, fake_clock, otel_capture):
    """A Retry-After that would end past the deadline gives up at once, with its own reason."""
    error = http_error(503, **{"Retry-After": "8"})
    dep = flaky(error)
    retry = Retry(max_attempts=5, max_delay=10.0, deadline=5.0)
    pipeline = Pipeline("p", retry, clock=fake_clock, **otel_capture.providers)
    assert run.raises(httpx.HTTPStatusError, pipeline, dep) is error
    assert fake_clock.sleeps == []
    event, point = exhausted(otel_capture)
    for attrs in (event, point):
        assert attrs[semconv.RETRY_REASON] == semconv.RETRY_REASON_RETRY_AFTER_EXCEEDS_DEADLINE
    assert event[semconv.RETRY_REQUESTED_DELAY] == 8.0


# -- every give-up records why ----------------------------------------------------------------

REASONS = [
    pytest.param(
        [TimeoutError(), TimeoutError()],
        {"max_attempts": 2},
        semconv.RETRY_REASON_ATTEMPTS,
        None,
        id="attempts",
    ),
    pytest.param(
        [http_error(429, **{"Retry-After": "2"})] * 2,
        {"max_attempts": 2},
        semconv.RETRY_REASON_ATTEMPTS,
        2.0,
        id="attempts-after-retry-after",
    ),
    pytest.param(
        [TimeoutError(), TimeoutError()],
        {"max_attempts": 5, "deadline": 1.5},
        semconv.RETRY_REASON_DEADLINE,
        None,
        id="deadline",
    ),
    pytest.param(
        [http_error(503), http_error(400)],
        {"max_attempts": 5},
        semconv.RETRY_REASON_NOT_RETRYABLE,
        None,
        id="not-retryable-after-a-retry",
    ),
]


@pytest.mark.parametrize(("errors", "options", "reason", "requested"), REASONS)
def test_every_give_up_records_its_reason(
    run, flaky, fake_clock, otel_capture, errors, options, reason, requested
):
    """Span event and counter point carry the reason; the requested delay only the event."""
    dep = flaky(*errors)
    retry = Retry(base_delay=1.0, jitter=False, **options)
    pipeline = Pipeline("p", retry, clock=fake_clock, **otel_capture.providers)
    assert run.raises(Exception, pipeline, dep) is errors[-1]
    event, point = exhausted(otel_capture)
    assert event[semconv.RETRY_REASON] == point[semconv.RETRY_REASON] == reason
    assert event.get(semconv.RETRY_REQUESTED_DELAY) == requested
    assert semconv.RETRY_REQUESTED_DELAY not in point  # unbounded values: no metric series each
    assert point[semconv.STRATEGY] == semconv.STRATEGY_RETRY


def test_a_first_attempt_that_cannot_be_retried_gives_nothing_up(run, flaky, otel_capture):
    """A 400 on the first attempt is no give-up: no retry_exhausted event or point."""
    pipeline = Pipeline("p", Retry(), **otel_capture.providers)
    run.raises(httpx.HTTPStatusError, pipeline, flaky(http_error(400)))
    names = [e.name for e in otel_capture.span("p").events]
    assert semconv.SPAN_EVENT_RETRY_EXHAUSTED not in names
    assert otel_capture.metric_points(semconv.METRIC_EVENTS) == []


@pytest.mark.parametrize(
    ("outcome", "category"),
    [
        (TimeoutError("slow"), "timeout"),
        (http_error(429, **{"Retry-After": "99"}), "rate_limited"),
        (http_response(503), "server_error"),
    ],
    ids=["error", "retry-after-error", "result"],
)
def test_wrapped_give_up_keeps_the_underlying_category(
    run, flaky, fake_clock, otel_capture, outcome, category
):
    """With on_exhausted='wrap' the span's category is the last error's or result's."""
    dep = flaky(outcome, outcome, outcome)
    retry = Retry(max_attempts=3, max_delay=10.0, on_exhausted="wrap")
    pipeline = Pipeline("p", retry, clock=fake_clock, **otel_capture.providers)
    err = run.raises(RetryExhaustedError, pipeline, dep)
    span = otel_capture.span("p")
    assert span.attributes[semconv.ERROR_CATEGORY] == category
    assert span.attributes[semconv.ERROR_TYPE] == "otel_resilience.errors.RetryExhaustedError"
    assert err.reason == exhausted(otel_capture)[0][semconv.RETRY_REASON]


# -- jitter after the cap: the code and the docs say it in the same words ----------------------


def _sentences(text: str) -> list[str]:
    """Sentences of ``text`` with reST ``literals`` as Markdown `code` and whitespace folded."""
    flat = " ".join(text.replace("``", "`").split())
    return re.split(r"(?<=\.)\s+(?=[A-Z])", flat)


def test_docs_state_the_jitter_order_in_the_codes_words():
    """docs/retry.md carries next_delay's sentence on capping before jitter, word for word."""
    tree = ast.parse((ROOT / "otel_resilience/retry/_core.py").read_text())
    (fn,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "next_delay"]
    docstring = ast.get_docstring(fn) or ""
    (sentence,) = [s for s in _sentences(docstring) if "lockstep" in s]
    assert "jitter applied after" in sentence
    docs = " ".join((ROOT / "docs/retry.md").read_text().split())
    assert sentence in docs


def test_capped_delays_keep_their_jitter(run, flaky, fake_clock):
    """The backoff is capped first and jittered after: capped delays are not all max_delay."""
    dep = flaky(*[TimeoutError() for _ in range(4)])
    retry = Retry(max_attempts=5, base_delay=1.0, max_delay=4.0, jitter=0.5, random=lambda: 1.0)
    run(Pipeline("p", retry, clock=fake_clock), dep)
    assert fake_clock.sleeps == [0.5, 1.0, 2.0, 2.0]  # 1, 2, 4, 4 (8 capped), each halved


# -- causal order of events -----------------------------------------------------------------


def test_breaker_transition_follows_the_attempt_that_caused_it(
    run, flaky, fake_clock, otel_capture
):
    """attempt (failure) comes before the state change it caused, then the retry decision."""
    breaker = CircuitBreaker(minimum_calls=1, window=1, window_type="count")
    retry = Retry(max_attempts=3, base_delay=0.5, jitter=False)
    pipeline = Pipeline("p", retry, breaker, clock=fake_clock, **otel_capture.providers)
    run.raises(CircuitOpenError, pipeline, flaky(ConnectionError()))
    names = [e.name for e in otel_capture.span("p").events]
    assert names == [
        semconv.SPAN_EVENT_ATTEMPT,
        semconv.SPAN_EVENT_CIRCUIT_STATE_CHANGE,
        semconv.SPAN_EVENT_RETRY,
        semconv.SPAN_EVENT_CIRCUIT_REJECTED,
        semconv.SPAN_EVENT_EXCEPTION,
    ]
