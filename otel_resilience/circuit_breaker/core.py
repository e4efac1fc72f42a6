"""The breaker's state machine: I/O-free, thread-safe, shared by the sync and async runners.

Every transition bumps ``epoch``. A permit is the epoch it was granted in, so an outcome that
arrives after the state moved on (a slow call that started before the breaker opened) is
ignored instead of polluting the new state's counts.
"""

from __future__ import annotations

import threading

from otel_resilience.circuit_breaker.options import BreakerOptions, CircuitState
from otel_resilience.circuit_breaker.window import CountWindow, TimeWindow

__all__ = ["BreakerCore", "Rejected", "Transition"]

CLOSED, OPEN, HALF_OPEN = CircuitState.CLOSED, CircuitState.OPEN, CircuitState.HALF_OPEN
Transition = tuple[CircuitState, CircuitState]


class Rejected(Exception):
    """The breaker refuses the call; ``retry_after`` is None when isolated."""

    def __init__(self, retry_after: float | None, transition: Transition | None) -> None:
        self.retry_after = retry_after
        self.transition = transition


class BreakerCore:
    """Counts outcomes and decides the state; callers emit telemetry for returned transitions."""

    __slots__ = (
        "_lock",
        "epoch",
        "isolated",
        "open_until",
        "opens_in_row",
        "opts",
        "probes_issued",
        "probes_ok",
        "snapshot",
        "state",
        "window",
    )

    def __init__(self, opts: BreakerOptions) -> None:
        self.opts = opts
        self._lock = threading.Lock()
        self.window: CountWindow | TimeWindow = (
            CountWindow(int(opts.window))
            if opts.window_type == "count"
            else TimeWindow(opts.window, opts.window_buckets)
        )
        self.state = CLOSED
        self.epoch = 0
        #: ``(state, epoch)`` published together, for the lock-free fast path.
        self.snapshot: tuple[CircuitState, int] = (CLOSED, 0)
        self.open_until = 0.0
        self.opens_in_row = 0
        self.probes_issued = 0
        self.probes_ok = 0
        self.isolated = False

    def effective_state(self, now: float) -> CircuitState:
        """The state, counting an expired break as half-open (no transition is made)."""
        state = self.state
        if state is OPEN and not self.isolated and now >= self.open_until:
            return HALF_OPEN
        return state

    def _move(self, new: CircuitState, now: float) -> Transition:
        prev = self.state
        self.state = new
        self.epoch += 1
        self.probes_issued = self.probes_ok = 0
        if new is OPEN:
            self.opens_in_row += 1
            self.open_until = now + self.opts.break_for(self.opens_in_row)
        elif new is CLOSED:
            self.opens_in_row = 0
            self.window.clear()
        self.snapshot = (new, self.epoch)
        return prev, new

    def acquire(self, now: float) -> tuple[int, Transition | None]:
        """Grant a permit (the current epoch) or raise :class:`Rejected`."""
        with self._lock:
            transition = None
            if self.state is OPEN:
                if self.isolated:
                    raise Rejected(None, None)
                if now < self.open_until:
                    raise Rejected(self.open_until - now, None)
                transition = self._move(HALF_OPEN, now)
            if self.state is HALF_OPEN:
                if self.probes_issued >= self.opts.half_open_max_calls:
                    raise Rejected(0.0, transition)
                self.probes_issued += 1
            return self.epoch, transition

    def record(self, permit: int, failed: bool, slow: bool, now: float) -> Transition | None:
        """Account for the outcome of the call holding ``permit``."""
        with self._lock:
            if permit != self.epoch:
                return None
            if self.state is CLOSED:
                window = self.window
                window.record(now, failed, slow)
                if not (failed or slow):
                    return None
                total, failures, slows = window.counts(now)
                opts = self.opts
                # The epsilon absorbs float error: 14 of 25 must reach a ratio of 0.56.
                if total >= opts.minimum_calls and (
                    failures >= opts.failure_ratio * total - 1e-9
                    or (
                        opts.slow_call_duration is not None
                        and slows >= opts.slow_call_ratio * total - 1e-9
                    )
                ):
                    return self._move(OPEN, now)
                return None
            if self.state is HALF_OPEN:
                if failed or slow:  # a probe that fails or crawls means "not yet"
                    return self._move(OPEN, now)
                self.probes_ok += 1
                if self.probes_ok >= self.opts.half_open_max_calls:
                    return self._move(CLOSED, now)
            return None

    def record_success(self, permit: int, now: float) -> Transition | None:
        """:meth:`record` for a success that is neither slow nor a failed result."""
        with self._lock:
            if permit == self.epoch and self.state is CLOSED:
                self.window.add_success(now)
                return None
        return self.record(permit, False, False, now)  # half-open probe, or a stale permit

    def release(self, permit: int) -> None:
        """Give back a probe permit whose call ended with no outcome (cancelled, interrupted)."""
        with self._lock:
            if permit == self.epoch and self.state is HALF_OPEN and self.probes_issued > 0:
                self.probes_issued -= 1

    def isolate(self, now: float) -> Transition | None:
        """Hold the breaker open until :meth:`reset`."""
        with self._lock:
            self.isolated = True
            return self._move(OPEN, now) if self.state is not OPEN else None

    def reset(self, now: float) -> Transition | None:
        """Close the breaker and forget every outcome."""
        with self._lock:
            self.isolated = False
            self.opens_in_row = 0
            self.window.clear()
            if self.state is CLOSED:
                # New epoch all the same: calls admitted before the reset must not count.
                self.epoch += 1
                self.snapshot = (CLOSED, self.epoch)
                return None
            return self._move(CLOSED, now)
