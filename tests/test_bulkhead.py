"""Bulkhead: permits, FIFO queue, queue_timeout on the clock, refusals and their telemetry."""

from __future__ import annotations

import math
from typing import Any

import pytest

from otel_resilience import CircuitBreaker, Pipeline, Retry, semconv
from otel_resilience._strategy import Strategy
from otel_resilience.bulkhead import Bulkhead
from otel_resilience.errors import BulkheadFullError, RejectedError
from otel_resilience.testing import FakeClock, OTelCapture
from tests.bulkhead_support import Caller, Gate, until


def _events(capture: OTelCapture, event: str) -> int:
    points = capture.metric_points(semconv.METRIC_EVENTS, **{semconv.EVENT: event})
    return sum(p.value for p in points)


def _updown(capture: OTelCapture, metric: str) -> int:
    return sum(p.value for p in capture.metric_points(metric))


def test_result_passes_through_and_permit_returns(run: Any) -> None:
    """A call under the limit runs, returns its result and gives its permit back."""
    bulkhead = Bulkhead(max_concurrent=2)
    assert run(Pipeline("p", bulkhead), lambda: 42) == 42
    assert (bulkhead.active, bulkhead.queued) == (0, 0)


def test_full_without_queue_refuses_without_calling(run: Any, otel_capture: OTelCapture) -> None:
    """With every permit taken and no queue, a call is refused: rejected, counted, not run."""
    bulkhead = Bulkhead(max_concurrent=1, name="db")
    pipeline = Pipeline("p", bulkhead, **otel_capture.providers)
    gate = Gate()
    holder = Caller(run, pipeline, gate)
    assert gate.entered.wait(10)
    called = []
    error = run.raises(BulkheadFullError, pipeline, lambda: called.append(1))
    assert isinstance(error, RejectedError)
    assert (error.bulkhead_name, error.max_concurrent) == ("db", 1)
    assert called == []
    gate.open()
    assert holder.join().result == "held"
    rejected = [s for s in otel_capture.spans("p") if s.attributes[semconv.OUTCOME] == "rejected"]
    assert len(rejected) == 1
    assert rejected[0].attributes[semconv.ATTEMPTS] == 0
    events = [e for e in rejected[0].events if e.name == semconv.SPAN_EVENT_BULKHEAD_REJECTED]
    assert [dict(e.attributes) for e in events] == [{semconv.BULKHEAD_NAME: "db"}]
    assert _events(otel_capture, semconv.EVENT_BULKHEAD_REJECTED) == 1
    assert (bulkhead.active, bulkhead.queued) == (0, 0)


def test_queued_call_runs_when_a_permit_frees(run: Any, otel_capture: OTelCapture) -> None:
    """A queued call runs once the holder returns; its span tells how long it waited."""
    clock = FakeClock(auto_advance=False)
    bulkhead = Bulkhead(max_concurrent=1, max_queue=1)
    pipeline = Pipeline("p", bulkhead, clock=clock, **otel_capture.providers)
    gate = Gate()
    holder = Caller(run, pipeline, gate)
    assert gate.entered.wait(10)
    waiter = Caller(run, pipeline, lambda: "second")
    until(lambda: bulkhead.queued == 1, "one queued call")
    assert _updown(otel_capture, semconv.METRIC_BULKHEAD_QUEUED) == 1
    assert _updown(otel_capture, semconv.METRIC_BULKHEAD_ACTIVE) == 1
    clock.advance(1.5)
    gate.open()
    assert waiter.join().result == "second"
    assert holder.join().result == "held"
    waited = [
        dict(e.attributes)
        for s in otel_capture.spans("p")
        for e in s.events
        if e.name == semconv.SPAN_EVENT_BULKHEAD_QUEUED
    ]
    assert waited == [{semconv.BULKHEAD_NAME: "p", semconv.BULKHEAD_WAIT: 1.5}]
    assert _updown(otel_capture, semconv.METRIC_BULKHEAD_QUEUED) == 0
    assert _updown(otel_capture, semconv.METRIC_BULKHEAD_ACTIVE) == 0


def test_queue_timeout_runs_on_the_injected_clock(run: Any, otel_capture: OTelCapture) -> None:
    """A queued call is refused exactly when the clock passes queue_timeout, not before."""
    clock = FakeClock(auto_advance=False)
    bulkhead = Bulkhead(max_concurrent=1, max_queue=1, queue_timeout=2.0)
    pipeline = Pipeline("p", bulkhead, clock=clock, **otel_capture.providers)
    gate = Gate()
    holder = Caller(run, pipeline, gate)
    assert gate.entered.wait(10)
    waiter = Caller(run, pipeline, lambda: "never")
    until(lambda: bulkhead.queued == 1, "one queued call")
    clock.advance(1.999)
    assert bulkhead.queued == 1  # still waiting: its deadline is on the fake clock
    clock.advance(0.001)
    assert isinstance(waiter.join().error, BulkheadFullError)
    assert (bulkhead.active, bulkhead.queued) == (1, 0)
    gate.open()
    holder.join()
    assert bulkhead.active == 0
    (span,) = [s for s in otel_capture.spans("p") if s.attributes[semconv.OUTCOME] == "rejected"]
    (event,) = [e for e in span.events if e.name == semconv.SPAN_EVENT_BULKHEAD_REJECTED]
    assert event.attributes[semconv.BULKHEAD_WAIT] == 2.0


def test_queue_serves_first_come_first_served(run: Any) -> None:
    """Queued calls run in the order they queued."""
    bulkhead = Bulkhead(max_concurrent=1, max_queue=3)
    pipeline = Pipeline("p", bulkhead)
    gate = Gate()
    holder = Caller(run, pipeline, gate)
    assert gate.entered.wait(10)
    order: list[int] = []
    callers = []
    for i in range(3):
        callers.append(Caller(run, pipeline, lambda i=i: order.append(i)))
        until(lambda n=i + 1: bulkhead.queued == n, f"{i + 1} queued")
    refused = run.raises(BulkheadFullError, pipeline, lambda: order.append(99))
    assert refused.max_concurrent == 1
    gate.open()
    for caller in [holder, *callers]:
        assert caller.join().error is None
    assert order == [0, 1, 2]


def test_threads_and_tasks_share_the_permits(run: Any) -> None:
    """A permit held by a call of one kind (sync or async) refuses a call of the other kind."""
    bulkhead = Bulkhead(max_concurrent=1)
    pipeline = Pipeline("p", bulkhead)
    gate = Gate()
    holder = Caller(run, pipeline, gate)
    assert gate.entered.wait(10)
    other = type(run)("async" if run.mode == "sync" else "sync")
    other.raises(BulkheadFullError, pipeline, lambda: "never")
    gate.open()
    holder.join()
    assert other(pipeline, lambda: "now") == "now"


def test_permit_returns_after_an_exception(run: Any) -> None:
    """A call that raises gives its permit back."""
    bulkhead = Bulkhead(max_concurrent=1)
    pipeline = Pipeline("p", bulkhead)

    def boom() -> None:
        raise ValueError("boom")

    run.raises(ValueError, pipeline, boom)
    assert bulkhead.active == 0
    assert run(pipeline, lambda: "again") == "again"


def test_permit_returns_after_keyboard_interrupt_while_running() -> None:
    """KeyboardInterrupt inside the call propagates and the permit is given back."""
    bulkhead = Bulkhead(max_concurrent=1)
    pipeline = Pipeline("p", bulkhead)

    def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pipeline.call(interrupted)
    assert bulkhead.active == 0


class _InterruptingClock(FakeClock):
    """A FakeClock whose timer raises KeyboardInterrupt: an interrupt while queued."""

    def call_later(self, seconds: float, fn: Any) -> Any:
        raise KeyboardInterrupt


def test_keyboard_interrupt_while_queued_leaves_the_queue() -> None:
    """An interrupt while a thread waits in the queue removes it; nothing stays queued."""
    clock = _InterruptingClock(auto_advance=False)
    bulkhead = Bulkhead(max_concurrent=1, max_queue=1, queue_timeout=1.0)
    pipeline = Pipeline("p", bulkhead, clock=clock)
    gate = Gate()
    holder = Caller(type("R", (), {"__call__": lambda s, p, f: p.call(f)})(), pipeline, gate)
    assert gate.entered.wait(10)
    with pytest.raises(KeyboardInterrupt):
        pipeline.call(lambda: "never")
    assert (bulkhead.active, bulkhead.queued) == (1, 0)
    gate.open()
    holder.join()
    assert bulkhead.active == 0


def test_refusal_is_not_retried_nor_a_breaker_failure(run: Any) -> None:
    """Retry does not retry a BulkheadFullError and a breaker does not count it."""
    clock = FakeClock()
    bulkhead = Bulkhead(max_concurrent=1)
    breaker = CircuitBreaker(minimum_calls=1, window=1, window_type="count", failure_ratio=1.0)
    pipeline = Pipeline("p", Retry(max_attempts=5, base_delay=1.0), breaker, bulkhead, clock=clock)
    gate = Gate()
    holder = Caller(run, pipeline, gate)
    assert gate.entered.wait(10)
    run.raises(BulkheadFullError, pipeline, lambda: "never")
    assert clock.sleeps == []
    assert breaker.state.value == "closed"
    gate.open()
    holder.join()


def test_bulkhead_inside_retry_takes_a_permit_per_attempt(run: Any, flaky: Any) -> None:
    """Each attempt of a retried call takes and returns its own permit."""
    bulkhead = Bulkhead(max_concurrent=1)
    pipeline = Pipeline("p", Retry(max_attempts=3, base_delay=0.0), bulkhead, clock=FakeClock())
    fn = flaky(ConnectionError(), ConnectionError(), result="ok")
    assert run(pipeline, fn) == "ok"
    assert (fn.calls, bulkhead.active) == (3, 0)


def test_name_defaults_to_the_first_pipeline() -> None:
    """Without a name the bulkhead takes its first pipeline's; a given name wins."""
    unnamed, named = Bulkhead(max_concurrent=1), Bulkhead(max_concurrent=1, name="pool")
    Pipeline("first", unnamed)
    Pipeline("second", unnamed)
    Pipeline("first", named)
    assert (unnamed.name, named.name) == ("first", "pool")
    assert "max_concurrent=1" in repr(named)


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("max_concurrent", {"max_concurrent": 0}),
        ("max_concurrent", {"max_concurrent": -1}),
        ("max_concurrent", {"max_concurrent": 1.5}),
        ("max_concurrent", {"max_concurrent": True}),
        ("max_concurrent", {"max_concurrent": "4"}),
        ("max_queue", {"max_concurrent": 1, "max_queue": -1}),
        ("max_queue", {"max_concurrent": 1, "max_queue": None}),
        ("queue_timeout", {"max_concurrent": 1, "queue_timeout": -0.1}),
        ("queue_timeout", {"max_concurrent": 1, "queue_timeout": math.nan}),
        ("queue_timeout", {"max_concurrent": 1, "queue_timeout": math.inf}),
        ("queue_timeout", {"max_concurrent": 1, "queue_timeout": "1"}),
        ("name", {"max_concurrent": 1, "name": ""}),
        ("name", {"max_concurrent": 1, "name": 3}),
        ("clock", {"max_concurrent": 1, "clock": object()}),
    ],
)
def test_invalid_options_name_the_field(field: str, kwargs: dict[str, Any]) -> None:
    """Invalid options fail at construction with a ValueError naming the field."""
    with pytest.raises(ValueError, match=f"^{field} "):
        Bulkhead(**kwargs)


def test_options_are_keyword_only() -> None:
    """Positional options are refused."""
    with pytest.raises(TypeError):
        Bulkhead(3)  # type: ignore[misc]


def test_a_waiter_of_the_other_kind_gets_the_permit(run: Any) -> None:
    """A permit freed by a call of one kind goes to a queued call of the other kind."""
    bulkhead = Bulkhead(max_concurrent=1, max_queue=1)
    pipeline = Pipeline("p", bulkhead)
    gate = Gate()
    holder = Caller(run, pipeline, gate)
    assert gate.entered.wait(10)
    other = type(run)("async" if run.mode == "sync" else "sync")
    waiter = Caller(other, pipeline, lambda: "other kind")
    until(lambda: bulkhead.queued == 1, "one queued call")
    gate.open()
    assert waiter.join().result == "other kind"
    assert (holder.join().result, bulkhead.active) == ("held", 0)


class _Raising:
    """An instrument whose every method raises."""

    def add(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("broken meter")


def test_broken_up_down_counters_neither_fail_the_call_nor_leak(
    run: Any, otel_capture: OTelCapture
) -> None:
    """Up-down counters that raise: the call still returns and the permit comes back."""
    bulkhead = Bulkhead(max_concurrent=1)
    pipeline = Pipeline("p", bulkhead, **otel_capture.providers)
    inst = pipeline._telemetry.instruments()
    inst.bulkhead_active = inst.bulkhead_queued = _Raising()  # type: ignore[assignment]
    assert run(pipeline, lambda: "fine") == "fine"
    assert bulkhead.active == 0


class _Deadline(Strategy):
    """Publishes a deadline ``seconds`` from now around what it wraps (as a Timeout does)."""

    __slots__ = ("seconds",)

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    def _run(self, nxt: Any, ctx: Any) -> Any:
        token = ctx.tighten_deadline(ctx.clock.monotonic() + self.seconds)
        try:
            return nxt()
        finally:
            ctx.restore_deadline(token)

    async def _arun(self, nxt: Any, ctx: Any) -> Any:
        token = ctx.tighten_deadline(ctx.clock.monotonic() + self.seconds)
        try:
            return await nxt()
        finally:
            ctx.restore_deadline(token)


def test_a_queued_call_waits_no_longer_than_its_deadline(run: Any) -> None:
    """A published deadline earlier than queue_timeout ends the wait at the deadline."""
    clock = FakeClock(auto_advance=False)
    bulkhead = Bulkhead(max_concurrent=1, max_queue=1, queue_timeout=10.0)
    holding = Pipeline("hold", bulkhead, clock=clock)
    bounded = Pipeline("bounded", _Deadline(1.0), bulkhead, clock=clock)
    gate = Gate()
    holder = Caller(run, holding, gate)
    assert gate.entered.wait(10)
    waiter = Caller(run, bounded, lambda: "never")
    until(lambda: bulkhead.queued == 1, "one queued call")
    clock.advance(0.999)
    assert bulkhead.queued == 1
    clock.advance(0.001)
    assert isinstance(waiter.join().error, BulkheadFullError)
    gate.open()
    holder.join()
    assert (bulkhead.active, bulkhead.queued) == (0, 0)
