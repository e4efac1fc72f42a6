"""CanaryAnalysis: a Shadow that keeps both sides' outcomes over a window and judges them."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any

from otel_resilience import semconv
from otel_resilience._clock import Clock
from otel_resilience._validate import check_count, check_seconds
from otel_resilience.canary._core import CanaryResult, CanaryWindows
from otel_resilience.shadow._core import Job
from otel_resilience.shadow.strategy import Shadow

__all__ = ["CanaryAnalysis"]


def _check_limit(field: str, value: object, *, optional: bool, upper: float) -> None:
    if value is None and optional:
        return
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not 0 <= value <= upper:  # type: ignore[operator]  # NaN fails it too
        raise ValueError(f"{field} must be a number from 0 to {upper:g}, got {value!r}")


class CanaryAnalysis(Shadow):
    """Shadow a candidate (see :class:`~otel_resilience.Shadow`) and judge it over a window.

    Every shadowed call records both sides: failure and latency of the primary and of the
    candidate, and the compare score when both succeeded. :meth:`analyze` looks at the last
    ``window`` seconds and returns a :class:`~otel_resilience.canary.CanaryResult`:
    ``inconclusive`` until each side has ``min_calls`` calls; ``fail`` when the candidate's
    error rate exceeds the primary's by more than ``max_error_rate_increase``, its p95 latency
    is more than ``max_latency_ratio`` times the primary's, or (with ``min_agreement``) the
    mean compare score is below it; ``pass`` otherwise. The numbers behind the verdict come
    with it: per-side calls, error rates and latency percentiles, the agreement, a z-test of
    the success rates and Welch's t-test of the latencies (candidate - primary).
    """

    __slots__ = ("_limits", "_windows", "_windows_lock", "window")

    strategy_name = semconv.STRATEGY_CANARY

    def __init__(
        self,
        *,
        candidate: Callable[..., Any],
        percent: float = 100.0,
        compare: Callable[[Any, Any], Any] | None = None,
        max_in_flight: int = 4,
        timeout: float = 30.0,
        key: Callable[..., Any] | None = None,
        name: str | None = None,
        window: float = 300.0,
        min_calls: int = 50,
        max_error_rate_increase: float = 0.01,
        max_latency_ratio: float | None = 1.5,
        min_agreement: float | None = None,
        max_samples: int = 10_000,
        clock: Clock | None = None,
    ) -> None:
        check_seconds("window", window, positive=True)
        check_count("min_calls", min_calls)
        _check_limit("max_error_rate_increase", max_error_rate_increase, optional=False, upper=1)
        _check_limit("max_latency_ratio", max_latency_ratio, optional=True, upper=math.inf)
        _check_limit("min_agreement", min_agreement, optional=True, upper=1)
        check_count("max_samples", max_samples, minimum=2)
        super().__init__(
            candidate=candidate,
            percent=percent,
            compare=compare,
            max_in_flight=max_in_flight,
            timeout=timeout,
            key=key,
            name=name,
            clock=clock,
        )
        self.window = float(window)
        self._limits = (min_calls, float(max_error_rate_increase), max_latency_ratio, min_agreement)
        self._windows = CanaryWindows(self.window, max_samples)
        self._windows_lock = threading.Lock()

    def _observe(self, job: Job, failed: bool, latency: float, score: float | None) -> None:
        now = self._clock.monotonic()
        with self._windows_lock:
            self._windows.add(
                now, (job.primary_failed, job.primary_latency), (failed, latency), score
            )

    def analyze(self) -> CanaryResult:
        """The verdict over the last ``window`` seconds, with the numbers behind it."""
        now = self._clock.monotonic()
        with self._windows_lock:
            return self._windows.result(now, *self._limits)
