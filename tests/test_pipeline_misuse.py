"""Misuse of a pipeline is a clear TypeError at the call, not a silent success or a warning."""

from __future__ import annotations

import asyncio
import functools
import gc
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from otel_resilience import CircuitBreaker, CircuitOpenError, CircuitState, Pipeline, Retry, semconv
from otel_resilience.testing import FakeClock


async def fetch(x: int = 0) -> int:
    """An async dependency."""
    return x


class Awaitable:
    """An awaitable that is no coroutine (like aiohttp's request context managers)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __await__(self) -> Iterator[Any]:
        yield from asyncio.sleep(0).__await__()
        return self.value


def half_open(clock: FakeClock, providers: dict[str, Any]) -> tuple[Pipeline, CircuitBreaker]:
    """Retry around a breaker waiting for its one probe (a success closes it, a failure reopens)."""
    breaker = CircuitBreaker(minimum_calls=1, window=1, window_type="count", break_duration=5.0)
    pipeline = Pipeline(
        "p", Retry(max_attempts=5, base_delay=0.0), breaker, clock=clock, **providers
    )
    with pytest.raises(CircuitOpenError):  # the first failure opens it, the retry is refused
        pipeline.call(_down)
    clock.advance(5.0)
    assert breaker.state is CircuitState.HALF_OPEN
    return pipeline, breaker


def _down() -> None:
    raise ConnectionError


@pytest.fixture
def no_warnings() -> Iterator[None]:
    """Fail the test on any warning, "coroutine ... was never awaited" included."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield
        gc.collect()


def test_call_refuses_a_coroutine_function(no_warnings, fake_clock, otel_capture):
    """call() with an async function raises TypeError naming acall, and records a failure."""
    pipeline = Pipeline("p", clock=fake_clock, **otel_capture.providers)
    with pytest.raises(TypeError, match="acall"):
        pipeline.call(fetch)
    span = otel_capture.span("p")
    assert span.attributes[semconv.OUTCOME] == semconv.OUTCOME_FAILURE
    assert span.attributes[semconv.ERROR_CATEGORY] == "invalid_request"  # ours: never unknown


@pytest.mark.parametrize("recording", [True, False], ids=["telemetry", "no-telemetry"])
def test_call_misuse_is_no_verdict_for_retry_and_breaker(no_warnings, recording, otel_capture):
    """The misuse is not retried, and a half-open breaker neither closes nor reopens on it."""
    clock = FakeClock()
    pipeline, breaker = half_open(clock, otel_capture.providers if recording else {})
    calls: list[int] = []

    def make_coroutine() -> Any:
        calls.append(1)
        return fetch()

    with pytest.raises(TypeError, match="acall"):
        pipeline.call(make_coroutine)
    assert calls == [1]
    assert breaker.state is CircuitState.HALF_OPEN
    assert pipeline.call(lambda: "probe") == "probe"
    assert breaker.state is CircuitState.CLOSED  # the probe slot was given back


def test_acall_refuses_a_coroutine_object(no_warnings, fake_clock):
    """acall(fn()) raises TypeError asking for the function, and closes the coroutine."""
    pipeline = Pipeline("p", Retry(), clock=fake_clock)
    with pytest.raises(TypeError, match="coroutine object"):
        asyncio.run(pipeline.acall(fetch(1)))  # type: ignore[arg-type]


@pytest.mark.parametrize("recording", [True, False], ids=["telemetry", "no-telemetry"])
def test_call_refuses_a_coroutine_object(no_warnings, recording, otel_capture):
    """call(fn()) with a coroutine raises TypeError naming acall, and closes the coroutine."""
    pipeline = Pipeline("p", Retry(), **(otel_capture.providers if recording else {}))
    with pytest.raises(TypeError, match="acall"):
        pipeline.call(fetch(1))  # type: ignore[arg-type]


@pytest.mark.parametrize("recording", [True, False], ids=["telemetry", "no-telemetry"])
def test_acall_refuses_a_plain_result(no_warnings, recording, otel_capture):
    """acall with a function returning a plain value is a TypeError: not retried, no verdict."""
    clock = FakeClock()
    pipeline, breaker = half_open(clock, otel_capture.providers if recording else {})
    calls: list[int] = []

    def plain() -> int:
        calls.append(1)
        return 1

    with pytest.raises(TypeError, match=r"call\(\)"):
        asyncio.run(pipeline.acall(plain))  # type: ignore[arg-type]
    assert calls == [1]
    assert breaker.state is CircuitState.HALF_OPEN
    assert asyncio.run(pipeline.acall(fetch, 2)) == 2
    assert breaker.state is CircuitState.CLOSED  # the probe slot was given back


def test_acall_takes_plain_functions_returning_awaitables(fake_clock):
    """A partial of an async function or a function returning an awaitable is fine."""
    pipeline = Pipeline("p", Retry(), clock=fake_clock)
    assert asyncio.run(pipeline.acall(functools.partial(fetch, 3))) == 3
    assert asyncio.run(pipeline.acall(lambda: Awaitable(4))) == 4
    assert asyncio.run(pipeline.acall(lambda: fetch(5))) == 5


def test_decorator_refuses_generators():
    """Decorating a generator or async generator function says streams are not supported yet."""
    pipeline = Pipeline("p")

    def numbers() -> Iterator[int]:
        yield 1

    async def anumbers() -> Any:
        yield 1

    for fn in (numbers, anumbers):
        with pytest.raises(TypeError, match="stream"):
            pipeline(fn)
