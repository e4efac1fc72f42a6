"""RateLimiter options: validated once, frozen."""

from __future__ import annotations

import math
from dataclasses import dataclass

from otel_resilience._validate import check_count, check_seconds

__all__ = ["RateLimiterOptions"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimiterOptions:
    """``rate`` permits per ``per`` seconds, bursts up to ``burst``, waits up to ``max_wait``.

    ``burst`` defaults to ``rate`` rounded down (at least 1): a full second's (``per``'s)
    worth of permits may be spent at once after a quiet period.
    """

    rate: float
    per: float = 1.0
    burst: int | None = None
    max_wait: float = 0.0

    def __post_init__(self) -> None:
        rate = self.rate
        if (
            isinstance(rate, bool)
            or not isinstance(rate, (int, float))
            or not math.isfinite(rate)
            or rate <= 0
        ):
            raise ValueError(f"rate must be a finite number > 0, got {rate!r}")
        check_seconds("per", self.per, positive=True)
        if self.burst is not None:
            check_count("burst", self.burst)
        check_seconds("max_wait", self.max_wait)

    @property
    def capacity(self) -> int:
        """The bucket's size: ``burst``, or ``rate`` rounded down (at least 1)."""
        return self.burst if self.burst is not None else max(1, math.floor(self.rate))

    @property
    def per_second(self) -> float:
        """Permits added to the bucket per second."""
        return self.rate / self.per
