"""Timeout(mode="thread"): sync calls in a worker thread, abandoned at the deadline."""

from __future__ import annotations

import concurrent.futures
import threading

import pytest

from otel_resilience import Pipeline, deadline, semconv
from otel_resilience.errors import ResilienceTimeoutError
from otel_resilience.testing import FakeClock
from otel_resilience.timeout import Timeout

GUARD = 10.0  # real seconds: only a bound against hangs, never reached when the code is right


def test_a_call_in_time_returns_its_result_and_sees_the_deadline(fake_clock):
    """The worker runs in the caller's context: it sees the published deadline."""
    pipeline = Pipeline("p", Timeout(seconds=4, mode="thread"), clock=fake_clock)
    assert pipeline.call(deadline.remaining) == 4
    assert pipeline.call(threading.current_thread).name.startswith("otel-resilience-timeout")


def test_an_error_in_time_propagates(fake_clock):
    """An exception raised by the worker in time reaches the caller unchanged."""
    boom = ConnectionError("down")

    def dep() -> None:
        raise boom

    with pytest.raises(ConnectionError) as info:
        Pipeline("p", Timeout(seconds=4, mode="thread"), clock=fake_clock).call(dep)
    assert info.value is boom


def test_a_blocked_call_is_abandoned_at_the_deadline(otel_capture):
    """The caller gets a timeout at the deadline while the worker is still blocked."""
    clock = FakeClock(auto_advance=False)
    started, release, finished = threading.Event(), threading.Event(), threading.Event()

    def blocked() -> str:
        started.set()
        release.wait(GUARD)
        finished.set()
        return "late"

    pipeline = Pipeline(
        "p", Timeout(seconds=2, mode="thread"), clock=clock, **otel_capture.providers
    )
    with concurrent.futures.ThreadPoolExecutor(1) as caller:
        outcome = caller.submit(pipeline.call, blocked)
        assert started.wait(GUARD)
        clock.advance(1.5)
        assert not outcome.done()  # still waiting at 1.5
        clock.advance(1.0)
        error = outcome.exception(timeout=GUARD)
    assert isinstance(error, ResilienceTimeoutError)
    assert error.late_result is None
    assert not finished.is_set()  # abandoned, not waited for
    release.set()
    assert finished.wait(GUARD)
    (span,) = otel_capture.spans("p")
    assert span.attributes[semconv.OUTCOME] == semconv.OUTCOME_FAILURE
    assert [e.name for e in span.events if e.name != "exception"] == [semconv.SPAN_EVENT_TIMEOUT]


def test_the_pool_is_bounded():
    """At most max_workers calls run at once; the others wait for a worker within their bound."""
    clock = FakeClock()
    timeout = Timeout(seconds=60, mode="thread", max_workers=2)
    pipeline = Pipeline("p", timeout, clock=clock)
    running, peak, lock = [0], [0], threading.Lock()
    gate = threading.Barrier(2, timeout=GUARD)

    def dep() -> None:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        gate.wait()  # two at a time must meet here
        with lock:
            running[0] -= 1

    with concurrent.futures.ThreadPoolExecutor(6) as callers:
        for f in [callers.submit(pipeline.call, dep) for _ in range(6)]:
            f.result(GUARD)
    assert peak[0] == 2


def test_on_the_system_clock_a_blocked_call_is_abandoned_and_an_own_timeout_kept():
    """Real time: the wait ends at the deadline (the call still blocked), and a TimeoutError
    the call raises in time is its own, not turned into a ResilienceTimeoutError."""
    release = threading.Event()
    pipeline = Pipeline("p", Timeout(seconds=0.05, mode="thread"))
    with pytest.raises(ResilienceTimeoutError):
        pipeline.call(release.wait, GUARD)
    release.set()
    own = TimeoutError("the dependency's own")

    def dep() -> None:
        raise own

    with pytest.raises(TimeoutError) as info:
        Pipeline("q", Timeout(seconds=GUARD, mode="thread")).call(dep)
    assert info.value is own
