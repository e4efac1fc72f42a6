"""The breaker's state machine: I/O-free, thread-safe, shared by the sync and async runners.

Every transition bumps ``epoch``. A closed-state permit is the epoch it was granted in, so an
outcome that arrives after the state moved on (a slow call that started before the breaker
opened) is ignored instead of polluting the new state's counts. A half-open permit is a probe
id (a negative int, unique in the process) that must be handed back exactly once, by
:meth:`BreakerCore.record` or :meth:`BreakerCore.release`. A probe never handed back (its call
was interrupted at an unlucky point) loses its slot after ``half_open_probe_timeout``.

An idle breaker allocates nothing but itself: the lock and the window come with first use.
"""

from __future__ import annotations

import copy
import math
import threading
from collections.abc import Callable
from itertools import count
from typing import Any

from otel_resilience.circuit_breaker._adaptive import Extras, HealthSlot, adapts
from otel_resilience.circuit_breaker._window import CountWindow, TimeWindow, Window
from otel_resilience.circuit_breaker.options import BreakerOptions, CircuitState

__all__ = ["BreakerCore", "Rejected", "Transition"]

CLOSED, OPEN, HALF_OPEN = CircuitState.CLOSED, CircuitState.OPEN, CircuitState.HALF_OPEN
Transition = tuple[CircuitState, CircuitState]

_CLOSED_AT_0 = (CLOSED, 0)  # shared by every new breaker: no tuple per idle breaker
_PROBE_IDS = count(1)  # next() on a count is atomic in CPython
_LOCK_BIRTH = threading.Lock()  # held only while a breaker creates its own lock


class Rejected(Exception):
    """The breaker refuses the call; ``retry_after`` is None when isolated."""

    def __init__(self, retry_after: float | None, transition: Transition | None) -> None:
        self.retry_after = retry_after
        self.transition = transition


class _Probes:
    """The probes of one half-open period: running ones, timed-out ones, successes so far.

    ``running`` maps probe id -> grant time, oldest first; it holds the slots. A probe that
    outlives the timeout moves to ``overdue``: its slot is reclaimed for a new probe, but its
    verdict, should it still arrive, counts (a slow but healthy dependency can still close
    the breaker). ``overdue`` keeps the newest ``half_open_max_calls`` ids, so it stays small.
    """

    __slots__ = ("ok", "overdue", "running")

    def __init__(self) -> None:
        self.running: dict[int, float] = {}
        self.overdue: dict[int, float] = {}
        self.ok = 0

    def admit(self, now: float, opts: BreakerOptions) -> bool:
        """Whether a new probe fits, after reclaiming the slots of timed-out probes."""
        limit = opts.half_open_max_calls
        running = self.running
        if len(running) + self.ok < limit:
            return True
        timeout, overdue = opts.half_open_probe_timeout, self.overdue
        while running:
            probe = next(iter(running))  # the oldest: ids are kept in grant order
            granted = running[probe]
            if now - granted < timeout:
                break
            del running[probe]
            overdue[probe] = granted
            if len(overdue) > limit:
                del overdue[next(iter(overdue))]
        return len(running) + self.ok < limit

    def settle(self, probe: int) -> bool:
        """Forget ``probe``; whether it was still ours (False: stale, or settled already)."""
        return (
            self.running.pop(probe, None) is not None or self.overdue.pop(probe, None) is not None
        )


class BreakerCore:
    """Counts outcomes and decides the state; callers emit telemetry for returned transitions."""

    __slots__ = (
        "_lock",
        "_probes",
        "epoch",
        "ext",
        "isolated",
        "open_until",
        "opens_in_row",
        "opts",
        "snapshot",
        "state",
        "window",
    )

    def __init__(
        self, opts: BreakerOptions, *, health_check: Callable[[], Any] | None = None
    ) -> None:
        self.opts = opts
        self._lock: threading.Lock | None = None
        #: Created by the first recorded outcome (windows define no ``__len__``: always truthy).
        self.window: Window | None = None
        self._probes: _Probes | None = None  # only while half-open
        self.state = CLOSED
        self.epoch = 0
        #: ``(state, epoch)`` published together, for the lock-free fast path.
        self.snapshot: tuple[CircuitState, int] = _CLOSED_AT_0
        self.open_until = 0.0
        self.opens_in_row = 0
        self.isolated = False
        #: Health probing and adaptive state: only for breakers that use them (one slot).
        self.ext = Extras(opts, health_check) if health_check is not None or adapts(opts) else None

    @property
    def health(self) -> HealthSlot | None:
        """Health probing state, or None without a health check."""
        ext = self.ext
        return None if ext is None else ext.health

    def _ratio(self, now: float) -> float:
        """The failure ratio that opens the breaker (adaptive, or ``failure_ratio``); locked."""
        ext = self.ext
        if ext is None or ext.adaptive is None:
            return self.opts.failure_ratio
        return ext.adaptive.current(now)

    def threshold(self, now: float) -> float:
        """:meth:`_ratio` for readers outside a call (the gauge, ``breaker.threshold``)."""
        with self._lock or self._new_lock():
            return self._ratio(now)

    @property
    def slow_limit(self) -> float:
        """Seconds above which a call is slow with ``slow_call_duration="auto"``."""
        ext = self.ext
        return math.inf if ext is None or ext.samples is None else ext.samples.limit

    def _new_lock(self) -> threading.Lock:
        # Double-checked under a global lock: two threads must not each make a lock.
        with _LOCK_BIRTH:
            lock = self._lock
            if lock is None:
                lock = self._lock = threading.Lock()
            return lock

    def _fresh_window(self) -> Window:
        opts = self.opts
        if opts.window_type == "count":
            return CountWindow(int(opts.window))
        return TimeWindow(opts.window, opts.window_buckets)

    def _new_window(self) -> Window:
        window = self.window = self._fresh_window()
        return window

    def effective_state(self, now: float) -> CircuitState:
        """The state, counting an expired break as half-open (no transition is made)."""
        state = self.state
        if state is OPEN and not self.isolated and now >= self.open_until:
            return HALF_OPEN
        return state

    def _move(self, new: CircuitState, now: float, *, isolated: bool = False) -> Transition:
        # All-or-nothing under interrupts: a signal handler can raise only at a call, a
        # function entry or a loop's back edge (on 3.10 also a branch), so every call and branch
        # comes before the first store.
        prev = self.state
        probes = _Probes() if new is HALF_OPEN else None
        opens, open_until = self.opens_in_row, self.open_until
        window, health = self.window, self.health
        probe_due = 0.0 if health is None else health.due
        if new is OPEN:
            opens += 1
            open_until = now + self.opts.break_for(opens)
            probe_due = now + self.opts.health_interval
        elif new is CLOSED:
            opens = 0
            if window is not None:
                window = self._fresh_window()
        epoch = self.epoch + 1
        if health is not None:  # before the stores: a branch is an interrupt point on 3.10
            health.due = probe_due  # harmless alone: it only matters once the state is open
        self.state = new
        self.epoch = epoch
        self._probes = probes
        self.isolated = isolated
        self.opens_in_row = opens
        self.open_until = open_until
        self.window = window
        self.snapshot = (new, epoch)
        return prev, new

    def acquire(self, now: float) -> tuple[int, Transition | None]:
        """Grant a permit (the epoch, or a probe id when half-open) or raise :class:`Rejected`."""
        probe = 0  # probe ids are negative: 0 means "no slot taken yet"
        try:
            with self._lock or self._new_lock():
                transition = None
                if self.state is OPEN:
                    if self.isolated:
                        raise Rejected(None, None)
                    if now < self.open_until:
                        raise Rejected(self.open_until - now, None)
                    transition = self._move(HALF_OPEN, now)
                probes = self._probes
                if probes is None:  # closed
                    return self.epoch, transition
                if not probes.admit(now, self.opts):
                    raise Rejected(0.0, transition)
                probe = -next(_PROBE_IDS)
                probes.running[probe] = now
            return probe, transition
        except BaseException:
            # Interrupted (a signal handler raising) after taking a slot: give it back. An
            # interrupt inside this handler still loses it, until the probe timeout.
            if probe:
                self.release(probe)
            raise

    def record(
        self, permit: int, failed: bool, slow: bool, now: float, duration: float | None = None
    ) -> Transition | None:
        """Account for the outcome of the call holding ``permit`` (``duration``: if timed)."""
        try:
            with self._lock or self._new_lock():
                ext = self.ext
                if permit == self.epoch and self.state is CLOSED:
                    window = self.window or self._new_window()
                    window.record(now, failed, slow)
                    if ext is not None:
                        ext.observe(now, failed, slow, duration)
                    if not (failed or slow):
                        return None
                    total, failures, slows = window.counts(now)
                    opts = self.opts
                    # The epsilon absorbs float error: 14 of 25 must reach a ratio of 0.56.
                    if total >= opts.minimum_calls and (
                        failures >= self._ratio(now) * total - 1e-9
                        or (
                            opts.slow_call_duration is not None
                            and slows >= opts.slow_call_ratio * total - 1e-9
                        )
                    ):
                        return self._move(OPEN, now)
                    return None
                probes = self._probes
                if probes is None or not probes.settle(permit):
                    return None  # stale, or settled already: never counted twice
                if (
                    ext is not None
                    and ext.samples is not None
                    and duration is not None
                    and not failed
                ):
                    # Probes that succeed teach the slow limit even when slow: a lasting shift
                    # in latency is learned after a few breaks instead of keeping it open.
                    ext.samples.add(duration, refresh=True)
                if failed or slow:  # a probe that fails or crawls means "not yet"
                    return self._move(OPEN, now)
                ok = probes.ok + 1
                if ok >= self.opts.half_open_max_calls:
                    return self._move(CLOSED, now)
                probes.ok = ok  # after the move, which an interrupt may cut short
                return None
        except BaseException:
            self.release(permit)  # interrupted before the probe was settled: free its slot
            raise

    def record_success(self, permit: int, now: float) -> Transition | None:
        """:meth:`record` for a success that is neither slow nor a failed result."""
        with self._lock or self._new_lock():
            if permit == self.epoch and self.state is CLOSED:
                (self.window or self._new_window()).add_success(now)
                return None
        return self.record(permit, False, False, now)  # half-open probe, or a stale permit

    def probe_due_at(self, now: float) -> bool:
        """Lock-free hint: whether a health probe may be due (:meth:`claim_probe` decides)."""
        health = self.health
        return (
            health is not None
            and self.state is OPEN
            and not self.isolated
            and health.due <= now < self.open_until
            and (not health.probe or now - health.started >= self.opts.probe_timeout)
        )

    def claim_probe(self, now: float) -> int:
        """Start a health probe if one is due: its id, or 0 when none may run now.

        Probes run only while open and before the break ends (after it, calls probe anyway),
        one at a time: a probe older than ``health_timeout`` has failed by then, so its slot
        is taken over and its late verdict ignored.
        """
        with self._lock or self._new_lock():
            health = self.health
            if health is None or not self.probe_due_at(now):
                return 0
            probe = next(_PROBE_IDS)
            health.probe, health.started, health.epoch = probe, now, self.epoch
            health.due = now + self.opts.health_interval
            return probe

    def finish_probe(self, probe: int, passed: bool | None, now: float) -> Transition | None:
        """End health probe ``probe``: a pass half-opens a breaker still in the same opening.

        ``passed`` is ``None`` for a probe that ended with no verdict (cancelled): it frees
        the slot only. A stale probe (its slot taken over) changes nothing.
        """
        with self._lock or self._new_lock():
            health = self.health
            if health is None or probe != health.probe:
                return None
            health.probe = 0
            if passed and self.epoch == health.epoch and not self.isolated:
                return self._move(HALF_OPEN, now)
            return None

    def release(self, permit: int) -> None:
        """Give back a permit whose call ended with no outcome (cancelled, interrupted)."""
        with self._lock or self._new_lock():
            probes = self._probes
            if probes is not None:
                probes.settle(permit)

    def isolate(self, now: float) -> Transition | None:
        """Hold the breaker open until :meth:`reset`."""
        with self._lock or self._new_lock():
            if self.state is OPEN:
                self.isolated = True
                return None
            return self._move(OPEN, now, isolated=True)

    def adopt(self, other: BreakerCore) -> None:
        """Take over ``other``'s circuit state, break and consecutive openings (a breaker
        rebuilt with new options), and a copy of its window when the window's options match.
        A half-open ``other`` becomes open with its break over: its probes are not ours."""
        with other._lock or other._new_lock():
            state, open_until = other.state, other.open_until
            opens, isolated = other.opens_in_row, other.isolated
            # A copy: calls still running under the old breaker keep recording into its own.
            window = copy.deepcopy(other.window)
            shape = (other.opts.window, other.opts.window_type, other.opts.window_buckets)
        if state is HALF_OPEN:
            state, open_until = OPEN, 0.0
        with self._lock or self._new_lock():
            same = shape == (self.opts.window, self.opts.window_type, self.opts.window_buckets)
            self.state = state
            self.open_until = open_until
            self.opens_in_row = opens
            self.isolated = isolated
            self.window = window if same else None
            self.epoch += 1
            self.snapshot = (state, self.epoch)

    def reset(self, now: float) -> Transition | None:
        """Close the breaker and forget every outcome."""
        with self._lock or self._new_lock():
            if self.state is not CLOSED:
                return self._move(CLOSED, now)
            # New epoch all the same: calls admitted before the reset must not count.
            window = None if self.window is None else self._fresh_window()
            epoch = self.epoch + 1
            self.window = window
            self.epoch = epoch
            self.snapshot = (CLOSED, epoch)
            return None
