"""ResilienceStaminaInstrumentor: stamina's own decorator, unchanged, with exact telemetry."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
import stamina
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
from otel_resilience_instrumentation.stamina import ResilienceStaminaInstrumentor
from otel_resilience_instrumentation.tenacity import ResilienceTenacityInstrumentor
from stamina.instrumentation import get_on_retry_hooks, set_on_retry_hooks

from otel_resilience import semconv

RETRY = semconv.EVENT_RETRY
STAMINA = semconv.STRATEGY_STAMINA


@pytest.fixture(autouse=True)
def _stamina_state() -> Iterator[None]:
    """Every test leaves stamina's hooks and test mode as it found them."""
    hooks = get_on_retry_hooks()
    try:
        yield
    finally:
        set_on_retry_hooks(hooks)
        stamina.set_testing(False)


@pytest.fixture
def testing() -> Iterator[None]:
    """stamina's own test mode: up to 3 attempts, no backoff."""
    with stamina.set_testing(True, attempts=3):
        yield


def test_sync_retries_unchanged_and_recorded(otel_capture, testing):
    """Each stamina retry is one resilience.retry on the current span, and one count."""
    plain, flaky = Flaky(2), Flaky(2)

    @stamina.retry(on=ConnectionError, attempts=10)
    def fetch(f: Flaky) -> str:
        return f.step()

    assert fetch(plain) == "ok"
    tracer = otel_capture.tracer_provider.get_tracer("test")
    with (
        instrumented(ResilienceStaminaInstrumentor(), otel_capture),
        tracer.start_as_current_span("caller"),
    ):
        assert fetch(flaky) == "ok"
    assert flaky.calls == plain.calls == 3
    assert events(otel_capture.span("caller")) == [
        {
            semconv.ATTEMPT_NUMBER: n,
            semconv.ERROR_TYPE: "ConnectionError",
            semconv.ERROR_CATEGORY: "connection",
            semconv.RETRY_DELAY: 0.0,
        }
        for n in (1, 2)
    ]
    pipeline = f"{__name__}.test_sync_retries_unchanged_and_recorded.<locals>.fetch"
    assert counted(otel_capture, STAMINA, RETRY) == {(pipeline, None): 2}


def test_async_retries_and_give_up_unchanged(otel_capture, testing):
    """A coroutine: retries recorded; exhausting the attempts raises the same exception."""
    flaky = Flaky(10)

    @stamina.retry(on=ConnectionError, attempts=3)
    async def fetch() -> str:
        await asyncio.sleep(0)
        return flaky.step()

    tracer = otel_capture.tracer_provider.get_tracer("test")

    async def traced() -> str:
        with tracer.start_as_current_span("caller"):
            return await fetch()

    with (
        instrumented(ResilienceStaminaInstrumentor(), otel_capture),
        pytest.raises(ConnectionError, match="attempt 3 failed"),
    ):
        asyncio.run(traced())
    assert flaky.calls == 3
    recorded = events(otel_capture.span("caller"))
    assert [e[semconv.ATTEMPT_NUMBER] for e in recorded] == [1, 2]
    pipeline = f"{__name__}.test_async_retries_and_give_up_unchanged.<locals>.fetch"
    assert counted(otel_capture, STAMINA, RETRY) == {(pipeline, None): 2}


def test_delays_are_what_stamina_slept(instrumentor, otel_capture, monkeypatch):
    """Outside test mode, resilience.retry.delay is the backoff stamina computed and slept."""
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    flaky = Flaky(3)

    @stamina.retry(on=ConnectionError, wait_initial=0.5, wait_exp_base=2, wait_jitter=0)
    def fetch() -> str:
        return flaky.step()

    with otel_capture.tracer_provider.get_tracer("test").start_as_current_span("caller"):
        assert fetch() == "ok"
    assert slept == [0.5, 1.0, 2.0]
    recorded = events(otel_capture.span("caller"))
    assert [e[semconv.RETRY_DELAY] for e in recorded] == slept


@pytest.fixture
def instrumentor(otel_capture) -> Iterator[ResilienceStaminaInstrumentor]:
    """Instrumented with the capture's providers; un-instrumented after the test."""
    with instrumented(ResilienceStaminaInstrumentor(), otel_capture) as inst:
        yield inst


def test_counts_without_a_span(otel_capture, testing):
    """With no current span there is no event to write, but every retry is still counted."""

    @stamina.retry(on=ConnectionError)
    def fetch(f: Flaky) -> str:
        return f.step()

    with instrumented(ResilienceStaminaInstrumentor(), otel_capture):
        assert fetch(Flaky(1)) == "ok"
    assert sum(counted(otel_capture, STAMINA, RETRY).values()) == 1
    assert otel_capture.spans() == []


def test_a_broken_span_does_not_change_stamina(instrumentor, testing):
    """A current span whose add_event raises: stamina retries and returns exactly as before."""
    flaky = Flaky(2)

    @stamina.retry(on=ConnectionError)
    def fetch() -> str:
        return flaky.step()

    with trace.use_span(BrokenSpan()):
        assert fetch() == "ok"
    assert flaky.calls == 3


def test_user_hooks_kept_and_restored(otel_capture, testing, caplog):
    """The user's hooks still run while instrumented and are exactly what remains afterwards."""
    seen: list[int] = []

    def user_hook(details: Any) -> None:
        seen.append(details.retry_num)

    @stamina.retry(on=ConnectionError)
    def fetch(f: Flaky) -> str:
        return f.step()

    set_on_retry_hooks([user_hook])
    instrumentor = ResilienceStaminaInstrumentor()
    with instrumented(instrumentor, otel_capture):
        assert get_on_retry_hooks()[0] is user_hook
        with caplog.at_level(logging.WARNING):
            instrumentor.instrument(**otel_capture.providers)
        assert "already instrumented" in caplog.text
        assert len(get_on_retry_hooks()) == 2
        assert fetch(Flaky(2)) == "ok"
    assert get_on_retry_hooks() == (user_hook,)
    assert fetch(Flaky(1)) == "ok"
    assert seen == [1, 2, 1]
    assert sum(counted(otel_capture, STAMINA, RETRY).values()) == 2  # not doubled, not after


def test_hooks_changed_while_instrumented_are_left_alone(otel_capture):
    """uninstrument() removes only our hook: hooks the user set meanwhile stay."""

    def user_hook(details: Any) -> None:
        pass

    with instrumented(ResilienceStaminaInstrumentor(), otel_capture):
        ours = get_on_retry_hooks()[-1]
        set_on_retry_hooks([user_hook, ours])
    assert get_on_retry_hooks() == (user_hook,)


def test_recorded_once_with_the_tenacity_instrumentor_too(otel_capture, testing):
    """stamina runs on tenacity: with both instrumentors a retry is recorded once, as stamina's."""

    @stamina.retry(on=ConnectionError)
    def fetch(f: Flaky) -> str:
        return f.step()

    with (
        instrumented(ResilienceTenacityInstrumentor(), otel_capture),
        instrumented(ResilienceStaminaInstrumentor(), otel_capture),
    ):
        assert fetch(Flaky(2)) == "ok"
    points = otel_capture.metric_points(semconv.METRIC_EVENTS)
    assert [(p.attributes[semconv.STRATEGY], p.value) for p in points] == [(STAMINA, 2)]


def test_entry_point_and_lazy_import():
    """Entry point resilience_stamina; importing the module does not import stamina."""
    target = "otel_resilience_instrumentation.stamina:ResilienceStaminaInstrumentor"
    assert entry_point_target("resilience_stamina") == target
    assert "stamina" not in imports_after("otel_resilience_instrumentation.stamina")
