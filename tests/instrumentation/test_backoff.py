"""ResilienceBackoffInstrumentor: backoff's own decorators, unchanged, with exact telemetry."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from typing import Any

import backoff
import backoff._async
import backoff._sync
import pytest
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
from otel_resilience_instrumentation.backoff import ResilienceBackoffInstrumentor

from otel_resilience import semconv

RETRY, EXHAUSTED = semconv.EVENT_RETRY, semconv.EVENT_RETRY_EXHAUSTED
BACKOFF = semconv.STRATEGY_BACKOFF
FETCH = f"{__name__}.decorate.<locals>.fetch"  # the pipeline name of decorate()'s functions


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """What backoff slept, sync and async: recorded instead of slept."""
    slept: list[float] = []

    async def nap(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(backoff._sync.time, "sleep", slept.append)
    monkeypatch.setattr(backoff._async.asyncio, "sleep", nap)
    return slept


@pytest.fixture
def instrumentor(otel_capture) -> Iterator[ResilienceBackoffInstrumentor]:
    """Instrumented with the capture's providers; un-instrumented after the test."""
    with instrumented(ResilienceBackoffInstrumentor(), otel_capture) as inst:
        yield inst


def decorate(flaky: Flaky, **options: Any) -> Callable[[], str]:
    """``flaky.step`` under backoff.on_exception(expo, ConnectionError, jitter=None, ...)."""

    @backoff.on_exception(backoff.expo, ConnectionError, jitter=None, factor=0.25, **options)
    def fetch() -> str:
        return flaky.step()

    return fetch


def outcome(fn: Callable[[], Any]) -> Any:
    """What calling ``fn`` gives: its value or its exception."""
    try:
        return fn()
    except Exception as exc:
        return exc


def test_sync_retries_unchanged_and_recorded(otel_capture, sleeps):
    """Each retry is one resilience.retry with the failed attempt and the delay backoff slept."""
    plain, flaky = Flaky(3), Flaky(3)
    fetch_plain, fetch = decorate(plain), decorate(flaky)  # both decorated before instrument()
    assert fetch_plain() == "ok"
    slept_plain = list(sleeps)
    sleeps.clear()
    tracer = otel_capture.tracer_provider.get_tracer("test")
    with (
        instrumented(ResilienceBackoffInstrumentor(), otel_capture),
        tracer.start_as_current_span("caller"),
    ):
        assert fetch() == "ok"
    assert sleeps == slept_plain == [0.25, 0.5, 1.0]
    assert flaky.calls == plain.calls == 4
    assert events(otel_capture.span("caller")) == [
        {
            semconv.ATTEMPT_NUMBER: n,
            semconv.ERROR_TYPE: "ConnectionError",
            semconv.ERROR_CATEGORY: "connection",
            semconv.RETRY_DELAY: delay,
        }
        for n, delay in ((1, 0.25), (2, 0.5), (3, 1.0))
    ]
    assert counted(otel_capture, BACKOFF, RETRY) == {(FETCH, None): 3}


def test_async_retries_unchanged_and_recorded(otel_capture, sleeps):
    """A coroutine under on_exception records its retries the same way."""
    flaky = Flaky(2)

    @backoff.on_exception(backoff.constant, ConnectionError, interval=0, jitter=None)
    async def fetch() -> str:
        await asyncio.sleep(0)
        return flaky.step()

    tracer = otel_capture.tracer_provider.get_tracer("test")

    async def traced() -> str:
        with tracer.start_as_current_span("caller"):
            return await fetch()

    with instrumented(ResilienceBackoffInstrumentor(), otel_capture):
        assert asyncio.run(traced()) == "ok"
    assert flaky.calls == 3
    assert sleeps[-2:] == [0, 0]
    recorded = events(otel_capture.span("caller"))
    assert [(e[semconv.ATTEMPT_NUMBER], e[semconv.RETRY_DELAY]) for e in recorded] == [
        (1, 0.0),
        (2, 0.0),
    ]
    pipeline = f"{__name__}.test_async_retries_unchanged_and_recorded.<locals>.fetch"
    assert counted(otel_capture, BACKOFF, RETRY) == {(pipeline, None): 2}


@pytest.mark.parametrize("raise_on_giveup", [True, False])
def test_give_up_unchanged_and_recorded(otel_capture, sleeps, raise_on_giveup):
    """max_tries: the same exception (or None) as without us, and one retry_exhausted."""
    options = {"max_tries": 3, "raise_on_giveup": raise_on_giveup}
    plain, flaky = Flaky(10), Flaky(10)
    before = outcome(decorate(plain, **options))
    fetch = decorate(flaky, **options)
    tracer = otel_capture.tracer_provider.get_tracer("test")
    with (
        instrumented(ResilienceBackoffInstrumentor(), otel_capture),
        tracer.start_as_current_span("caller"),
    ):
        after = outcome(fetch)
    assert type(after) is type(before) is (ConnectionError if raise_on_giveup else type(None))
    assert flaky.calls == plain.calls == 3
    span = otel_capture.span("caller")
    assert [e[semconv.ATTEMPT_NUMBER] for e in events(span)] == [1, 2]
    assert events(span, semconv.SPAN_EVENT_RETRY_EXHAUSTED) == [
        {
            semconv.ATTEMPT_NUMBER: 3,
            semconv.ERROR_TYPE: "ConnectionError",
            semconv.ERROR_CATEGORY: "connection",
        }
    ]
    assert counted(otel_capture, BACKOFF, EXHAUSTED) == {(FETCH, None): 1}


def test_predicate_retries_and_give_ups(instrumentor, otel_capture, sleeps):
    """on_predicate: retried values are retries (error.type `_OTHER`), and the give-up is one."""
    answers = iter([None, None, None])

    @backoff.on_predicate(backoff.constant, interval=0, jitter=None, max_tries=3)
    def poll() -> None:
        return next(answers)

    tracer = otel_capture.tracer_provider.get_tracer("test")
    with tracer.start_as_current_span("caller"):
        assert poll() is None
    span = otel_capture.span("caller")
    assert [e[semconv.ERROR_TYPE] for e in events(span)] == ["_OTHER", "_OTHER"]
    assert events(span, semconv.SPAN_EVENT_RETRY_EXHAUSTED) == [
        {
            semconv.ATTEMPT_NUMBER: 3,
            semconv.ERROR_TYPE: "_OTHER",
            semconv.ERROR_CATEGORY: "unknown",
        }
    ]
    pipeline = f"{__name__}.test_predicate_retries_and_give_ups.<locals>.poll"
    assert counted(otel_capture, BACKOFF, RETRY) == {(pipeline, None): 2}
    assert counted(otel_capture, BACKOFF, EXHAUSTED) == {(pipeline, None): 1}


def test_async_predicate_give_up_and_success(instrumentor, otel_capture, sleeps):
    """A coroutine under on_predicate: a give-up is counted, a success after retries is not."""
    answers = iter([None, None, None, None, "ready"])

    @backoff.on_predicate(backoff.constant, interval=0, jitter=None, max_tries=3)
    async def poll() -> str | None:
        return next(answers)

    assert asyncio.run(poll()) is None
    assert asyncio.run(poll()) == "ready"
    pipeline = f"{__name__}.test_async_predicate_give_up_and_success.<locals>.poll"
    assert counted(otel_capture, BACKOFF, RETRY) == {(pipeline, None): 3}
    assert counted(otel_capture, BACKOFF, EXHAUSTED) == {(pipeline, None): 1}


def test_predicate_give_up_without_backoff_logger_is_not_named(instrumentor, otel_capture, sleeps):
    """With logger=None an on_predicate give-up looks like a success: only retries are counted."""
    answers = iter([None, None, None])

    @backoff.on_predicate(backoff.constant, interval=0, jitter=None, max_tries=3, logger=None)
    def poll() -> None:
        return next(answers)

    assert poll() is None
    assert sum(counted(otel_capture, BACKOFF, RETRY).values()) == 2
    assert counted(otel_capture, BACKOFF, EXHAUSTED) == {}


def test_user_handlers_still_run_and_a_raising_one_is_not_a_retry(
    instrumentor, otel_capture, sleeps
):
    """The user's on_backoff runs as before; when it raises, backoff stops and we count nothing."""
    seen: list[int] = []
    flaky = Flaky(1)
    fetch = decorate(flaky, on_backoff=lambda details: seen.append(details["tries"]))
    assert fetch() == "ok"
    assert seen == [1]

    def refuse(details: dict[str, Any]) -> None:
        raise RuntimeError("handler refused")

    refused = Flaky(5)
    with pytest.raises(RuntimeError, match="handler refused"):
        decorate(refused, on_backoff=refuse)()
    assert refused.calls == 1
    assert counted(otel_capture, BACKOFF, RETRY) == {(FETCH, None): 1}


def test_counts_without_a_span(instrumentor, otel_capture, sleeps):
    """With no current span there is no event to write, but every retry is still counted."""
    assert decorate(Flaky(2))() == "ok"
    assert counted(otel_capture, BACKOFF, RETRY) == {(FETCH, None): 2}
    assert otel_capture.spans() == []


def test_a_broken_span_does_not_change_backoff(instrumentor, otel_capture, sleeps):
    """A current span whose add_event raises: backoff retries and gives up exactly as before."""
    flaky = Flaky(10)
    with trace.use_span(BrokenSpan()), pytest.raises(ConnectionError, match="attempt 3"):
        decorate(flaky, max_tries=3)()
    assert flaky.calls == 3
    assert sleeps == [0.25, 0.5]
    assert counted(otel_capture, BACKOFF, RETRY) == {(FETCH, None): 2}
    assert counted(otel_capture, BACKOFF, EXHAUSTED) == {(FETCH, None): 1}


def test_uninstrument_restores_the_originals(otel_capture, sleeps, caplog):
    """uninstrument() puts backoff's handler calls back; a second instrument() only warns."""
    originals = (backoff._sync._call_handlers, backoff._async._call_handlers)
    instrumentor = ResilienceBackoffInstrumentor()
    with instrumented(instrumentor, otel_capture):
        assert backoff._sync._call_handlers is not originals[0]
        with caplog.at_level(logging.WARNING):
            instrumentor.instrument(**otel_capture.providers)
        assert "already instrumented" in caplog.text
        assert decorate(Flaky(1))() == "ok"
    assert backoff._sync._call_handlers is originals[0]
    assert backoff._async._call_handlers is originals[1]
    assert decorate(Flaky(1))() == "ok"
    assert sum(counted(otel_capture, BACKOFF, RETRY).values()) == 1  # once: not doubled, not after


def test_entry_point_and_lazy_import():
    """Entry point resilience_backoff; importing the module does not import backoff."""
    target = "otel_resilience_instrumentation.backoff:ResilienceBackoffInstrumentor"
    assert entry_point_target("resilience_backoff") == target
    assert "backoff" not in imports_after("otel_resilience_instrumentation.backoff")
