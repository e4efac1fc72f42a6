"""Circuit breaker options, validated at construction."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from otel_resilience import semconv
from otel_resilience._util import category_name
from otel_resilience._validate import check_count, check_ratio, check_seconds
from otel_resilience.circuit_breaker.adaptive import AdaptiveThreshold

__all__ = [
    "DEFAULT_FAILURE_CATEGORIES",
    "MAX_COUNT_WINDOW",
    "MAX_WINDOW_BUCKETS",
    "BreakerOptions",
    "CircuitState",
]

#: Upper bound of ``window_buckets``. A thousand buckets already resolve the window to 0.1%;
#: more only cost memory (24 KB per 1,000 buckets once used) and time under the breaker's lock.
MAX_WINDOW_BUCKETS = 1000
#: Upper bound of a count window (calls): one byte per call, allocated at the first outcome.
MAX_COUNT_WINDOW = 1_000_000


class CircuitState(str, Enum):
    """The three states of a circuit breaker."""

    CLOSED = semconv.CIRCUIT_STATE_CLOSED
    OPEN = semconv.CIRCUIT_STATE_OPEN
    HALF_OPEN = semconv.CIRCUIT_STATE_HALF_OPEN

    def __str__(self) -> str:
        return self.value


#: Error categories that count against the dependency. An invalid request, a missing resource,
#: bad credentials or a cancelled call are the caller's business, not a sign of ill health.
DEFAULT_FAILURE_CATEGORIES: frozenset[str] = frozenset(
    {"timeout", "connection", "rate_limited", "overloaded", "server_error", "unknown"}
)


def _positive(name: str, value: float) -> None:
    check_seconds(name, value, positive=True)


@dataclass(frozen=True, slots=True)
class BreakerOptions:
    """Every tunable of a CircuitBreaker; see :class:`~otel_resilience.CircuitBreaker`."""

    failure_ratio: float = 0.5
    minimum_calls: int = 10
    window: float = 30.0
    window_type: str = "time"
    window_buckets: int = 10
    break_duration: float = 30.0
    break_duration_multiplier: float = 1.0
    max_break_duration: float | None = None
    half_open_max_calls: int = 1
    half_open_probe_timeout: float = 60.0
    slow_call_duration: float | str | None = None
    slow_call_ratio: float = 1.0
    slow_call_percentile: float = 0.99
    slow_call_factor: float = 2.0
    failure_categories: frozenset[str] = DEFAULT_FAILURE_CATEGORIES
    health_interval: float = 5.0
    health_timeout: float | None = None
    adaptive: AdaptiveThreshold | None = None

    @property
    def probe_timeout(self) -> float:
        """``health_timeout``, which defaults to ``health_interval``."""
        return self.health_interval if self.health_timeout is None else self.health_timeout

    def __post_init__(self) -> None:
        check_ratio("failure_ratio", self.failure_ratio)
        check_count("minimum_calls", self.minimum_calls)
        if self.window_type not in ("time", "count"):
            raise ValueError(f"window_type must be 'time' or 'count', got {self.window_type!r}")
        if self.window_type == "count":
            window = self.window
            if isinstance(window, float) and window.is_integer():
                window = int(window)
            check_count("window", window, maximum=MAX_COUNT_WINDOW)
            if self.minimum_calls > window:
                raise ValueError(
                    f"minimum_calls ({self.minimum_calls}) must not exceed a count window "
                    f"({window} calls): the breaker could never open"
                )
        else:
            _positive("window", self.window)
        check_count("window_buckets", self.window_buckets, maximum=MAX_WINDOW_BUCKETS)
        _positive("break_duration", self.break_duration)
        if (
            isinstance(self.break_duration_multiplier, bool)
            or not isinstance(self.break_duration_multiplier, (int, float))
            or not math.isfinite(self.break_duration_multiplier)
            or self.break_duration_multiplier < 1.0
        ):
            raise ValueError(
                "break_duration_multiplier must be a finite number >= 1, "
                f"got {self.break_duration_multiplier!r}"
            )
        if self.max_break_duration is not None:
            _positive("max_break_duration", self.max_break_duration)
            if self.max_break_duration < self.break_duration:
                raise ValueError(
                    f"max_break_duration ({self.max_break_duration}) must be >= "
                    f"break_duration ({self.break_duration})"
                )
        check_count("half_open_max_calls", self.half_open_max_calls)
        _positive("half_open_probe_timeout", self.half_open_probe_timeout)
        if self.slow_call_duration is not None and self.slow_call_duration != "auto":
            if isinstance(self.slow_call_duration, str):
                raise ValueError(
                    "slow_call_duration must be None, 'auto' or a number of seconds, "
                    f"got {self.slow_call_duration!r}"
                )
            _positive("slow_call_duration", self.slow_call_duration)
        check_ratio("slow_call_ratio", self.slow_call_ratio)
        check_ratio("slow_call_percentile", self.slow_call_percentile)
        if (
            isinstance(self.slow_call_factor, bool)
            or not isinstance(self.slow_call_factor, (int, float))
            or not 1.0 <= self.slow_call_factor <= 1000.0
        ):
            raise ValueError(
                f"slow_call_factor must be a number from 1 to 1000, got {self.slow_call_factor!r}"
            )
        if self.adaptive is not None:
            if not isinstance(self.adaptive, AdaptiveThreshold):
                raise ValueError(
                    f"adaptive must be an AdaptiveThreshold or None, got {self.adaptive!r}"
                )
            if not self.adaptive.min_ratio <= self.failure_ratio <= self.adaptive.max_ratio:
                raise ValueError(
                    f"failure_ratio ({self.failure_ratio}) must lie within the adaptive bounds "
                    f"[{self.adaptive.min_ratio}, {self.adaptive.max_ratio}]"
                )
        _positive("health_interval", self.health_interval)
        if self.health_timeout is not None:
            _positive("health_timeout", self.health_timeout)

    @staticmethod
    def categories(values: Iterable[str] | None) -> frozenset[str]:
        """Normalise ``failure_categories`` (enum members or strings) to plain strings."""
        if values is None:
            return DEFAULT_FAILURE_CATEGORIES
        if isinstance(values, str):
            raise ValueError("failure_categories must be a collection of categories, not a str")
        return frozenset(category_name("failure_categories", v) for v in values)

    def break_for(self, opens_in_row: int) -> float:
        """How long the breaker stays open after its ``opens_in_row``-th consecutive opening."""
        growth = self.break_duration_multiplier
        if growth == 1.0 or opens_in_row <= 1:
            duration = self.break_duration
        else:  # in log space: a dependency down for days must not overflow the float
            exponent = math.log(self.break_duration) + (opens_in_row - 1) * math.log(growth)
            duration = math.exp(min(exponent, 700.0))
        if self.max_break_duration is not None:
            duration = min(duration, self.max_break_duration)
        return duration
