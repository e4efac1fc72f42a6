"""The I/O-free decision core of Retry, shared by the sync and async runners."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from otel_resilience import semconv
from otel_resilience.retry.options import ResolvedPolicy

__all__ = ["RetryRun", "next_delay", "policy_index", "unit_random"]


class _AttemptNumber:
    """The one field of tenacity's RetryCallState that its wait strategies read."""

    __slots__ = ("attempt_number",)

    def __init__(self, n: int) -> None:
        self.attempt_number = n


class RetryRun:
    """State of one protected call once its first attempt has failed (success allocates none)."""

    __slots__ = (
        "attempt_started",
        "attempts",
        "deadline_at",
        "gave_up",
        "per_category",
        "prev_delay",
        "requested_delay",
        "started",
        "token",
    )

    def __init__(self, started: float, deadline_at: float | None) -> None:
        self.started = started
        self.attempt_started = started
        self.deadline_at = deadline_at
        self.attempts = 1
        self.per_category: dict[str, int] = {}
        self.prev_delay = 0.0
        self.gave_up: str | None = None
        self.requested_delay: float | None = None
        #: The token of the deadline this run published (a Retry with ``deadline``), if any.
        self.token: Any = None


def unit_random(random: Callable[[], float]) -> float:
    """``random()`` forced into [0, 1]: a broken source must not give negative or NaN sleeps."""
    try:
        value = float(random())
    except Exception:  # the user's call must not fail because a random source did
        return 0.5
    if value >= 0.0:
        return min(value, 1.0)
    return 0.0  # negative, or NaN (which compares false with everything)


def next_delay(
    run: RetryRun,
    policy: ResolvedPolicy,
    max_attempts: int,
    n: int,
    retry_after: float | None,
    clamp_retry_after: bool,
    now: float,
    random: Callable[[], float],
) -> float | None:
    """Delay before the next attempt, or ``None`` (with ``run.gave_up`` set) to stop.

    ``n`` is the 1-based index of this retry for ``policy`` (which allows ``policy.max_attempts``
    such failures) while ``max_attempts`` bounds the whole call. The backoff is capped at
    ``max_delay`` first and jitter applied after, so capped delays stay spread out instead of
    retrying in lockstep at ``max_delay`` (the "full jitter" practice); jitter only ever
    shortens a delay. A server's Retry-After lengthens it but is never shortened behind the
    server's back: asking for more than ``max_delay`` (unless ``clamp_retry_after``) or more
    than the time left before the deadline gives up at once. A retry that would start after
    the deadline is not started.
    """
    run.requested_delay = retry_after
    if n >= policy.max_attempts or run.attempts >= max_attempts:
        run.gave_up = semconv.RETRY_REASON_ATTEMPTS
        return None
    if policy.wait is not None:
        delay = float(policy.wait(_AttemptNumber(n)))  # capped at max_delay by tenacity
        if policy.jitter:
            delay *= 1.0 - policy.jitter * unit_random(random)
    else:  # decorrelated jitter: uniform between base and three times the previous delay
        base = policy.base_delay
        upper = max(base, (run.prev_delay or base) * 3.0)
        delay = base + (upper - base) * unit_random(random)
    delay = min(delay, policy.max_delay)
    if retry_after is not None and retry_after > delay:
        if retry_after > policy.max_delay:
            if not clamp_retry_after:
                run.gave_up = semconv.RETRY_REASON_RETRY_AFTER_EXCEEDS_MAX_DELAY
                return None
            delay = policy.max_delay  # asked for explicitly: wait max_delay, then retry
        elif run.deadline_at is not None and now + retry_after >= run.deadline_at:
            run.gave_up = semconv.RETRY_REASON_RETRY_AFTER_EXCEEDS_DEADLINE
            return None
        else:
            delay = retry_after
    if not math.isfinite(delay) or delay < 0:  # belt and braces: never sleep on garbage
        delay = policy.base_delay
    run.prev_delay = delay
    if run.deadline_at is not None and now + delay >= run.deadline_at:  # no time left to try
        run.gave_up = semconv.RETRY_REASON_DEADLINE
        return None
    return delay


def policy_index(run: RetryRun, category: str, per_category: bool) -> int:
    """Count this failure and return the retry index used for the backoff formula."""
    if not per_category:
        return run.attempts
    count = run.per_category.get(category, 0) + 1
    run.per_category[category] = count
    return count
