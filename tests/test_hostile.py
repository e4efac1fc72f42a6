"""Hostile input never fails, hangs or changes the protected call; bad options fail fast."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.sampling import Sampler, SamplingResult
from opentelemetry.trace import StatusCode

from otel_resilience import (
    CircuitBreaker,
    Pipeline,
    Retry,
    RetryExhaustedError,
    RetryPolicy,
    attempts_of,
    semconv,
)

# -- hostile exceptions ---------------------------------------------------------------------


class Unprintable(ConnectionError):
    """An exception whose text cannot be computed."""

    def __str__(self) -> str:
        raise RuntimeError("no text for you")


class Frozen(ConnectionError):
    """An exception that refuses every attribute assignment."""

    def __setattr__(self, name: str, value: Any) -> None:
        raise RuntimeError(f"{type(self).__name__} is frozen")


def test_unprintable_exception_keeps_its_span(run, flaky, fake_clock, otel_capture):
    """The span of a call failing with an unprintable exception is exported, ERROR, with it."""
    error = Unprintable()
    retry = Retry(max_attempts=2, base_delay=0.1)
    pipeline = Pipeline("p", retry, CircuitBreaker(), clock=fake_clock, **otel_capture.providers)
    assert run.raises(Unprintable, pipeline, flaky(error, error)) is error
    span = otel_capture.span("p")
    assert span.status.status_code is StatusCode.ERROR
    (event,) = [e for e in span.events if e.name == semconv.SPAN_EVENT_EXCEPTION]
    assert event.attributes[semconv.EXCEPTION_TYPE].endswith("Unprintable")
    assert span.attributes[semconv.ERROR_CATEGORY] == "connection"


@pytest.mark.parametrize("on_exhausted", ["raise", "wrap"])
def test_frozen_exception_reaches_the_caller(run, flaky, fake_clock, on_exhausted):
    """An exception whose __setattr__ raises still reaches the caller after Retry gives up."""
    error = Frozen()
    retry = Retry(max_attempts=2, base_delay=0.1, on_exhausted=on_exhausted)
    pipeline = Pipeline("p", retry, clock=fake_clock)
    if on_exhausted == "raise":
        assert run.raises(Frozen, pipeline, flaky(Frozen(), error)) is error
        assert attempts_of(error) is None  # the count could not be attached: no harm done
    else:
        wrapped = run.raises(RetryExhaustedError, pipeline, flaky(Frozen(), error))
        assert wrapped.last_error is error
        assert wrapped.__cause__ is error


class EndlessHeaders:
    """Header-like object whose items() never ends."""

    def items(self) -> Iterator[tuple[str, str]]:
        n = 0
        while True:
            n += 1
            yield (f"x-filler-{n}", "1")

    def get(self, name: str, default: Any = None) -> Any:
        return default


class Endless429(Exception):
    """A rate-limit error whose response headers never end."""

    def __init__(self) -> None:
        super().__init__("slow down")
        self.response = type("Response", (), {"status_code": 429, "headers": EndlessHeaders()})()


def test_endless_headers_do_not_hang_the_call(run, flaky, fake_clock, otel_capture):
    """A header mapping that never ends: the call still returns, in bounded time."""
    retry = Retry(max_attempts=3, base_delay=0.1, jitter=False)
    pipeline = Pipeline("p", retry, CircuitBreaker(), clock=fake_clock, **otel_capture.providers)
    dep = flaky(Endless429(), Endless429())
    outcome: list[Any] = []
    worker = threading.Thread(target=lambda: outcome.append(run(pipeline, dep)), daemon=True)
    worker.start()
    worker.join(timeout=10.0)  # generous on a loaded machine; the call takes milliseconds
    assert not worker.is_alive(), "the call hung reading headers"
    assert outcome == ["ok"]
    assert dep.calls == 3
    assert fake_clock.sleeps == [0.1, 0.2]  # no Retry-After found: the plain backoff


# -- bad options fail fast --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("factory", "field"),
    [
        (lambda: Retry(max_delay=1e12), "max_delay"),
        (lambda: Retry(base_delay=1e12, max_delay=1e12), "base_delay"),
        (lambda: Retry(deadline=1e12), "deadline"),
        (lambda: Retry(max_attempts=None), "max_attempts"),  # type: ignore[arg-type]
        (lambda: Retry(max_delay=math.inf), "max_delay"),
        (lambda: RetryPolicy(max_delay=1e12), "max_delay"),
    ],
    ids=["max_delay", "base_delay", "deadline", "max_attempts-None", "max_delay-inf", "policy"],
)
def test_options_that_would_overflow_or_mean_nothing_fail_fast(factory, field):
    """Durations beyond what sleep() takes, and max_attempts=None, are ValueErrors naming them."""
    with pytest.raises(ValueError, match=field):
        factory()


# -- a broken random source -------------------------------------------------------------------


def _raising() -> float:
    raise RuntimeError("entropy ran out")


@pytest.mark.parametrize(
    "random",
    [lambda: -5.0, lambda: 7.0, lambda: math.nan, lambda: math.inf, _raising],
    ids=["-5", "7", "nan", "inf", "raises"],
)
@pytest.mark.parametrize("backoff", ["exponential", "decorrelated", "linear", "constant"])
def test_broken_random_source_gives_sane_sleeps(run, flaky, fake_clock, random, backoff):
    """Whatever random() returns or raises, every sleep is finite and in [0, max_delay]."""
    dep = flaky(*[TimeoutError() for _ in range(5)])
    retry = Retry(max_attempts=6, backoff=backoff, base_delay=1.0, max_delay=4.0, random=random)
    assert run(Pipeline("p", retry, clock=fake_clock), dep) == "ok"
    assert len(fake_clock.sleeps) == 5
    for delay in fake_clock.sleeps:
        assert math.isfinite(delay)
        assert 0.0 <= delay <= 4.0


# -- a broken tracing SDK ---------------------------------------------------------------------


class RaisingSampler(Sampler):
    """A sampler that raises on every decision."""

    def should_sample(self, *args: Any, **kwargs: Any) -> SamplingResult:
        raise RuntimeError("sampler on fire")

    def get_description(self) -> str:
        return "raising"


class RaisingProcessor(SpanProcessor):
    """A span processor raising in ``on_start`` or in ``on_end``."""

    def __init__(self, where: str) -> None:
        self.where = where

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        if self.where == "on_start":
            raise RuntimeError("processor on_start on fire")

    def on_end(self, span: Any) -> None:
        if self.where == "on_end":
            raise RuntimeError("processor on_end on fire")


def _provider(kind: str) -> TracerProvider:
    if kind == "sampler":
        return TracerProvider(sampler=RaisingSampler())
    provider = TracerProvider()
    provider.add_span_processor(RaisingProcessor(kind))
    return provider


@pytest.mark.parametrize("kind", ["sampler", "on_start", "on_end"])
def test_raising_tracing_sdk_never_fails_the_call(run, flaky, fake_clock, kind):
    """A sampler or span processor that raises: the call returns its value or its own error."""
    provider = _provider(kind)
    try:
        retry = Retry(max_attempts=2, base_delay=0.1)
        pipeline = Pipeline(
            "p", retry, CircuitBreaker(), clock=fake_clock, tracer_provider=provider
        )
        assert run(pipeline, flaky(TimeoutError())) == "ok"
        own = KeyError("mine")
        assert run.raises(KeyError, pipeline, flaky(own)) is own
    finally:
        provider.shutdown()
