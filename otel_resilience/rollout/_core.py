"""The I/O-free part of Rollout: the share on the schedule, the windows, the rollback test."""

from __future__ import annotations

import bisect
from typing import NamedTuple

from otel_resilience import semconv
from otel_resilience._variants import ArmWindow, WindowTotals

__all__ = ["RollbackVerdict", "RolloutCore"]


class RollbackVerdict(NamedTuple):
    """Why a rollout rolled back, with the window's numbers of both arms."""

    reason: str
    share: float
    primary: WindowTotals
    candidate: WindowTotals


class RolloutCore:
    """Schedule position, rollback state and the two arms' windows. The owner holds a lock."""

    __slots__ = (
        "_shares",
        "_times",
        "candidate",
        "latency_margin",
        "margin",
        "min_calls",
        "primary",
        "reported",
        "rolled_back",
        "start",
    )

    def __init__(
        self,
        schedule: tuple[tuple[float, float], ...],
        start: float,
        window: float,
        margin: float,
        latency_margin: float | None,
        min_calls: int,
    ) -> None:
        self._times = [t for t, _ in schedule]
        self._shares = [s for _, s in schedule]
        self.margin = margin
        self.latency_margin = latency_margin
        self.min_calls = min_calls
        self.primary = ArmWindow(window)
        self.candidate = ArmWindow(window)
        self.start = start
        self.reported = -1  # the last step index whose advance was reported
        self.rolled_back: RollbackVerdict | None = None

    def step_at(self, now: float) -> int:
        """Index of the schedule step in force at ``now`` (-1 before the first)."""
        return bisect.bisect_right(self._times, now - self.start) - 1

    def share_at(self, now: float) -> float:
        """The share of calls for the candidate at ``now``: 0 before the first step or after a
        rollback."""
        if self.rolled_back is not None:
            return 0.0
        index = self.step_at(now)
        return self._shares[index] if index >= 0 else 0.0

    def route(self, now: float) -> tuple[float, float | None]:
        """The share at ``now``, and the new share when a later step was reached since the
        last report (else ``None``): one schedule lookup per call."""
        if self.rolled_back is not None:
            return 0.0, None
        index = bisect.bisect_right(self._times, now - self.start) - 1
        if index < 0:
            return 0.0, None
        share = self._shares[index]
        if index <= self.reported:
            return share, None
        self.reported = index
        return share, share

    def record(
        self, now: float, candidate: bool, failed: bool, latency: float
    ) -> RollbackVerdict | None:
        """Record one outcome; the verdict when it makes the candidate roll back (once)."""
        (self.candidate if candidate else self.primary).add(now, failed, latency)
        if self.rolled_back is not None:
            return None
        # The cheap counts first: most calls end here (too few candidate calls to judge).
        if self.candidate.calls(now) < self.min_calls or self.primary.calls(now) < self.min_calls:
            return None
        share = self.share_at(now)
        cand = self.candidate.totals(now)
        prim = self.primary.totals(now)
        reason = None
        if cand.error_rate - prim.error_rate > self.margin:
            reason = semconv.ROLLBACK_REASON_ERROR_RATE
        elif self.latency_margin is not None and cand.mean_latency > prim.mean_latency * (
            1.0 + self.latency_margin
        ):
            reason = semconv.ROLLBACK_REASON_LATENCY
        if reason is None:
            return None
        self.rolled_back = RollbackVerdict(reason, share, prim, cand)
        return self.rolled_back

    def reset(self, now: float) -> None:
        """Start the schedule again from ``now``, forgetting the rollback and the windows."""
        self.start = now
        self.reported = -1
        self.rolled_back = None
        self.primary.clear()
        self.candidate.clear()
