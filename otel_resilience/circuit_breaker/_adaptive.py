"""The optional parts of a breaker's state: I/O-free, guarded by the core's lock.

:class:`AdaptiveState` keeps the long-window failure rate and two latency averages and
computes the opening ratio when it is needed (a failure, a gauge read).
:class:`LatencySamples` keeps recent call durations for ``slow_call_duration="auto"``.
:class:`HealthSlot` holds the health check and tracks its probes. :class:`Extras` holds
whichever of them a breaker uses, in one slot of the core (an idle breaker without them
pays 8 bytes).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable
from typing import Any

from otel_resilience.circuit_breaker._health import is_async_check
from otel_resilience.circuit_breaker._window import TimeWindow
from otel_resilience.circuit_breaker.adaptive import AdaptiveThreshold, adaptive_ratio
from otel_resilience.circuit_breaker.options import BreakerOptions

__all__ = ["AdaptiveState", "Extras", "HealthSlot", "LatencySamples", "adapts"]


class AdaptiveState:
    """The adaptive ratio and what it is computed from (see :mod:`.adaptive` for the rule)."""

    __slots__ = (
        "_base",
        "_base_alpha",
        "_long",
        "_recent_alpha",
        "baseline",
        "ratio",
        "recent",
        "spec",
    )

    def __init__(self, spec: AdaptiveThreshold, base: float, recent_calls: int) -> None:
        self.spec = spec
        self._base = base
        self._long = TimeWindow(spec.long_window, 10)
        # Exponential averages over about N calls: alpha = 2 / (N + 1).
        self._recent_alpha = 2.0 / (max(recent_calls, 1) + 1.0)
        self._base_alpha = 2.0 / (spec.baseline_calls + 1.0)
        self.recent = self.baseline = 0.0  # seconds; 0.0 until the first timed outcome
        #: The opening ratio as last computed by :meth:`current`.
        self.ratio = base

    def record(self, now: float, failed: bool, duration: float | None) -> None:
        """Account for one outcome of the closed state (the ratio is computed on demand)."""
        if failed:
            self._long.record(now, True, False)
        else:
            self._long.add_success(now)
        if duration is not None and 0.0 <= duration < math.inf:
            if self.baseline == 0.0:
                self.recent = self.baseline = duration
            else:
                self.recent += self._recent_alpha * (duration - self.recent)
                self.baseline += self._base_alpha * (duration - self.baseline)

    def current(self, now: float) -> float:
        """The opening ratio as of ``now``; also kept in :attr:`ratio`."""
        total, failures, _ = self._long.counts(now)
        if total < self.spec.warmup_calls:
            ratio = self._base
        else:
            ratio = adaptive_ratio(
                self.spec, self._base, failures / total, self.baseline, self.recent
            )
        self.ratio = ratio
        return ratio


class LatencySamples:
    """The last ``size`` durations; ``limit`` is their ``percentile`` x ``factor``.

    ``limit`` is infinite (nothing is slow) until ``warmup`` samples arrived, and is
    recomputed every ``refresh`` samples: sorting 1,000 floats every 50 calls costs about a
    microsecond per call.
    """

    __slots__ = ("_count", "_pos", "_ring", "_since", "factor", "limit", "percentile")

    SIZE = 1000
    WARMUP = 100
    REFRESH = 50

    def __init__(self, percentile: float, factor: float) -> None:
        self._ring = array("d", bytes(8 * self.SIZE))
        self._pos = self._count = self._since = 0
        self.percentile = percentile
        self.factor = factor
        self.limit = math.inf

    def add(self, duration: float, *, refresh: bool = False) -> None:
        """Keep one duration; refresh :attr:`limit` when due (or now, with ``refresh``)."""
        if not (duration >= 0.0 and math.isfinite(duration)):
            return
        self._ring[self._pos] = duration
        self._pos = (self._pos + 1) % self.SIZE
        self._count = min(self._count + 1, self.SIZE)
        self._since += 1
        if self._count >= self.WARMUP and (
            refresh or self._since >= self.REFRESH or self.limit == math.inf
        ):
            self._since = 0
            ordered = sorted(self._ring[: self._count])
            index = min(len(ordered) - 1, math.ceil(self.percentile * len(ordered)) - 1)
            self.limit = ordered[max(index, 0)] * self.factor


class HealthSlot:
    """The health check, when the next probe may start, and the live one (``probe`` 0: none)."""

    __slots__ = ("check", "due", "epoch", "is_async", "probe", "started")

    def __init__(self, check: Callable[[], Any], is_async: bool) -> None:
        self.check = check
        self.is_async = is_async
        self.due = 0.0
        self.probe = 0
        self.started = 0.0
        self.epoch = 0


def adapts(opts: BreakerOptions) -> bool:
    return opts.adaptive is not None or opts.slow_call_duration == "auto"


class Extras:
    """The optional parts of a breaker's state."""

    __slots__ = ("adaptive", "health", "samples")

    def __init__(self, opts: BreakerOptions, health_check: Callable[[], Any] | None) -> None:
        self.health = (
            None if health_check is None else HealthSlot(health_check, is_async_check(health_check))
        )
        self.adaptive = (
            None
            if opts.adaptive is None
            else AdaptiveState(opts.adaptive, opts.failure_ratio, opts.minimum_calls)
        )
        self.samples = (
            LatencySamples(opts.slow_call_percentile, opts.slow_call_factor)
            if opts.slow_call_duration == "auto"
            else None
        )

    def observe(self, now: float, failed: bool, slow: bool, duration: float | None) -> None:
        """A closed-state outcome: learn from it (only fast successes teach the slow limit)."""
        if self.adaptive is not None:
            self.adaptive.record(now, failed, duration)
        if self.samples is not None and duration is not None and not (slow or failed):
            self.samples.add(duration)
