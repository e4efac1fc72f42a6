"""Interrupts at any point of a call (signals, cancellation) never leave a breaker stuck."""

from __future__ import annotations

import asyncio
import random
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from functools import partial

import pytest

from otel_resilience import CircuitBreaker, CircuitOpenError, CircuitState, Pipeline
from otel_resilience.circuit_breaker import _core as core_module
from otel_resilience.circuit_breaker import _window as window_module
from otel_resilience.circuit_breaker import options as options_module
from otel_resilience.circuit_breaker._core import CLOSED, BreakerCore, Rejected
from otel_resilience.circuit_breaker.options import BreakerOptions
from otel_resilience.testing import FakeClock

#: The documented default of ``half_open_probe_timeout``.
DEFAULT_PROBE_TIMEOUT = 60.0
OPTS = BreakerOptions(
    minimum_calls=1,
    window=1,
    window_type="count",
    break_duration=1.0,
    half_open_probe_timeout=5.0,
)
needs_itimer = pytest.mark.skipif(
    not hasattr(signal, "setitimer"), reason="signal.setitimer is POSIX-only"
)


class Interrupt(BaseException):
    """Stands for KeyboardInterrupt, raised by a signal handler or a tracer."""


@contextmanager
def alarm_interrupts() -> Iterator[Callable[[Callable[[], object], float], bool]]:
    """Yield ``interrupted(fn, delay)``: ``fn()`` with SIGALRM raising Interrupt after ``delay``."""
    armed = [False]

    def handler(signum: int, frame: object) -> None:
        if armed[0]:  # once per arming: a late signal finds the flag down and does nothing
            armed[0] = False
            raise Interrupt

    def interrupted(fn: Callable[[], object], delay: float) -> bool:
        try:
            try:
                armed[0] = True
                signal.setitimer(signal.ITIMER_REAL, delay)
                fn()
            finally:
                armed[0] = False
                signal.setitimer(signal.ITIMER_REAL, 0)
        except Interrupt:
            return True
        return False

    previous = signal.signal(signal.SIGALRM, handler)
    try:
        yield interrupted
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class CoreCaller:
    """Drives a BreakerCore the way the strategy does: fast path, acquire, release, record."""

    def __init__(self) -> None:
        self.core = BreakerCore(OPTS)
        self.now = 0.0

    def __call__(self, failed: bool = False, spin: int = 0) -> None:
        core, now = self.core, self.now
        state, epoch = core.snapshot
        permit = epoch if state is CLOSED else core.acquire(now)[0]
        try:
            for _ in range(spin):  # the protected call: loop back edges are interrupt points
                pass
        except BaseException:
            core.release(permit)
            raise
        core.record(permit, failed, False, now)

    def rejects_within_two_failures(self) -> bool:
        """Whether the breaker still opens: two failing calls end with a rejection."""
        for _ in range(2):
            try:
                self(failed=True)
            except Rejected:
                return True
        return False


# A timer signal lands wherever Python happens to be, including a gc callback that another
# test's library installed: the interrupt it raises there is "unraisable" by design.
_ANYWHERE = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@needs_itimer
@_ANYWHERE
def test_signals_at_random_points_never_wedge_the_core():
    """Thousands of SIGALRM interrupts in closed calls and probes: it still opens and recovers."""
    rng = random.Random(20240611)
    call = CoreCaller()
    hits = 0
    with alarm_interrupts() as interrupted:
        for _ in range(2500):
            failed, spin = rng.random() < 0.5, rng.randrange(12)
            hits += interrupted(partial(call, failed, spin), rng.uniform(0.0, 2e-5))
            assert call.rejects_within_two_failures(), "stuck closed"
            call.now += OPTS.break_duration
            failed, spin = rng.random() < 0.5, rng.randrange(12)
            hits += interrupted(partial(call, failed, spin), rng.uniform(0.0, 2e-5))
            call.now += OPTS.half_open_probe_timeout
            call()  # raises Rejected if a lost probe slot were never reclaimed
            assert call.core.state is CLOSED
    assert hits >= 500  # the interrupts did land (most of them inside the calls)


@needs_itimer
@_ANYWHERE
def test_signals_at_random_points_never_wedge_a_pipeline():
    """The same through Pipeline and CircuitBreaker, with the default probe timeout."""
    rng = random.Random(20240612)
    clock = FakeClock()
    breaker = CircuitBreaker(minimum_calls=1, window=1, window_type="count", break_duration=1.0)
    pipeline = Pipeline("interrupted", breaker, clock=clock)

    def down() -> None:
        raise ConnectionError("down")

    def call(fn: Callable[[], object]) -> None:
        with suppress(ConnectionError, CircuitOpenError):
            pipeline.call(fn)

    def rejects_within_two_failures() -> bool:
        for _ in range(2):
            try:
                pipeline.call(down)
            except CircuitOpenError:
                return True
            except ConnectionError:
                pass
        return False

    hits = 0
    with alarm_interrupts() as interrupted:
        for _ in range(1500):
            fn = down if rng.random() < 0.5 else (lambda: None)
            hits += interrupted(partial(call, fn), rng.uniform(0.0, 4e-5))
            assert rejects_within_two_failures(), "stuck closed"
            clock.advance(1.0)
            fn = down if rng.random() < 0.5 else (lambda: None)
            hits += interrupted(partial(call, fn), rng.uniform(0.0, 4e-5))
            clock.advance(DEFAULT_PROBE_TIMEOUT)
            assert pipeline.call(lambda: "ok") == "ok"
            assert breaker.state is CircuitState.CLOSED
    assert hits >= 300


def test_cancellation_at_random_points_never_wedges_the_breaker():
    """Probes cancelled after a random number of loop turns (some shielded, hung) never wedge it."""
    rng = random.Random(20240613)
    clock = FakeClock()
    breaker = CircuitBreaker(minimum_calls=1, window=1, window_type="count", break_duration=1.0)
    pipeline = Pipeline("cancelled", breaker, clock=clock)

    async def down() -> None:
        raise ConnectionError("down")

    async def ok() -> str:
        return "ok"

    async def scenario() -> int:
        orphans: list[asyncio.Future[object]] = []
        cancelled = 0
        for _ in range(1500):
            with suppress(ConnectionError, CircuitOpenError):
                await pipeline.acall(down)
            clock.advance(1.0)
            steps, verdict = rng.randrange(6), rng.choice(["ok", "fail", "hang"])

            async def probe(steps: int = steps, verdict: str = verdict) -> str:
                for _ in range(steps):
                    await asyncio.sleep(0)
                if verdict == "fail":
                    raise ConnectionError("still down")
                if verdict == "hang":
                    await asyncio.Event().wait()
                return "ok"

            task: asyncio.Future[object] = asyncio.ensure_future(pipeline.acall(probe))
            if rng.random() < 0.25:  # the caller's cancellation does not reach a shielded probe
                orphans.append(task)
                task = asyncio.shield(task)
            for _ in range(rng.randrange(8)):
                await asyncio.sleep(0)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                cancelled += 1
            except (ConnectionError, CircuitOpenError):
                pass
            clock.advance(DEFAULT_PROBE_TIMEOUT)
            assert await pipeline.acall(ok) == "ok"
            assert breaker.state is CircuitState.CLOSED
        for orphan in orphans:
            orphan.cancel()
        await asyncio.gather(*orphans, return_exceptions=True)
        return cancelled

    assert asyncio.run(scenario()) > 500


# -- deterministic: an interrupt at every call and return inside the breaker's code ----------

BREAKER_FILES = {module.__file__ for module in (core_module, options_module, window_module)}


def interrupt_at(k: int, fn: Callable[[], object], spare: object = None) -> bool:
    """Run ``fn``, raising Interrupt at the ``k``-th interrupt point in the breaker's code.

    The points are where a signal handler can run: a Python function's entry, and just after
    a call (Python or C, lock exits included) returns. The return of the ``spare`` code object
    is not interrupted. Returns whether the interrupt fired, i.e. ``k`` was within the run.
    """
    seen = [0]

    def profiler(frame, event, arg):  # the sys.setprofile protocol
        if frame.f_code.co_filename not in BREAKER_FILES or event == "c_call":
            return
        if event == "return" and frame.f_code is spare:
            return
        seen[0] += 1
        if seen[0] == k + 1:
            raise Interrupt

    sys.setprofile(profiler)
    try:
        fn()
    except Interrupt:
        return True
    finally:
        sys.setprofile(None)
    return False


def half_open_core() -> CoreCaller:
    """A CoreCaller whose breaker admits a probe on the next call."""
    call = CoreCaller()
    call(failed=True)
    call.now += OPTS.break_duration
    return call


def test_an_interrupt_anywhere_in_acquire_takes_no_slot():
    """Acquire interrupted at any call or return before its own gives its probe slot back."""
    k = 0
    while True:
        call = half_open_core()
        if not interrupt_at(k, partial(call.core.acquire, call.now), BreakerCore.acquire.__code__):
            break
        permit, _ = call.core.acquire(call.now)  # Rejected if the interrupted one kept the slot
        assert call.core.record(permit, False, False, call.now) == (
            CircuitState.HALF_OPEN,
            CircuitState.CLOSED,
        )
        k += 1
    assert k > 5


@pytest.mark.parametrize("failed", [False, True])
@pytest.mark.parametrize("phase", ["closed", "probe"])
def test_an_interrupt_anywhere_in_a_call_is_recovered_by_the_probe_timeout(phase, failed):
    """An interrupt at any point of a closed call or a probe: it opens, then closes again."""
    k = 0
    while True:
        call = half_open_core() if phase == "probe" else CoreCaller()
        if not interrupt_at(k, partial(call, failed=failed)):
            break
        assert call.rejects_within_two_failures(), k
        call.now += OPTS.half_open_probe_timeout
        call()
        assert call.core.state is CLOSED, k
        k += 1
    assert k >= 3  # the call has interrupt points: entry, lock exit, return
