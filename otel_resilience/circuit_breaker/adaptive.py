"""AdaptiveThreshold: a failure ratio that follows the dependency, within fixed bounds.

The rule (docs/adaptive.md explains the why) takes the dependency's failure rate over a long
window ``b``, its recent and baseline latency, and the breaker's own ``failure_ratio``:

1. Noise band (``b <= noise_limit``): ``t = max(failure_ratio, noise_multiplier * b)``. A
   dependency that always fails some calls opens only when failures reach a multiple of its
   usual level (relaxes).
2. Degraded (``b > noise_limit``): ``t = edge * (1 - b) / (1 - noise_limit)``, where ``edge`` is
   the value of 1. at ``b = noise_limit``: the lower the long-window success rate, the lower
   the ratio that opens (tightens). Continuous at the edge.
3. ``t`` is clamped to ``[min_ratio, max_ratio]``.
4. Latency gradient ``g = min(1, latency_tolerance * baseline / recent)``: when recent latency
   grows past the tolerance, ``t`` moves toward ``min_ratio`` by the same factor
   (``t = min_ratio + (t - min_ratio) * g``).

Until the long window holds ``warmup_calls`` outcomes the threshold is ``failure_ratio``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from otel_resilience._validate import check_count, check_ratio, check_seconds

__all__ = ["AdaptiveThreshold", "adaptive_ratio"]


def _at_least_one(field: str, value: object) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 1.0
    ):
        raise ValueError(f"{field} must be a finite number >= 1, got {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class AdaptiveThreshold:
    """How a CircuitBreaker's opening ratio adapts (``CircuitBreaker(adaptive=...)``).

    ``min_ratio``/``max_ratio`` bound the ratio (the breaker's ``failure_ratio`` must lie
    between them); ``long_window`` (seconds) is the history the baseline failure rate is taken
    over, used once it holds ``warmup_calls`` outcomes; a baseline up to ``noise_limit`` is
    noise, tolerated up to ``noise_multiplier`` times; ``latency_tolerance`` is how much
    slower than its baseline (an average over about ``baseline_calls`` calls) the recent
    latency (about ``minimum_calls`` calls) may be before the ratio tightens.
    """

    min_ratio: float = 0.1
    max_ratio: float = 0.9
    long_window: float = 300.0
    warmup_calls: int = 100
    noise_limit: float = 0.2
    noise_multiplier: float = 2.0
    latency_tolerance: float = 1.5
    baseline_calls: int = 1000

    def __post_init__(self) -> None:
        check_ratio("min_ratio", self.min_ratio)
        check_ratio("max_ratio", self.max_ratio)
        if self.min_ratio > self.max_ratio:
            raise ValueError(
                f"min_ratio ({self.min_ratio}) must not exceed max_ratio ({self.max_ratio})"
            )
        check_seconds("long_window", self.long_window, positive=True)
        check_count("warmup_calls", self.warmup_calls)
        check_ratio("noise_limit", self.noise_limit)
        if self.noise_limit >= 1.0:
            raise ValueError(f"noise_limit must be below 1, got {self.noise_limit!r}")
        _at_least_one("noise_multiplier", self.noise_multiplier)
        _at_least_one("latency_tolerance", self.latency_tolerance)
        check_count("baseline_calls", self.baseline_calls, minimum=2)


def adaptive_ratio(
    spec: AdaptiveThreshold,
    base: float,
    failure_rate: float,
    baseline_latency: float,
    recent_latency: float,
) -> float:
    """The opening ratio for a long-window ``failure_rate`` and the two latency averages.

    Pure and total: any finite or infinite inputs give a value in ``[min_ratio, max_ratio]``
    (NaN inputs leave ``base``, clamped).
    """
    lo, hi = spec.min_ratio, spec.max_ratio
    ratio = base
    if 0.0 <= failure_rate <= 1.0:
        relaxed = max(base, spec.noise_multiplier * failure_rate)
        if failure_rate <= spec.noise_limit:
            ratio = relaxed
        else:
            edge = max(base, spec.noise_multiplier * spec.noise_limit)
            ratio = edge * (1.0 - failure_rate) / (1.0 - spec.noise_limit)
    ratio = min(max(ratio, lo), hi)
    if recent_latency > 0.0 and baseline_latency > 0.0:
        gradient = spec.latency_tolerance * baseline_latency / recent_latency
        if gradient < 1.0:  # also False for NaN
            ratio = lo + (ratio - lo) * max(gradient, 0.0)
    return min(max(ratio, lo), hi)
