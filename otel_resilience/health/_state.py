"""The I/O-free core of one check: fold outcomes into a status, count, and spot transitions."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from otel_resilience.health._model import CheckOptions, HealthStatus

__all__ = ["CheckState", "Outcome", "Transition"]

HEALTHY = HealthStatus.HEALTHY
DEGRADED = HealthStatus.DEGRADED
UNHEALTHY = HealthStatus.UNHEALTHY
UNKNOWN = HealthStatus.UNKNOWN


@dataclass(frozen=True)
class Outcome:
    """One run of a check: the status it reported (before thresholds), and why it failed."""

    status: HealthStatus
    duration: float
    message: str = ""
    details: dict[str, Any] | None = None
    error: dict[str, str] | None = None  # {"type": ..., "category": ..., "severity": ...}


@dataclass(frozen=True)
class Transition:
    """A status change of one check; ``recovered`` when it went back to healthy."""

    name: str
    previous: HealthStatus
    status: HealthStatus
    at: float
    error: dict[str, str] | None

    @property
    def recovered(self) -> bool:
        """Back to healthy from degraded or unhealthy (not from unknown: that is a first run)."""
        return self.status is HEALTHY and self.previous in (DEGRADED, UNHEALTHY)


class CheckState:
    """Status, counters and a bounded window of outcomes of one check (caller holds a lock)."""

    def __init__(self, name: str, opts: CheckOptions, window: float, window_size: int) -> None:
        self.name = name
        self.opts = opts
        self.status = UNKNOWN
        self.since: float | None = None  # when the current status began
        self.checked_at: float | None = None
        self.next_due: float = 0.0
        self.consecutive_failures = 0
        self.runs = 0
        self.recoveries = 0
        self.last: Outcome | None = None
        self.last_error: dict[str, str] | None = None
        self._window = window
        self._outcomes: deque[tuple[float, bool]] = deque(maxlen=window_size)

    def record(self, outcome: Outcome, now: float) -> Transition | None:
        """Fold one outcome in; the transition it caused, if any."""
        self.runs += 1
        self.checked_at = now
        self.next_due = now + self.opts.interval
        self.last = outcome
        failed = outcome.status is UNHEALTHY
        self._outcomes.append((now, outcome.status is HEALTHY))
        if failed:
            self.consecutive_failures += 1
        else:
            self.consecutive_failures = 0
        if outcome.error is not None:
            self.last_error = outcome.error
        status = outcome.status
        if failed and self.consecutive_failures < self.opts.failure_threshold:
            status = DEGRADED  # not yet: a single blip is not an outage
        return self._move(status, now, outcome.error)

    def _move(
        self, status: HealthStatus, now: float, error: dict[str, str] | None
    ) -> Transition | None:
        if status is self.status:
            return None
        transition = Transition(self.name, self.status, status, now, error)
        self.status = status
        self.since = now
        if transition.recovered:
            self.recoveries += 1
        return transition

    def success_rate(self, now: float) -> float | None:
        """Share of healthy outcomes in the last ``window`` seconds; None without any."""
        outcomes = self._outcomes
        while outcomes and outcomes[0][0] < now - self._window:
            outcomes.popleft()
        if not outcomes:
            return None
        return sum(1 for _, ok in outcomes if ok) / len(outcomes)

    def snapshot(self, now: float) -> dict[str, Any]:
        """This check as a JSON-ready dict (ages in seconds, not clock readings)."""
        last = self.last
        return {
            "status": self.status.value,
            "critical": self.opts.critical,
            "consecutive_failures": self.consecutive_failures,
            "success_rate": self.success_rate(now),
            "runs": self.runs,
            "recoveries": self.recoveries,
            "last_error": self.last_error,
            "message": last.message if last is not None else "",
            "details": dict(last.details or {}) if last is not None else {},
            "last_duration": last.duration if last is not None else None,
            "checked_ago": None if self.checked_at is None else now - self.checked_at,
            "status_for": None if self.since is None else now - self.since,
        }


def roll_up(states: list[tuple[HealthStatus, bool]]) -> HealthStatus:
    """Overall status from ``(status, critical)`` pairs.

    Any critical check unhealthy -> unhealthy; else any critical still unknown -> unknown; else
    anything degraded or a non-critical check unhealthy -> degraded; else healthy.
    """
    if any(critical and status is UNHEALTHY for status, critical in states):
        return UNHEALTHY
    if any(critical and status is UNKNOWN for status, critical in states):
        return UNKNOWN
    if any(status is DEGRADED or status is UNHEALTHY for status, _ in states):
        return DEGRADED
    return HEALTHY
