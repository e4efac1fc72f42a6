"""The I/O-free part of ABTest: assignment by weight, per-arm records, the report."""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass

from otel_resilience.stats import (
    TTestResult,
    ZTestResult,
    two_proportion_z_test,
    welch_t_test,
)

__all__ = ["ABReport", "ArmRecord", "ArmSummary", "Assigner", "Comparison"]


class Assigner:
    """Maps a number in ``[0, 1)`` to an arm, each arm getting its weight's share."""

    __slots__ = ("_edges", "arms")

    def __init__(self, arms: list[str], weights: list[float]) -> None:
        total = math.fsum(weights)
        edges, running = [], 0.0
        for weight in weights:
            running += weight
            edges.append(running / total)
        edges[-1] = 1.0
        self.arms = arms
        self._edges = edges

    def assign(self, u: float) -> int:
        """The index of the arm whose slice of ``[0, 1)`` holds ``u``."""
        return min(bisect.bisect_right(self._edges, u), len(self.arms) - 1)


class ArmRecord:
    """One arm's outcomes: counts, and the latest latencies and metric values for the tests."""

    __slots__ = ("calls", "latencies", "metrics", "successes")

    def __init__(self, max_samples: int) -> None:
        self.calls = 0
        self.successes = 0
        self.latencies: deque[float] = deque(maxlen=max_samples)
        self.metrics: deque[float] = deque(maxlen=max_samples)

    def add(self, failed: bool, latency: float, metric: float | None) -> None:
        """Record one call."""
        self.calls += 1
        self.successes += not failed
        self.latencies.append(latency)
        if metric is not None:
            self.metrics.append(metric)


@dataclass(frozen=True, slots=True)
class ArmSummary:
    """One arm's numbers."""

    calls: int
    successes: int
    success_rate: float | None
    mean_latency: float | None
    metric_mean: float | None
    metric_count: int


@dataclass(frozen=True, slots=True)
class Comparison:
    """A variant against the control (statistics' sign: variant - control)."""

    variant: str
    #: Two-proportion z-test on success rates (``None`` until both arms have calls).
    success: ZTestResult | None
    #: Welch's t-test on latencies (``None`` until both arms have 2 calls).
    latency: TTestResult | None
    #: Welch's t-test on the metric (``None`` without a metric or 2 values per arm).
    metric: TTestResult | None


@dataclass(frozen=True, slots=True)
class ABReport:
    """An A/B test's state: each arm's numbers and each variant's comparison to the control."""

    name: str
    control: str
    arms: dict[str, ArmSummary]
    comparisons: dict[str, Comparison]


def summary(record: ArmRecord) -> ArmSummary:
    """The numbers of one arm."""
    lat, met = list(record.latencies), list(record.metrics)
    return ArmSummary(
        calls=record.calls,
        successes=record.successes,
        success_rate=record.successes / record.calls if record.calls else None,
        mean_latency=math.fsum(lat) / len(lat) if lat else None,
        metric_mean=math.fsum(met) / len(met) if met else None,
        metric_count=len(met),
    )


def compare(
    name: str, variant: ArmRecord, control: ArmRecord, confidence: float, power: float
) -> Comparison:
    """``variant`` against ``control``."""
    success = None
    if variant.calls and control.calls:
        success = two_proportion_z_test(
            variant.successes,
            variant.calls,
            control.successes,
            control.calls,
            confidence=confidence,
            power=power,
        )
    latency = metric = None
    if len(variant.latencies) >= 2 and len(control.latencies) >= 2:
        latency = welch_t_test(
            variant.latencies, control.latencies, confidence=confidence, power=power
        )
    if len(variant.metrics) >= 2 and len(control.metrics) >= 2:
        metric = welch_t_test(variant.metrics, control.metrics, confidence=confidence, power=power)
    return Comparison(name, success, latency, metric)
