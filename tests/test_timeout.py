"""Timeout: bounds, late sync calls, async cancellation, telemetry, and Retry together."""

from __future__ import annotations

import asyncio
import math

import pytest

from otel_resilience import Pipeline, Retry, deadline, semconv
from otel_resilience.errors import CircuitOpenError, ResilienceError, ResilienceTimeoutError
from otel_resilience.testing import FakeClock
from otel_resilience.timeout import Timeout


def test_a_call_within_the_bound_returns_its_result(run, fake_clock, flaky):
    """A call that ends in time returns its result unchanged."""
    dep = flaky(result=42, clock=fake_clock, takes=1.0)
    assert run(Pipeline("p", Timeout(seconds=1), clock=fake_clock), dep) == 42


def test_the_deadline_is_published_to_the_call(run, fake_clock):
    """The call sees the time left through deadline.remaining(), in the clock's time."""
    fake_clock.advance(123.0)
    seen = run(Pipeline("p", Timeout(seconds=2.5), clock=fake_clock), deadline.remaining)
    assert seen == 2.5
    assert deadline.remaining() is None


def test_a_late_result_raises_a_timeout_keeping_the_result(run, fake_clock, flaky):
    """A call that returns past the bound raises ResilienceTimeoutError with its late_result."""
    dep = flaky(result="late", clock=fake_clock, takes=1.5)
    err = run.raises(
        ResilienceTimeoutError, Pipeline("p", Timeout(seconds=1), clock=fake_clock), dep
    )
    assert (err.timeout, err.late_result) == (1, "late")
    assert isinstance(err, TimeoutError)
    assert isinstance(err, ResilienceError)


def test_a_late_error_becomes_a_timeout_caused_by_it(run, fake_clock, flaky):
    """An exception raised past the bound becomes a timeout whose cause is that exception."""
    boom = ConnectionError("slow then down")
    dep = flaky(boom, clock=fake_clock, takes=3.0)
    err = run.raises(
        ResilienceTimeoutError, Pipeline("p", Timeout(seconds=1), clock=fake_clock), dep
    )
    assert err.__cause__ is boom


def test_an_early_error_passes_unchanged(run, fake_clock, flaky):
    """An exception raised in time, even the dependency's own TimeoutError, is not converted."""
    own = TimeoutError("client timeout")
    dep = flaky(own, clock=fake_clock, takes=0.5)
    err = run.raises(TimeoutError, Pipeline("p", Timeout(seconds=1), clock=fake_clock), dep)
    assert err is own


def test_a_late_refusal_stays_a_refusal(run, fake_clock, flaky):
    """A refusal is no verdict on the dependency: it is never turned into a timeout."""
    refusal = CircuitOpenError("b", 1.0)
    dep = flaky(refusal, clock=fake_clock, takes=3.0)
    err = run.raises(CircuitOpenError, Pipeline("p", Timeout(seconds=1), clock=fake_clock), dep)
    assert err is refusal


def test_an_awaited_call_is_cancelled_at_the_deadline(fake_clock):
    """Async: the awaited call is cancelled when time is up, at the deadline in clock time."""
    cancelled: list[float] = []

    async def slow() -> str:
        try:
            await fake_clock.asleep(10)
        except asyncio.CancelledError:
            cancelled.append(fake_clock.monotonic())
            raise
        return "never"

    pipeline = Pipeline("p", Timeout(seconds=2), clock=fake_clock)
    with pytest.raises(ResilienceTimeoutError) as info:
        asyncio.run(pipeline.acall(slow))
    assert cancelled == [2.0]
    assert info.value.late_result is None


def test_nested_timeouts_the_earliest_fires():
    """Async: an outer bound shorter than an inner one fires first, with its own seconds."""
    clock = FakeClock()

    async def slow() -> None:
        await clock.asleep(10)

    pipeline = Pipeline("p", Timeout(seconds=1), Timeout(seconds=5), clock=clock)
    with pytest.raises(ResilienceTimeoutError) as info:
        asyncio.run(pipeline.acall(slow))
    assert info.value.timeout == 1
    assert clock.monotonic() == 1


def test_outside_cancellation_stays_cancellation():
    """Async: a task cancelled from outside gets CancelledError, not a timeout."""
    clock = FakeClock(auto_advance=False)
    pipeline = Pipeline("p", Timeout(seconds=5), clock=clock)

    async def slow() -> None:
        await clock.asleep(10)

    async def main() -> None:
        task = asyncio.create_task(pipeline.acall(slow))
        await clock.wait_for_sleepers_async(1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert clock.parked == 0


def test_a_clock_without_timeout_falls_back_to_the_system_one():
    """Async: a custom clock without timeout() still bounds the call (real loop time)."""

    class BareClock:
        """Test-only: a clock with only the protocol's three methods."""

        monotonic = staticmethod(lambda: 0.0)
        sleep = staticmethod(lambda s: None)

        async def asleep(self, seconds: float) -> None:
            """Sleep on the loop."""
            await asyncio.sleep(seconds)

    async def slow() -> None:
        await asyncio.sleep(5)  # real time, bounded by the 0.01s timeout

    pipeline = Pipeline("p", Timeout(seconds=0.01), clock=BareClock())
    with pytest.raises(ResilienceTimeoutError):
        asyncio.run(pipeline.acall(slow))


def test_timeout_telemetry(run, fake_clock, flaky, otel_capture):
    """A fired timeout: span event with the bound, counter event, outcome failure."""
    pipeline = Pipeline("p", Timeout(seconds=1), clock=fake_clock, **otel_capture.providers)
    run.raises(ResilienceTimeoutError, pipeline, flaky(clock=fake_clock, takes=2.0))
    run(pipeline, flaky(clock=fake_clock, takes=0.5))
    first, second = otel_capture.spans("p")
    assert first.attributes[semconv.OUTCOME] == semconv.OUTCOME_FAILURE
    assert first.attributes[semconv.ERROR_CATEGORY] == "timeout"
    events = [(e.name, dict(e.attributes)) for e in first.events if e.name != "exception"]
    assert events == [(semconv.SPAN_EVENT_TIMEOUT, {semconv.TIMEOUT_SECONDS: 1.0})]
    assert second.attributes[semconv.OUTCOME] == semconv.OUTCOME_SUCCESS
    assert not second.events
    points = otel_capture.metric_points(
        semconv.METRIC_EVENTS, **{semconv.STRATEGY: semconv.STRATEGY_TIMEOUT}
    )
    assert [(p.attributes[semconv.EVENT], p.value) for p in points] == [(semconv.EVENT_TIMEOUT, 1)]


def test_inside_a_retry_each_attempt_is_bounded(run, fake_clock, flaky):
    """Timeout inside Retry bounds each attempt, and a timed-out attempt is retried."""
    durations = iter([5.0, 0.5])

    def dep() -> str:
        fake_clock.advance(next(durations))
        return "ok"

    retry = Retry(max_attempts=3, base_delay=0.1, jitter=False)
    assert run(Pipeline("p", retry, Timeout(seconds=1), clock=fake_clock), dep) == "ok"
    assert fake_clock.sleeps == [0.1]


def test_outside_a_retry_no_sleep_ends_past_the_deadline(run, fake_clock, flaky):
    """Timeout outside Retry: Retry stops before a sleep that would end past the deadline."""
    dep = flaky(*[ConnectionError() for _ in range(10)])
    retry = Retry(max_attempts=10, base_delay=1.0, jitter=False)
    run.raises(ConnectionError, Pipeline("p", Timeout(seconds=3.5), retry, clock=fake_clock), dep)
    assert fake_clock.sleeps == [1.0, 2.0]  # the next, 4.0, would end at 7 > 3.5
    assert dep.calls == 3


def test_no_sleep_ends_exactly_at_the_deadline(run, fake_clock, flaky):
    """A retry whose sleep would end at the deadline is not started: no time would be left."""
    dep = flaky(*[ConnectionError() for _ in range(10)])
    retry = Retry(max_attempts=10, base_delay=1.0, jitter=False)
    run.raises(ConnectionError, Pipeline("p", Timeout(seconds=3), retry, clock=fake_clock), dep)
    assert fake_clock.sleeps == [1.0]  # 1 + 2 would end at 3, the deadline itself


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"seconds": 0}, "seconds"),
        ({"seconds": -1}, "seconds"),
        ({"seconds": math.nan}, "seconds"),
        ({"seconds": "1"}, "seconds"),
        ({"seconds": True}, "seconds"),
        ({"seconds": 1, "mode": "kill"}, "mode"),
        ({"seconds": 1, "max_workers": 0}, "max_workers"),
        ({"seconds": 1, "max_workers": 2.0}, "max_workers"),
        ({"seconds": 1, "clock": object()}, "clock"),
    ],
)
def test_invalid_options_name_the_field(kwargs, field):
    """Invalid options fail at construction with a ValueError naming the field."""
    with pytest.raises(ValueError, match=field):
        Timeout(**kwargs)


def test_options_are_keyword_only():
    """Timeout(2) is a TypeError: the bound must be named."""
    with pytest.raises(TypeError):
        Timeout(2)  # type: ignore[misc]
