"""The deadline module: remaining(), scope(), nesting, clocks and CallContext on top of it."""

from __future__ import annotations

import asyncio
import contextvars
import math

import pytest

from otel_resilience import Pipeline, Retry, deadline
from otel_resilience._strategy import CallContext, DecidingStrategy
from otel_resilience.errors import CircuitOpenError
from otel_resilience.testing import FakeClock


def test_no_deadline_outside_a_scope():
    """Without any scope there is no deadline."""
    assert deadline.remaining() is None


def test_scope_publishes_seconds_left_on_its_clock():
    """remaining() reads the clock that set the deadline, and the scope ends with the block."""
    clock = FakeClock(start=100.0)
    with deadline.scope(5, clock=clock):
        assert deadline.remaining() == 5
        clock.advance(2)
        assert deadline.remaining() == 3
        clock.advance(10)
        assert deadline.remaining() == 0  # never negative
    assert deadline.remaining() is None


def test_nested_scopes_keep_the_earliest():
    """An inner scope cannot extend an outer one, but it can shorten it for its block."""
    clock = FakeClock()
    with deadline.scope(5, clock=clock):
        with deadline.scope(60, clock=clock):
            assert deadline.remaining() == 5
        with deadline.scope(1, clock=clock):
            assert deadline.remaining() == 1
        assert deadline.remaining() == 5


def test_scopes_on_different_clocks_compare_time_left():
    """Deadlines set on two clocks are compared by the time each has left."""
    far_ahead, behind = FakeClock(start=1000.0), FakeClock(start=0.0)
    with deadline.scope(3, clock=far_ahead):
        with deadline.scope(10, clock=behind):
            assert deadline.remaining() == 3
        with deadline.scope(2, clock=behind):
            assert deadline.remaining() == 2
            far_ahead.advance(100)  # the stored clock is `behind`: unaffected
            assert deadline.remaining() == 2


@pytest.mark.parametrize("bad", [-1, math.nan, math.inf, "5", True, None])
def test_scope_refuses_bad_seconds(bad):
    """A negative, NaN, infinite or non-number bound is a ValueError naming seconds."""
    with pytest.raises(ValueError, match="seconds"), deadline.scope(bad):
        pass


def test_scope_refuses_a_bad_clock():
    """An object that is not a clock is a ValueError naming clock."""
    with pytest.raises(ValueError, match="clock"), deadline.scope(1, clock=object()):  # type: ignore[arg-type]
        pass


def test_restoring_from_another_context_is_harmless():
    """A token restored in another context is ignored instead of raising in the user's call."""
    clock = FakeClock()
    token = deadline.tighten(clock.monotonic() + 1, clock)
    contextvars.copy_context().run(deadline.restore, token)  # another context: ignored
    assert deadline.remaining() == 1
    deadline.restore(token)
    assert deadline.remaining() is None


def test_tasks_inherit_the_deadline():
    """An asyncio task created inside a scope sees the scope's deadline."""
    clock = FakeClock()

    async def main() -> float | None:
        with deadline.scope(4, clock=clock):
            return await asyncio.create_task(_remaining())

    assert asyncio.run(main()) == 4


async def _remaining() -> float | None:
    return deadline.remaining()


class Probe(DecidingStrategy):
    """Test-only: records what the call context says about the deadline."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[float | None, float | None]] = []

    def enter(self, ctx: CallContext) -> None:
        """Record ``ctx.deadline`` and ``ctx.time_left()``."""
        self.seen.append((ctx.deadline, ctx.time_left()))


def test_call_context_converts_a_deadline_set_on_another_clock():
    """CallContext.deadline is on the pipeline's clock even when a scope used another clock."""
    user_clock, pipeline_clock = FakeClock(start=50.0), FakeClock(start=7.0)
    probe = Probe()
    pipeline = Pipeline("p", probe, clock=pipeline_clock)
    pipeline.call(lambda: None)
    with deadline.scope(3, clock=user_clock):
        pipeline.call(lambda: None)
    assert probe.seen == [(None, None), (10.0, 3.0)]


def test_a_retry_deadline_is_published_and_withdrawn(run, fake_clock, flaky):
    """A Retry with a deadline publishes it to the call, and withdraws it when it is done."""
    seen: list[float | None] = []

    def dep() -> str:
        seen.append(deadline.remaining())
        fake_clock.advance(1)
        if len(seen) < 2:
            raise ConnectionError("down")
        return "ok"

    retry = Retry(max_attempts=3, base_delay=0.5, jitter=False, deadline=5)
    assert run(Pipeline("p", retry, clock=fake_clock), dep) == "ok"
    assert seen == [5, 3.5]  # one attempt (1s) and one sleep (0.5s) later
    assert deadline.remaining() is None


def test_a_retry_deadline_is_withdrawn_on_failure_and_refusal(run, fake_clock, flaky):
    """Exhaustion and a refusal from further in withdraw the Retry's deadline too."""
    retry = Retry(max_attempts=2, base_delay=0.0, deadline=5)
    pipeline = Pipeline("p", retry, clock=fake_clock)
    run.raises(ConnectionError, pipeline, flaky(ConnectionError(), ConnectionError()))
    assert deadline.remaining() is None
    run.raises(CircuitOpenError, pipeline, flaky(CircuitOpenError("b", 1.0)))
    assert deadline.remaining() is None
