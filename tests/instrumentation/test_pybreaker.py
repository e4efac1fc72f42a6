"""ResiliencePybreakerInstrumentor: pybreaker's own breakers, unchanged, with exact telemetry."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pybreaker
import pytest
from libs_support import BrokenSpan, Flaky, entry_point_target, events, imports_after, instrumented
from opentelemetry import trace
from otel_resilience_instrumentation.pybreaker import ResiliencePybreakerInstrumentor

from otel_resilience import semconv

CLOSED, OPEN, HALF_OPEN = (
    semconv.CIRCUIT_STATE_CLOSED,
    semconv.CIRCUIT_STATE_OPEN,
    semconv.CIRCUIT_STATE_HALF_OPEN,
)
# The transitions drive() makes a breaker go through.
DRIVEN = [
    (CLOSED, OPEN),
    (OPEN, HALF_OPEN),
    (HALF_OPEN, OPEN),
    (OPEN, HALF_OPEN),
    (HALF_OPEN, CLOSED),
]


@pytest.fixture
def instrumentor(otel_capture) -> Iterator[ResiliencePybreakerInstrumentor]:
    """Instrumented with the capture's providers; un-instrumented after the test."""
    with instrumented(ResiliencePybreakerInstrumentor(), otel_capture) as inst:
        yield inst


def failing() -> str:
    """A dependency that is down."""
    raise ConnectionError("down")


def attempt(breaker: pybreaker.CircuitBreaker, fn=failing) -> str:
    """Call through ``breaker``: the value, or the name of the exception it raised."""
    try:
        return breaker.call(fn)
    except Exception as exc:
        return type(exc).__name__


def drive(breaker: pybreaker.CircuitBreaker) -> list[str]:
    """Open (2 failures), be rejected, fail the half-open trial, then close on a success."""
    seen = [attempt(breaker), attempt(breaker), attempt(breaker, Flaky(0).step)]
    breaker.reset_timeout = 0  # the break is over: the next call is a half-open trial
    seen += [attempt(breaker), attempt(breaker, Flaky(0).step)]
    return seen


def gauge(capture, name: str) -> dict[str, int]:
    """The resilience.circuit_breaker.state points of breaker ``name``: state -> value."""
    points = capture.metric_points(
        semconv.METRIC_CIRCUIT_BREAKER_STATE, **{semconv.CIRCUIT_BREAKER_NAME: name}
    )
    return {p.attributes[semconv.CIRCUIT_BREAKER_STATE]: p.value for p in points}


def transitions(capture) -> list[tuple[str, str, str]]:
    """(name, previous state, state) of every state_change log record, in order."""
    return [
        (
            r.log_record.attributes[semconv.CIRCUIT_BREAKER_NAME],
            r.log_record.attributes[semconv.CIRCUIT_BREAKER_PREVIOUS_STATE],
            r.log_record.attributes[semconv.CIRCUIT_BREAKER_STATE],
        )
        for r in capture.logs(semconv.LOG_EVENT_CIRCUIT_STATE_CHANGE)
    ]


def test_transitions_unchanged_and_recorded(otel_capture):
    """A breaker created before instrument(): same answers, one log record per transition."""
    expected = ["ConnectionError", "CircuitBreakerError", "CircuitBreakerError"]
    expected += ["CircuitBreakerError", "ok"]
    plain = pybreaker.CircuitBreaker(fail_max=2, reset_timeout=60, name="plain")
    breaker = pybreaker.CircuitBreaker(fail_max=2, reset_timeout=60, name="db")
    assert drive(plain) == expected
    with instrumented(ResiliencePybreakerInstrumentor(), otel_capture):
        assert drive(breaker) == expected
    assert breaker.current_state == plain.current_state == "closed"
    assert breaker.fail_counter == plain.fail_counter == 0
    assert transitions(otel_capture) == [("db", *t) for t in DRIVEN]
    (record, *_) = otel_capture.logs(semconv.LOG_EVENT_CIRCUIT_STATE_CHANGE)
    assert record.log_record.severity_text == "INFO"
    points = otel_capture.metric_points(
        semconv.METRIC_EVENTS, **{semconv.STRATEGY: semconv.STRATEGY_PYBREAKER}
    )
    assert {
        (p.attributes[semconv.PIPELINE_NAME], p.attributes[semconv.EVENT]): p.value for p in points
    } == {
        ("db", semconv.EVENT_CIRCUIT_OPENED): 2,
        ("db", semconv.EVENT_CIRCUIT_HALF_OPENED): 2,
        ("db", semconv.EVENT_CIRCUIT_CLOSED): 1,
    }


def test_gauge_follows_the_state(instrumentor, otel_capture):
    """The state gauge reports 1 for the breaker's state and 0 for the two others."""
    breaker = pybreaker.CircuitBreaker(fail_max=1, reset_timeout=60, name="payments")
    assert gauge(otel_capture, "payments") == {CLOSED: 1, OPEN: 0, HALF_OPEN: 0}
    assert attempt(breaker) == "CircuitBreakerError"
    assert gauge(otel_capture, "payments") == {CLOSED: 0, OPEN: 1, HALF_OPEN: 0}
    breaker.half_open()
    assert gauge(otel_capture, "payments") == {CLOSED: 0, OPEN: 0, HALF_OPEN: 1}
    breaker.close()
    assert gauge(otel_capture, "payments") == {CLOSED: 1, OPEN: 0, HALF_OPEN: 0}


def test_events_on_the_current_span(instrumentor, otel_capture):
    """A transition inside a span is also an event of that span, as the core breaker's are."""
    breaker = pybreaker.CircuitBreaker(fail_max=1, name="search")
    with otel_capture.tracer_provider.get_tracer("test").start_as_current_span("caller"):
        attempt(breaker)
    assert events(otel_capture.span("caller"), semconv.SPAN_EVENT_CIRCUIT_STATE_CHANGE) == [
        {
            semconv.CIRCUIT_BREAKER_NAME: "search",
            semconv.CIRCUIT_BREAKER_PREVIOUS_STATE: CLOSED,
            semconv.CIRCUIT_BREAKER_STATE: OPEN,
        }
    ]


def test_a_broken_span_does_not_change_pybreaker(instrumentor, otel_capture):
    """A current span whose add_event raises: the breaker opens and answers exactly as before."""
    breaker = pybreaker.CircuitBreaker(fail_max=2, reset_timeout=60, name="broken")
    with trace.use_span(BrokenSpan()):
        assert [attempt(breaker) for _ in range(3)] == [
            "ConnectionError",
            "CircuitBreakerError",
            "CircuitBreakerError",
        ]
    assert breaker.current_state == "open"
    assert gauge(otel_capture, "broken")[OPEN] == 1
    assert transitions(otel_capture) == [("broken", CLOSED, OPEN)]


def test_no_record_without_a_change(instrumentor, otel_capture):
    """Construction and close() of a closed breaker notify pybreaker's listeners, not us."""
    breaker = pybreaker.CircuitBreaker(name="idle")
    breaker.close()
    breaker.open()
    assert transitions(otel_capture) == [("idle", CLOSED, OPEN)]


def test_unnamed_breakers(instrumentor, otel_capture):
    """An unnamed breaker's records say `pybreaker`; it stays out of the gauge (no name)."""
    breaker = pybreaker.CircuitBreaker(fail_max=1)
    attempt(breaker)
    assert transitions(otel_capture) == [(semconv.STRATEGY_PYBREAKER, CLOSED, OPEN)]
    assert otel_capture.metric_points(semconv.METRIC_CIRCUIT_BREAKER_STATE) == []


def test_uninstrument_restores_the_originals(otel_capture, caplog):
    """uninstrument() puts pybreaker's method back and the gauge stops; instrument() twice warns."""
    original = pybreaker.CircuitBreaker.__dict__["_create_new_state"]
    instrumentor = ResiliencePybreakerInstrumentor()
    with instrumented(instrumentor, otel_capture):
        assert pybreaker.CircuitBreaker.__dict__["_create_new_state"] is not original
        with caplog.at_level(logging.WARNING):
            instrumentor.instrument(**otel_capture.providers)
        assert "already instrumented" in caplog.text
        breaker = pybreaker.CircuitBreaker(fail_max=1, name="orders")
        attempt(breaker)
    assert pybreaker.CircuitBreaker.__dict__["_create_new_state"] is original
    assert gauge(otel_capture, "orders") == {}
    breaker.close()
    assert transitions(otel_capture) == [("orders", CLOSED, OPEN)]  # once: not doubled, not after


def test_entry_point_and_lazy_import():
    """Entry point resilience_pybreaker; importing the module does not import pybreaker."""
    target = "otel_resilience_instrumentation.pybreaker:ResiliencePybreakerInstrumentor"
    assert entry_point_target("resilience_pybreaker") == target
    assert "pybreaker" not in imports_after("otel_resilience_instrumentation.pybreaker")
