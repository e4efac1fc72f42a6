"""The I/O-free decision core of Retry, shared by the sync and async runners."""

from __future__ import annotations

from collections.abc import Callable

from otel_resilience.retry.options import ResolvedPolicy

__all__ = [
    "GIVE_UP_ATTEMPTS",
    "GIVE_UP_DEADLINE",
    "GIVE_UP_NOT_RETRYABLE",
    "RetryRun",
    "next_delay",
]

GIVE_UP_NOT_RETRYABLE = "not_retryable"
GIVE_UP_ATTEMPTS = "attempts"
GIVE_UP_DEADLINE = "deadline"


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
        "started",
    )

    def __init__(self, started: float, deadline: float | None) -> None:
        self.started = started
        self.attempt_started = started
        self.deadline_at = None if deadline is None else started + deadline
        self.attempts = 1
        self.per_category: dict[str, int] = {}
        self.prev_delay = 0.0
        self.gave_up: str | None = None


def next_delay(
    run: RetryRun,
    policy: ResolvedPolicy,
    max_attempts: int,
    n: int,
    retry_after: float | None,
    now: float,
    random: Callable[[], float],
) -> float | None:
    """Delay before the next attempt, or ``None`` (with ``run.gave_up`` set) to stop.

    ``n`` is the 1-based index of this retry for ``policy`` (which allows ``policy.max_attempts``
    such failures) while ``max_attempts`` bounds the whole call. Jitter only ever shortens the
    backoff; a server's Retry-After lengthens it; ``max_delay`` caps the result; a retry that
    would start after the deadline is not started.
    """
    if n >= policy.max_attempts or run.attempts >= max_attempts:
        run.gave_up = GIVE_UP_ATTEMPTS
        return None
    if policy.wait is not None:
        delay = float(policy.wait(_AttemptNumber(n)))
        if policy.jitter:
            delay *= 1.0 - policy.jitter * random()
    else:  # decorrelated jitter: uniform between base and three times the previous delay
        base = policy.base_delay
        upper = max(base, (run.prev_delay or base) * 3.0)
        delay = base + (upper - base) * random()
    if retry_after is not None and retry_after > delay:
        delay = retry_after
    delay = min(delay, policy.max_delay)
    run.prev_delay = delay
    if run.deadline_at is not None and now + delay > run.deadline_at:
        run.gave_up = GIVE_UP_DEADLINE
        return None
    return delay


def policy_index(run: RetryRun, category: str, per_category: bool) -> int:
    """Count this failure and return the retry index used for the backoff formula."""
    if not per_category:
        return run.attempts
    count = run.per_category.get(category, 0) + 1
    run.per_category[category] = count
    return count
