"""ResilienceTenacityInstrumentor: tenacity's own decorators, unchanged, with exact telemetry."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import tenacity
from libs_support import (
    BrokenSpan,
    Flaky,
    counted,
    entry_point_target,
    events,
    imports_after,
    instrumented,
)
from opentelemetry import trace
from otel_resilience_instrumentation.tenacity import ResilienceTenacityInstrumentor
from tenacity.asyncio import AsyncRetrying

from otel_resilience import semconv

RETRY, EXHAUSTED = semconv.EVENT_RETRY, semconv.EVENT_RETRY_EXHAUSTED
TENACITY = semconv.STRATEGY_TENACITY


@pytest.fixture
def instrumentor(otel_capture) -> Iterator[ResilienceTenacityInstrumentor]:
    """Instrumented with the capture's providers; un-instrumented after the test."""
    with instrumented(ResilienceTenacityInstrumentor(), otel_capture) as inst:
        yield inst


def run_sync(flaky: Flaky, **options: Any) -> tuple[Any, list[float]]:
    """Decorate ``flaky.step`` with tenacity, call it once: (result or exception, sleeps)."""
    sleeps: list[float] = []

    @tenacity.retry(sleep=sleeps.append, **options)
    def fetch() -> str:
        return flaky.step()

    try:
        return fetch(), sleeps
    except BaseException as exc:
        return exc, sleeps


def test_sync_retries_unchanged_and_recorded(otel_capture):
    """Each sync retry is one resilience.retry with the failed attempt and tenacity's delay."""
    options = {"wait": tenacity.wait_exponential(multiplier=0.5), "stop": tenacity.stop_never}
    plain = Flaky(3)
    before = run_sync(plain, **options)
    flaky = Flaky(3)
    tracer = otel_capture.tracer_provider.get_tracer("test")
    with (
        instrumented(ResilienceTenacityInstrumentor(), otel_capture),
        tracer.start_as_current_span("caller"),
    ):
        after = run_sync(flaky, **options)
    assert after == before == ("ok", [0.5, 1.0, 2.0])
    assert flaky.calls == plain.calls == 4
    assert events(otel_capture.span("caller")) == [
        {
            semconv.ATTEMPT_NUMBER: n,
            semconv.ERROR_TYPE: "ConnectionError",
            semconv.ERROR_CATEGORY: "connection",
            semconv.RETRY_DELAY: delay,
        }
        for n, delay in ((1, 0.5), (2, 1.0), (3, 2.0))
    ]
    pipeline = f"{__name__}.run_sync.<locals>.fetch"
    assert counted(otel_capture, TENACITY, RETRY) == {(pipeline, None): 3}
    assert counted(otel_capture, TENACITY, EXHAUSTED) == {}


def test_async_retries_unchanged_and_recorded(otel_capture):
    """AsyncRetrying (an async decorated function) records its retries the same way."""

    async def scenario(flaky: Flaky) -> tuple[Any, list[float]]:
        sleeps: list[float] = []

        async def nap(seconds: float) -> None:
            sleeps.append(seconds)

        @tenacity.retry(sleep=nap, wait=tenacity.wait_incrementing(start=1, increment=1))
        async def fetch() -> str:
            await asyncio.sleep(0)
            return flaky.step()

        return await fetch(), sleeps

    plain, flaky = Flaky(2), Flaky(2)
    before = asyncio.run(scenario(plain))
    tracer = otel_capture.tracer_provider.get_tracer("test")

    async def traced() -> tuple[Any, list[float]]:
        with tracer.start_as_current_span("caller"):
            return await scenario(flaky)

    with instrumented(ResilienceTenacityInstrumentor(), otel_capture):
        after = asyncio.run(traced())
    assert after == before == ("ok", [1.0, 2.0])
    assert flaky.calls == plain.calls == 3
    recorded = events(otel_capture.span("caller"))
    assert [(e[semconv.ATTEMPT_NUMBER], e[semconv.RETRY_DELAY]) for e in recorded] == [
        (1, 1.0),
        (2, 2.0),
    ]
    pipeline = (
        f"{__name__}.test_async_retries_unchanged_and_recorded.<locals>.scenario.<locals>.fetch"
    )
    assert counted(otel_capture, TENACITY, RETRY) == {(pipeline, None): 2}


@pytest.mark.parametrize("reraise", [False, True])
def test_give_up_after_attempts(otel_capture, reraise):
    """stop_after_attempt: the same exception as without us, and one retry_exhausted (attempts)."""
    options = {"stop": tenacity.stop_after_attempt(3), "reraise": reraise}
    plain, flaky = Flaky(10), Flaky(10)
    before, _ = run_sync(plain, **options)
    tracer = otel_capture.tracer_provider.get_tracer("test")
    with (
        instrumented(ResilienceTenacityInstrumentor(), otel_capture),
        tracer.start_as_current_span("caller"),
    ):
        after, _ = run_sync(flaky, **options)
    assert type(after) is type(before) is (ConnectionError if reraise else tenacity.RetryError)
    assert flaky.calls == plain.calls == 3
    span = otel_capture.span("caller")
    assert [e[semconv.ATTEMPT_NUMBER] for e in events(span)] == [1, 2]
    assert events(span, semconv.SPAN_EVENT_RETRY_EXHAUSTED) == [
        {
            semconv.ATTEMPT_NUMBER: 3,
            semconv.ERROR_TYPE: "ConnectionError",
            semconv.ERROR_CATEGORY: "connection",
            semconv.RETRY_REASON: semconv.RETRY_REASON_ATTEMPTS,
        }
    ]
    pipeline = f"{__name__}.run_sync.<locals>.fetch"
    assert counted(otel_capture, TENACITY, EXHAUSTED) == {
        (pipeline, semconv.RETRY_REASON_ATTEMPTS): 1
    }


def test_give_up_reasons(instrumentor, otel_capture):
    """A time stop gives up for `deadline`, an error not retried after retries `not_retryable`."""
    run_sync(Flaky(10), stop=tenacity.stop_after_delay(0))
    errors = iter([ConnectionError("retried"), ValueError("not retried")])

    @tenacity.retry(sleep=lambda _s: None, retry=tenacity.retry_if_exception_type(ConnectionError))
    def fetch() -> str:
        raise next(errors)

    with pytest.raises(ValueError, match="not retried"):
        fetch()
    first_refused = Flaky(1, ValueError)
    assert isinstance(
        run_sync(first_refused, retry=tenacity.retry_if_exception_type(KeyError))[0], ValueError
    )
    assert counted(otel_capture, TENACITY, EXHAUSTED) == {
        (f"{__name__}.run_sync.<locals>.fetch", semconv.RETRY_REASON_DEADLINE): 1,
        (f"{__name__}.test_give_up_reasons.<locals>.fetch", semconv.RETRY_REASON_NOT_RETRYABLE): 1,
    }


def test_retried_results(instrumentor, otel_capture):
    """retry_if_result: error.type is the result's (`_OTHER`), and a give-up carries it too."""
    answers = iter([None, None, None])
    tracer = otel_capture.tracer_provider.get_tracer("test")

    @tenacity.retry(
        retry=tenacity.retry_if_result(lambda r: r is None),
        stop=tenacity.stop_after_attempt(3),
        sleep=lambda _s: None,
        retry_error_callback=lambda state: "fallback",
    )
    def fetch() -> str | None:
        return next(answers)

    with tracer.start_as_current_span("caller"):
        assert fetch() == "fallback"
    span = otel_capture.span("caller")
    assert [e[semconv.ERROR_TYPE] for e in events(span)] == ["_OTHER", "_OTHER"]
    (gave_up,) = events(span, semconv.SPAN_EVENT_RETRY_EXHAUSTED)
    assert gave_up[semconv.ATTEMPT_NUMBER] == 3
    assert gave_up[semconv.ERROR_TYPE] == "_OTHER"


def test_counts_without_a_span(instrumentor, otel_capture):
    """With no current span there is no event to write, but every retry is still counted."""
    result, _ = run_sync(Flaky(2))
    assert result == "ok"
    assert trace.get_current_span() is trace.INVALID_SPAN
    assert counted(otel_capture, TENACITY, RETRY) == {
        (f"{__name__}.run_sync.<locals>.fetch", None): 2
    }
    assert otel_capture.spans() == []


def test_iterator_style_uses_the_controller_name(instrumentor, otel_capture):
    """`for attempt in Retrying(...)` has no function: the controller's name, else `tenacity`."""
    for name, expected in (("fetch-users", "fetch-users"), (None, TENACITY)):
        flaky = Flaky(1)
        for attempt in tenacity.Retrying(sleep=lambda _s: None, name=name):
            with attempt:
                flaky.step()
        assert flaky.calls == 2
        assert counted(otel_capture, TENACITY, RETRY)[(expected, None)] == 1


def test_async_iterator_style(instrumentor, otel_capture):
    """`async for attempt in AsyncRetrying(...)` goes through the same decisions."""
    flaky = Flaky(2)

    async def nap(seconds: float) -> None:
        pass

    async def scenario() -> None:
        retrying = AsyncRetrying(sleep=nap, wait=tenacity.wait_fixed(3), name="sync-users")
        async for attempt in retrying:
            with attempt:
                flaky.step()

    asyncio.run(scenario())
    assert flaky.calls == 3
    assert counted(otel_capture, TENACITY, RETRY) == {("sync-users", None): 2}


def test_a_broken_span_does_not_change_tenacity(instrumentor, otel_capture):
    """A current span whose add_event raises: tenacity retries and returns exactly as before."""
    flaky = Flaky(2)
    with trace.use_span(BrokenSpan()):
        assert run_sync(flaky) == ("ok", [0, 0])
    assert flaky.calls == 3


def test_stamina_controllers_are_left_to_the_stamina_instrumentor(instrumentor, otel_capture):
    """stamina drives tenacity: its retries are not recorded again as tenacity's."""
    import stamina

    flaky = Flaky(2)

    @stamina.retry(on=ConnectionError, attempts=3)
    def fetch() -> str:
        return flaky.step()

    with stamina.set_testing(True, attempts=3):
        assert fetch() == "ok"
    assert flaky.calls == 3
    assert otel_capture.metric_points(semconv.METRIC_EVENTS) == []


def test_uninstrument_restores_the_originals(otel_capture, caplog):
    """uninstrument() puts tenacity's own iter() back; a second instrument() only warns."""
    originals = (tenacity.BaseRetrying.__dict__["iter"], AsyncRetrying.__dict__["iter"])
    instrumentor = ResilienceTenacityInstrumentor()
    with instrumented(instrumentor, otel_capture):
        assert tenacity.BaseRetrying.__dict__["iter"] is not originals[0]
        with caplog.at_level(logging.WARNING):
            instrumentor.instrument(**otel_capture.providers)
        assert "already instrumented" in caplog.text
        run_sync(Flaky(1))
    assert tenacity.BaseRetrying.iter is originals[0]
    assert AsyncRetrying.iter is originals[1]
    run_sync(Flaky(1))
    assert sum(counted(otel_capture, TENACITY, RETRY).values()) == 1  # once: not doubled, not after


def test_entry_point_and_lazy_import():
    """Entry point resilience_tenacity; importing the module does not import tenacity."""
    target = "otel_resilience_instrumentation.tenacity:ResilienceTenacityInstrumentor"
    assert entry_point_target("resilience_tenacity") == target
    assert "tenacity" not in imports_after("otel_resilience_instrumentation.tenacity")
