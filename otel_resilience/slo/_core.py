"""The I/O-free core of an SLO: good and total calls in fixed time buckets, burn rates.

Memory is bounded and independent of traffic: three rings of fixed-width buckets on the
injectable clock -- one-minute buckets over 6 hours (the 5m, 30m, 1h and 6h windows),
15-minute buckets over 3 days (the 3d window), and the SLO's window in 720 buckets (an hour
each for 30 days) for the error budget. A window is read from the finest ring covering it, so
it is exact to one bucket: the current, partly filled bucket counts whole. Calls are counted
per minute first and moved into the rings once a minute (or when read).
"""

from __future__ import annotations

import math
from array import array

from otel_resilience.slo.options import BURN_ALERTS, BURN_WINDOWS, SLOOptions, parse_window

__all__ = ["BurnCore", "Ring"]

_MINUTE = 60.0


class Ring:
    """``count`` buckets of ``width`` seconds: bad and total calls, reused as time moves on."""

    __slots__ = ("_bad", "_stamp", "_total", "count", "width")

    def __init__(self, width: float, span: float) -> None:
        self.width = width
        self.count = count = math.ceil(span / width) + 1  # +1: the current, partial bucket
        self._stamp = array("q", [-1]) * count  # the tick each slot holds
        self._total = array("q", [0]) * count
        self._bad = array("q", [0]) * count

    @property
    def span(self) -> float:
        """Seconds of history held (the current bucket aside)."""
        return (self.count - 1) * self.width

    def add(self, now: float, bad: int, total: int) -> None:
        """Count ``total`` calls, ``bad`` of them bad, ending at ``now``."""
        tick = int(now // self.width)
        i = tick % self.count
        if self._stamp[i] > tick:  # older than this ring holds: it must not erase newer calls
            return
        if self._stamp[i] != tick:  # a slot last used a full turn ago: start it afresh
            self._stamp[i] = tick
            self._total[i] = 0
            self._bad[i] = 0
        self._total[i] += total
        self._bad[i] += bad

    def sums(self, now: float, seconds: float) -> tuple[int, int]:
        """``(bad, total)`` over the last ``seconds`` (rounded up to whole buckets)."""
        tick = int(now // self.width)
        n = min(self.count, math.ceil(seconds / self.width))
        bad = total = 0
        stamp, tot, bads, count = self._stamp, self._total, self._bad, self.count
        for t in range(tick - n + 1, tick + 1):
            i = t % count
            if stamp[i] == t:
                total += tot[i]
                bad += bads[i]
        return bad, total


class BurnCore:
    """Counts calls and answers error-budget and burn-rate questions about them."""

    __slots__ = ("_bad", "_minute", "_rings", "_total", "options")

    def __init__(self, options: SLOOptions) -> None:
        self.options = options
        window = options.window
        self._rings = (
            Ring(_MINUTE, 6 * 3600.0),
            Ring(900.0, 3 * 86400.0),
            Ring(max(_MINUTE, window / 720), window),
        )
        # The current minute's counts, moved into the rings when the minute changes or a
        # reader asks: a call costs two additions, not three ring updates.
        self._minute = -1
        self._bad = self._total = 0

    def add(self, now: float, bad: bool) -> None:
        """Count one call that ended at ``now``."""
        minute = int(now // _MINUTE)
        if minute != self._minute:
            self._flush()
            self._minute = minute
        self._total += 1
        if bad:
            self._bad += 1

    def _flush(self) -> None:
        if self._total:
            at = self._minute * _MINUTE
            for ring in self._rings:
                ring.add(at, self._bad, self._total)
            self._bad = self._total = 0

    def sums(self, now: float, seconds: float) -> tuple[int, int]:
        """``(bad, total)`` over the last ``seconds``, from the finest ring covering them."""
        self._flush()
        for ring in self._rings:
            if ring.span >= seconds:
                return ring.sums(now, seconds)
        return self._rings[-1].sums(now, seconds)

    def error_ratio(self, now: float, seconds: float) -> float:
        """Bad calls / calls over the last ``seconds`` (0 without calls)."""
        bad, total = self.sums(now, seconds)
        return bad / total if total else 0.0

    def burn_rate(self, now: float, window: str) -> float:
        """How fast the budget burns over ``window``: 1.0 spends it exactly by the SLO's end."""
        return self.error_ratio(now, parse_window("window", window)) / self.options.error_budget

    def budget_remaining(self, now: float) -> float:
        """Share of the window's error budget left: 1 untouched, 0 spent, < 0 overspent."""
        return 1.0 - self.error_ratio(now, self.options.window) / self.options.error_budget

    def burn_rates(self, now: float) -> dict[str, float]:
        """The burn rate over each of :data:`BURN_WINDOWS`."""
        return {w: self.burn_rate(now, w) for w in BURN_WINDOWS}

    def alerts(self, rates: dict[str, float]) -> dict[str, bool]:
        """``{"page": firing, "ticket": firing}`` from the multi-window burn-rate pairs."""
        firing = {"page": False, "ticket": False}
        for alert in BURN_ALERTS:
            if rates[alert.long] > alert.factor and rates[alert.short] > alert.factor:
                firing[alert.severity] = True
        return firing
