"""Every telemetry name emitted is a semconv constant and is documented in docs/telemetry.md."""

from __future__ import annotations

import re
from contextlib import suppress
from pathlib import Path

import pytest

from otel_resilience import CircuitBreaker, CircuitOpenError, Pipeline, Retry, semconv

DOC = Path(__file__).resolve().parent.parent / "docs" / "telemetry.md"
# Names owned by OpenTelemetry itself (span.record_exception), not by this project.
OTEL_OWNED = {
    "exception",
    "exception.type",
    "exception.message",
    "exception.stacktrace",
    "exception.escaped",
}
ENUMERATED = {
    semconv.OUTCOME,
    semconv.STRATEGY,
    semconv.EVENT,
    semconv.CIRCUIT_BREAKER_STATE,
    semconv.CIRCUIT_BREAKER_PREVIOUS_STATE,
    semconv.ATTEMPT_OUTCOME,
    semconv.CHAOS_KIND,
    semconv.RETRY_REASON,
    semconv.HEALTH_PROBE_RESULT,
    semconv.STREAM_STATE,
    semconv.STREAM_PREVIOUS_STATE,
}


def semconv_values() -> set[str]:
    """All string constants of the semconv module."""
    return {v for k, v in vars(semconv).items() if k.isupper() and isinstance(v, str)}


def emitted_names(fake_clock, capture) -> set[str]:
    """Drive every code path that emits telemetry and collect the names (and enum values)."""
    breaker = CircuitBreaker(minimum_calls=2, window=4, window_type="count", break_duration=1.0)
    pipeline = Pipeline(
        "names",
        Retry(max_attempts=2, base_delay=0.0),
        breaker,
        clock=fake_clock,
        **capture.providers,
    )
    for _ in range(2):
        with pytest.raises((ConnectionError, CircuitOpenError)):
            pipeline.call(_down)
    fake_clock.advance(1.0)
    pipeline.call(lambda: "ok")
    breaker.isolate()
    _timeout_scenario(fake_clock, capture)
    _budget_and_chaos_scenario(fake_clock, capture)
    _health_scenario(fake_clock, capture)
    _stream_scenario(fake_clock, capture)
    names: set[str] = set()
    for span in capture.spans():
        for key, value in span.attributes.items():
            names.add(key)
            if key in ENUMERATED:
                names.add(str(value))
        for event in span.events:
            names.add(event.name)
            for key, value in event.attributes.items():
                names.add(key)
                if key in ENUMERATED:
                    names.add(str(value))
    for record in capture.logs():
        names.add(record.log_record.event_name)
        for key, value in record.log_record.attributes.items():
            names.add(key)
            if key in ENUMERATED:
                names.add(str(value))
    for metric, points in capture.metrics().items():
        names.add(metric)
        for point in points:
            for key, value in point.attributes.items():
                names.add(key)
                if key in ENUMERATED:
                    names.add(str(value))
    return names - OTEL_OWNED


def _down() -> None:
    raise ConnectionError


def _timeout_scenario(fake_clock, capture) -> None:
    """A Timeout that fires (a late call)."""
    from otel_resilience.errors import ResilienceTimeoutError
    from otel_resilience.timeout import Timeout

    timed = Pipeline("timed", Timeout(seconds=1), clock=fake_clock, **capture.providers)
    with pytest.raises(ResilienceTimeoutError):
        timed.call(fake_clock.advance, 2.0)


def _budget_and_chaos_scenario(fake_clock, capture) -> None:
    """A RetryBudget refusing a retry (and its gauge), a Chaos injecting a fault."""
    from otel_resilience.chaos import Chaos
    from otel_resilience.retry_budget import RetryBudget

    budget = RetryBudget(max_tokens=2)
    chaos = Chaos.fault(rate=1.0, error=ConnectionError, enabled=True)
    chaotic = Pipeline(
        "chaotic", Retry(budget=budget), chaos, clock=fake_clock, **capture.providers
    )
    with pytest.raises(ConnectionError):
        chaotic.call(lambda: "never")


def _health_scenario(fake_clock, capture) -> None:
    """An adaptive breaker with a health check: a failed probe, then a passing one."""
    from otel_resilience.circuit_breaker import AdaptiveThreshold

    answers = [False, True]
    breaker = CircuitBreaker(
        minimum_calls=2,
        window=4,
        window_type="count",
        break_duration=60.0,
        health_check=lambda: answers.pop(0),
        adaptive=AdaptiveThreshold(),
    )
    probed = Pipeline("probed", breaker, clock=fake_clock, **capture.providers)
    for _ in range(2):
        with pytest.raises(ConnectionError):
            probed.call(_down)
    for _ in range(2):
        fake_clock.advance(5.0)
        with suppress(CircuitOpenError):
            probed.call(lambda: "ok")
    assert answers == []


def _stream_scenario(fake_clock, capture) -> None:
    """A monitored stream with tokens, paused, resumed, then failing; another one cancelled."""
    from otel_resilience import monitor_stream

    def chunks():
        yield "ab"
        fake_clock.advance(1.0)
        yield "cd"
        raise ConnectionError

    stream = monitor_stream(
        chunks(), name="names", clock=fake_clock, count_tokens=len, **_tp(capture)
    )
    next(stream)
    stream.pause()
    stream.resume()
    with pytest.raises(ConnectionError):
        list(stream)
    monitor_stream(["x"], name="cancelled", **_tp(capture)).cancel()
    idle = monitor_stream(["x"], name="cancelled", **_tp(capture))
    next(idle)
    idle.cancel()


def _tp(capture):
    return {"tracer_provider": capture.tracer_provider}


def test_emitted_names_are_constants(fake_clock, otel_capture):
    """Nothing is emitted under a name missing from otel_resilience.semconv."""
    names = emitted_names(fake_clock, otel_capture)
    assert len(names) > 20
    assert names - semconv_values() == set()


def test_every_constant_is_documented():
    """docs/telemetry.md mentions every semconv string in backticks."""
    documented = set(re.findall(r"`([^`]+)`", DOC.read_text()))
    missing = sorted(semconv_values() - documented)
    assert missing == []
