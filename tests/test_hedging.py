"""Hedging: extra attempts after a delay or a failure; the first good answer wins; losers reaped."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest

from otel_resilience import Pipeline, semconv
from otel_resilience._strategy import UsageError
from otel_resilience.hedging import Hedging
from otel_resilience.testing import FakeClock, OTelCapture
from tests.hedging_support import Script, others


def _hedges(capture: OTelCapture) -> int:
    points = capture.metric_points(semconv.METRIC_EVENTS, **{semconv.EVENT: semconv.EVENT_HEDGE})
    return sum(p.value for p in points)


def _hedge_events(capture: OTelCapture) -> list[dict[str, Any]]:
    span = capture.span("p")
    return [dict(e.attributes or {}) for e in span.events if e.name == semconv.SPAN_EVENT_HEDGE]


def test_fast_answer_starts_no_hedge(otel_capture: OTelCapture) -> None:
    """An attempt answering before the delay wins alone: one attempt, no hedge recorded."""
    clock = FakeClock(auto_advance=False)
    script = Script(clock, (0, "first"))
    pipeline = Pipeline("p", Hedging(delay=0.1), clock=clock, **otel_capture.providers)

    async def main() -> Any:
        result = await pipeline.acall(script)
        return result, others()

    result, left = asyncio.run(main())
    assert result == "first"
    assert left == set()
    assert script.started == [0]
    assert otel_capture.span("p").attributes[semconv.ATTEMPTS] == 1
    assert _hedge_events(otel_capture) == []
    assert _hedges(otel_capture) == 0


def test_slow_attempt_is_hedged_and_loser_cancelled(otel_capture: OTelCapture) -> None:
    """After ``delay`` a hedge starts; its answer wins and the slow attempt is cancelled and
    awaited before the call returns."""
    clock = FakeClock(auto_advance=False)
    script = Script(clock, (5.0, "slow"), (0.05, "hedge"))
    pipeline = Pipeline("p", Hedging(delay=0.1), clock=clock, **otel_capture.providers)

    async def main() -> Any:
        call = asyncio.ensure_future(pipeline.acall(script))
        await clock.wait_for_sleepers_async(2)  # attempt 1 and the hedge timer
        clock.advance(0.1)
        await clock.wait_for_sleepers_async(2)  # attempt 1 and attempt 2
        clock.advance(0.05)
        result = await call
        return result, list(script.cancelled), others()

    result, cancelled_at_return, left = asyncio.run(main())
    assert result == "hedge"
    assert cancelled_at_return == [0]
    assert left == set()
    assert otel_capture.span("p").attributes[semconv.ATTEMPTS] == 2
    assert otel_capture.span("p").attributes[semconv.OUTCOME] == semconv.OUTCOME_SUCCESS
    events = _hedge_events(otel_capture)
    assert events == [{semconv.HEDGE_NUMBER: 1, semconv.HEDGE_DELAY: pytest.approx(0.1)}]
    assert _hedges(otel_capture) == 1
    assert clock.parked == 0


def test_failure_starts_next_hedge_at_once(otel_capture: OTelCapture) -> None:
    """A failed attempt starts the next one without waiting for the delay."""
    clock = FakeClock(auto_advance=False)
    script = Script(clock, (0, ConnectionError("down")), (0, "second"))
    pipeline = Pipeline("p", Hedging(delay=10.0), clock=clock, **otel_capture.providers)

    result = asyncio.run(pipeline.acall(script))
    assert result == "second"
    assert clock.monotonic() == 0.0
    assert _hedge_events(otel_capture) == [{semconv.HEDGE_NUMBER: 1, semconv.HEDGE_DELAY: 0.0}]
    assert otel_capture.span("p").attributes[semconv.ATTEMPTS] == 2


def test_all_failing_raises_the_last_error(otel_capture: OTelCapture) -> None:
    """When every attempt fails the last failure is raised, after 1 + max_hedges attempts."""
    clock = FakeClock(auto_advance=False)
    last = ConnectionError("third")
    script = Script(clock, (0, ConnectionError("1")), (0, TimeoutError("2")), (0, last))
    pipeline = Pipeline("p", Hedging(max_hedges=2), clock=clock, **otel_capture.providers)

    with pytest.raises(ConnectionError) as info:
        asyncio.run(pipeline.acall(script))
    assert info.value is last
    assert script.started == [0, 1, 2]
    assert [e[semconv.HEDGE_NUMBER] for e in _hedge_events(otel_capture)] == [1, 2]
    assert otel_capture.span("p").attributes[semconv.ATTEMPTS] == 3
    assert otel_capture.span("p").attributes[semconv.OUTCOME] == semconv.OUTCOME_FAILURE


def test_failed_attempt_events_carry_their_own_numbers(otel_capture: OTelCapture) -> None:
    """Attempts ending out of order are labelled with the number each got when it started."""
    clock = FakeClock(auto_advance=False)
    script = Script(clock, (1.0, ConnectionError("first")), (0.05, ConnectionResetError("hedge")))
    pipeline = Pipeline("p", Hedging(delay=0.1), clock=clock, **otel_capture.providers)

    async def main() -> None:
        call = asyncio.ensure_future(pipeline.acall(script))
        await clock.wait_for_sleepers_async(2)  # attempt 1 and the hedge timer
        clock.advance(0.1)
        await clock.wait_for_sleepers_async(2)  # attempt 1 and attempt 2
        clock.advance(0.05)  # attempt 2 fails first
        await clock.wait_for_sleepers_async(1)
        clock.advance(0.85)  # then attempt 1
        with pytest.raises(ConnectionError):
            await call

    asyncio.run(main())
    attempts = [
        (e.attributes[semconv.ATTEMPT_NUMBER], e.attributes[semconv.ERROR_TYPE])
        for e in otel_capture.span("p").events
        if e.name == semconv.SPAN_EVENT_ATTEMPT
    ]
    assert attempts == [(2, "ConnectionResetError"), (1, "ConnectionError")]


def test_error_outside_on_ends_the_call_and_cancels_others() -> None:
    """A failure ``on`` does not accept is raised at once; the running hedge is cancelled."""
    clock = FakeClock(auto_advance=False)
    script = Script(clock, (1.0, ValueError("bad request")), (5.0, "late"))
    pipeline = Pipeline("p", Hedging(delay=0.1, on=[ConnectionError]), clock=clock)

    async def main() -> Any:
        call = asyncio.ensure_future(pipeline.acall(script))
        await clock.wait_for_sleepers_async(2)
        clock.advance(0.1)
        await clock.wait_for_sleepers_async(2)  # attempts 1 and 2 (no hedge left to time)
        clock.advance(0.9)
        with pytest.raises(ValueError, match="bad request"):
            await call
        return list(script.cancelled), others()

    cancelled, left = asyncio.run(main())
    assert cancelled == [1]
    assert left == set()
    assert clock.parked == 0


def test_failing_results_hedge_and_the_last_is_returned() -> None:
    """A result the pipeline calls a failure starts the next hedge; if all fail, the last
    failing result is returned (there is no error to raise)."""
    clock = FakeClock(auto_advance=False)
    script = Script(clock, (0, "bad-1"), (0, "bad-2"))
    pipeline = Pipeline(
        "p", Hedging(delay=10.0), clock=clock, is_failure_result=lambda r: r.startswith("bad")
    )
    assert asyncio.run(pipeline.acall(script)) == "bad-2"
    assert script.started == [0, 1]

    script = Script(clock, (0, "bad-1"), (0, "good"))
    assert asyncio.run(pipeline.acall(script)) == "good"


def test_outer_cancellation_reaps_every_attempt() -> None:
    """Cancelling the call cancels and awaits every attempt and the timer; it stays a
    cancellation."""
    clock = FakeClock(auto_advance=False)
    script = Script(clock, (5.0, "a"), (5.0, "b"))
    pipeline = Pipeline("p", Hedging(delay=0.1), clock=clock)

    async def main() -> Any:
        call = asyncio.ensure_future(pipeline.acall(script))
        await clock.wait_for_sleepers_async(2)
        clock.advance(0.1)
        await clock.wait_for_sleepers_async(2)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        return others()

    assert asyncio.run(main()) == set()
    assert sorted(script.cancelled) == [0, 1]
    assert clock.parked == 0


def test_sync_call_is_refused() -> None:
    """A sync call through a Hedging raises UsageError and never runs the function."""
    called: list[int] = []
    with pytest.raises(UsageError, match="async calls only"):
        Pipeline("p", Hedging()).call(lambda: called.append(1))
    assert called == []


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"max_hedges": 0}, "max_hedges"),
        ({"max_hedges": True}, "max_hedges"),
        ({"max_hedges": 1.5}, "max_hedges"),
        ({"delay": -1}, "delay"),
        ({"delay": math.nan}, "delay"),
        ({"delay": "0.1"}, "delay"),
        ({"on": [42]}, "on"),
        ({"on": 3}, "on"),
    ],
)
def test_invalid_options_fail_fast(kwargs: dict[str, Any], field: str) -> None:
    """Invalid options raise ValueError naming the field, at construction."""
    with pytest.raises(ValueError, match=field):
        Hedging(**kwargs)


def test_attempt_timeout_inside_starts_the_next_hedge(otel_capture: OTelCapture) -> None:
    """A Timeout inside bounds each attempt: a timed-out attempt starts the next hedge at once."""
    from otel_resilience.timeout import Timeout

    clock = FakeClock(auto_advance=False)
    script = Script(clock, (5.0, "slow"), (0, "quick"))
    pipeline = Pipeline(
        "p", Hedging(delay=10.0), Timeout(seconds=1.0), clock=clock, **otel_capture.providers
    )

    async def main() -> Any:
        call = asyncio.ensure_future(pipeline.acall(script))
        await clock.wait_for_sleepers_async(2)  # attempt 1 and the hedge timer
        clock.advance(1.0)
        return await call, others()

    result, left = asyncio.run(main())
    assert result == "quick"
    assert left == set()
    assert script.cancelled == [0]
    events = _hedge_events(otel_capture)
    assert events == [{semconv.HEDGE_NUMBER: 1, semconv.HEDGE_DELAY: pytest.approx(1.0)}]
