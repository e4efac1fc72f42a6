"""RateLimiter: token bucket on the clock, refusals with retry_after, waits, telemetry."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from otel_resilience import CircuitBreaker, CircuitState, Pipeline, Retry, semconv
from otel_resilience._strategy import CallContext, Strategy
from otel_resilience.errors import RateLimitedError, RejectedError
from otel_resilience.rate_limiter import RateLimiter, RateLimiterOptions
from otel_resilience.testing import FakeClock


def _events(capture: Any, name: str) -> list[Any]:
    return [e for s in capture.spans() for e in s.events if e.name == name]


def _counted(capture: Any, event: str) -> int:
    points = capture.metric_points(semconv.METRIC_EVENTS, **{semconv.EVENT: event})
    return sum(p.value for p in points)


def test_burst_then_refused_with_retry_after(run, fake_clock):
    """A full bucket admits `burst` calls at once; the next is refused with the exact wait."""
    limiter = RateLimiter(rate=4, per=2.0, burst=3)
    pipeline = Pipeline("p", limiter, clock=fake_clock)
    calls = []
    assert [run(pipeline, calls.append, i) for i in range(3)] == [None] * 3
    error = run.raises(RateLimitedError, pipeline, lambda: calls.append("no"))
    assert isinstance(error, RejectedError)
    assert error.retry_after == pytest.approx(0.5)  # one permit per 0.5 s
    assert error.limiter_name == "p"
    assert calls == [0, 1, 2]


def test_refills_at_rate_and_never_beyond_burst(run, fake_clock):
    """Permits come back at rate/per a second, and a long idle refills only up to burst."""
    limiter = RateLimiter(rate=10, burst=2)
    pipeline = Pipeline("p", limiter, clock=fake_clock)
    run(pipeline, lambda: 1)
    run(pipeline, lambda: 1)
    fake_clock.advance(0.1)
    assert run(pipeline, lambda: "refilled") == "refilled"
    run.raises(RateLimitedError, pipeline, lambda: 1)
    fake_clock.advance(3600)
    assert limiter.available() == 2.0
    run(pipeline, lambda: 1)
    run(pipeline, lambda: 1)
    run.raises(RateLimitedError, pipeline, lambda: 1)


def test_default_burst_is_rate_rounded_down():
    """burst defaults to floor(rate), at least one permit."""
    assert RateLimiterOptions(rate=7.9).capacity == 7
    assert RateLimiterOptions(rate=0.5, per=60).capacity == 1
    assert RateLimiterOptions(rate=3, burst=10).capacity == 10


def test_waits_up_to_max_wait(run):
    """An empty bucket makes the call sleep until its permit, when within max_wait."""
    clock = FakeClock()
    pipeline = Pipeline("p", RateLimiter(rate=2, burst=1, max_wait=0.5), clock=clock)
    run(pipeline, lambda: 1)
    assert run(pipeline, clock.monotonic) == 0.5
    assert clock.sleeps == [0.5]


def test_refused_when_the_wait_exceeds_max_wait_and_takes_nothing(run, fake_clock):
    """A wait beyond max_wait is refused at once, and the refused call reserved nothing."""
    limiter = RateLimiter(rate=1, burst=1, max_wait=0.9)
    pipeline = Pipeline("p", limiter, clock=fake_clock)
    run(pipeline, lambda: 1)
    for _ in range(3):
        error = run.raises(RateLimitedError, pipeline, lambda: 1)
        assert error.retry_after == pytest.approx(1.0)
    assert fake_clock.sleeps == []
    fake_clock.advance(0.2)  # now the wait is 0.8: admitted after sleeping it
    assert run(pipeline, lambda: "ok") == "ok"
    assert fake_clock.sleeps == [pytest.approx(0.8)]


class _Deadline(Strategy):
    """Publishes a deadline `seconds` from now around what it wraps (as a Timeout would)."""

    __slots__ = ("seconds",)

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    def _run(self, nxt: Callable[[], Any], ctx: CallContext) -> Any:
        token = ctx.tighten_deadline(ctx.clock.monotonic() + self.seconds)
        try:
            return nxt()
        finally:
            ctx.restore_deadline(token)

    async def _arun(self, nxt: Callable[[], Any], ctx: CallContext) -> Any:
        token = ctx.tighten_deadline(ctx.clock.monotonic() + self.seconds)
        try:
            return await nxt()
        finally:
            ctx.restore_deadline(token)


def test_never_waits_past_the_deadline(run, fake_clock):
    """A wait within max_wait but past the call's deadline is refused at once."""
    limiter = RateLimiter(rate=1, burst=1, max_wait=10)
    pipeline = Pipeline("p", _Deadline(0.5), limiter, clock=fake_clock)
    run(pipeline, lambda: 1)
    error = run.raises(RateLimitedError, pipeline, lambda: 1)
    assert error.retry_after == pytest.approx(1.0)
    assert fake_clock.sleeps == []
    roomy = Pipeline("q", _Deadline(2.0), limiter, clock=fake_clock)
    assert run(roomy, lambda: "ok") == "ok"
    assert fake_clock.sleeps == [pytest.approx(1.0)]


def test_refusal_telemetry(run, fake_clock, otel_capture):
    """A refusal: outcome rejected, no attempt, span event with retry_after, counter event."""
    pipeline = Pipeline(
        "p", RateLimiter(rate=1, burst=1, name="api"), clock=fake_clock, **otel_capture.providers
    )
    run(pipeline, lambda: 1)
    run.raises(RateLimitedError, pipeline, lambda: 1)
    run.raises(RateLimitedError, pipeline, lambda: 1)
    refused = [s for s in otel_capture.spans() if s.attributes[semconv.OUTCOME] == "rejected"]
    assert len(refused) == 2
    assert all(s.attributes[semconv.ATTEMPTS] == 0 for s in refused)
    events = _events(otel_capture, semconv.SPAN_EVENT_RATE_LIMITER_REJECTED)
    assert [dict(e.attributes) for e in events] == [
        {semconv.RATE_LIMITER_NAME: "api", semconv.RATE_LIMITER_RETRY_AFTER: 1.0}
    ] * 2
    assert _counted(otel_capture, semconv.EVENT_RATE_LIMITED) == 2


def test_wait_telemetry(run, otel_capture):
    """A call that waited gets a waited span event with the seconds it waited; no counter."""
    clock = FakeClock()
    limiter = RateLimiter(rate=4, burst=1, max_wait=1)
    pipeline = Pipeline("p", limiter, clock=clock, **otel_capture.providers)
    run(pipeline, lambda: 1)
    run(pipeline, lambda: 1)
    events = _events(otel_capture, semconv.SPAN_EVENT_RATE_LIMITER_WAITED)
    assert [dict(e.attributes) for e in events] == [
        {semconv.RATE_LIMITER_NAME: "p", semconv.RATE_LIMITER_WAIT: 0.25}
    ]
    assert {s.attributes[semconv.OUTCOME] for s in otel_capture.spans()} == {"success"}
    assert _counted(otel_capture, semconv.EVENT_RATE_LIMITED) == 0
    assert limiter.waiting == 0


def test_not_retried_and_not_a_breaker_failure(run, fake_clock):
    """Retry lets a refusal through untouched; a breaker outside does not count it."""
    breaker = CircuitBreaker(minimum_calls=1, window=2, window_type="count")
    retry = Retry(max_attempts=5, base_delay=0.0)
    pipeline = Pipeline("p", breaker, retry, RateLimiter(rate=1, burst=1), clock=fake_clock)
    run(pipeline, lambda: 1)
    for _ in range(5):
        run.raises(RateLimitedError, pipeline, lambda: 1)
    assert fake_clock.sleeps == []
    assert breaker.state is CircuitState.CLOSED


def test_reads_its_own_clock_when_given(run):
    """A limiter with its own clock refills on that clock, not the pipeline's."""
    own, other = FakeClock(), FakeClock()
    pipeline = Pipeline("p", RateLimiter(rate=1, burst=1, clock=own), clock=other)
    run(pipeline, lambda: 1)
    other.advance(10)
    run.raises(RateLimitedError, pipeline, lambda: 1)
    own.advance(1)
    assert run(pipeline, lambda: "ok") == "ok"


def test_interrupted_wait_gives_the_permit_back():
    """KeyboardInterrupt during a sync wait returns the reserved permit."""

    class Interrupting(FakeClock):
        def sleep(self, seconds: float) -> None:
            raise KeyboardInterrupt

    clock = Interrupting()
    limiter = RateLimiter(rate=1, burst=1, max_wait=5)
    pipeline = Pipeline("p", limiter, clock=clock)
    pipeline.call(lambda: 1)
    with pytest.raises(KeyboardInterrupt):
        pipeline.call(lambda: 1)
    assert limiter.waiting == 0
    assert limiter.available() == 0.0  # back to empty, not in debt
    clock.advance(1)
    assert pipeline.call(lambda: "ok") == "ok"


def test_cancelled_wait_gives_the_permit_back():
    """A task cancelled while waiting returns its reserved permit."""
    clock = FakeClock(auto_advance=False)
    limiter = RateLimiter(rate=1, burst=1, max_wait=5)
    pipeline = Pipeline("p", limiter, clock=clock)

    async def main() -> None:
        async def one() -> int:
            return 1

        await pipeline.acall(one)
        task = asyncio.ensure_future(pipeline.acall(one))
        await clock.wait_for_sleepers_async(1)
        assert limiter.available() == -1.0
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert limiter.waiting == 0
    assert clock.parked == 0
    assert limiter.available() == 0.0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"rate": 0}, "rate"),
        ({"rate": -1}, "rate"),
        ({"rate": float("nan")}, "rate"),
        ({"rate": float("inf")}, "rate"),
        ({"rate": True}, "rate"),
        ({"rate": "10"}, "rate"),
        ({"rate": 1, "per": 0}, "per"),
        ({"rate": 1, "per": float("nan")}, "per"),
        ({"rate": 1, "burst": 0}, "burst"),
        ({"rate": 1, "burst": 1.5}, "burst"),
        ({"rate": 1, "max_wait": -1}, "max_wait"),
        ({"rate": 1, "max_wait": float("nan")}, "max_wait"),
        ({"rate": 1, "name": ""}, "name"),
        ({"rate": 1, "clock": object()}, "clock"),
    ],
)
def test_bad_options_fail_fast(kwargs, field):
    """Invalid options raise ValueError naming the field, at construction."""
    with pytest.raises(ValueError, match=field):
        RateLimiter(**kwargs)


def test_core_gives_back_only_the_latest_reservation():
    """Cancelling the last reservation restores its permit; an earlier one's slot stays spent."""
    from otel_resilience.rate_limiter._core import BucketCore

    core = BucketCore(1, 1.0)
    assert core.reserve(0.0, 10) == (0.0, 0)
    (d1, first), (d2, second) = core.reserve(0.0, 10), core.reserve(0.0, 10)
    assert (d1, d2) == (1.0, 2.0)
    core.cancel(first)  # someone reserved after it: the rate bound keeps its slot spent
    assert core.available(0.0) == -2.0
    core.cancel(second)  # the latest: given back
    assert core.available(0.0) == -1.0
    assert core.waiting == 0


def test_emitted_names_are_semconv_constants(otel_capture):
    """Every span event, attribute and counter value a RateLimiter emits is a semconv constant."""
    clock = FakeClock()
    limiter = RateLimiter(rate=1, burst=1, max_wait=0.9)
    pipeline = Pipeline("p", limiter, clock=clock, **otel_capture.providers)
    pipeline.call(lambda: 1)
    with pytest.raises(RateLimitedError):
        pipeline.call(lambda: 1)
    clock.advance(0.2)
    pipeline.call(lambda: 1)  # waits 0.8 s
    names = set()
    for span in otel_capture.spans():
        for event in span.events:
            names.add(event.name)
            names.update(event.attributes)
    for point in otel_capture.metric_points(semconv.METRIC_EVENTS):
        names.update(str(point.attributes[k]) for k in (semconv.STRATEGY, semconv.EVENT))
    constants = {v for k, v in vars(semconv).items() if k.isupper() and isinstance(v, str)}
    assert names >= {
        semconv.SPAN_EVENT_RATE_LIMITER_WAITED,
        semconv.SPAN_EVENT_RATE_LIMITER_REJECTED,
        semconv.EVENT_RATE_LIMITED,
    }
    otel_owned = {"exception.stacktrace", "exception.escaped"}  # from record_exception
    assert names - constants <= otel_owned
