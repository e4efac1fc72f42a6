"""The I/O-free part of CanaryAnalysis: windows of both arms and the verdict."""

from __future__ import annotations

import math
from dataclasses import dataclass

from otel_resilience._variants import ArmWindow, WindowTotals
from otel_resilience.stats import TTestResult, ZTestResult, two_proportion_z_test, welch_t_test

__all__ = ["ArmNumbers", "CanaryResult", "CanaryWindows", "FAIL", "INCONCLUSIVE", "PASS"]

PASS = "pass"
FAIL = "fail"
INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True, slots=True)
class ArmNumbers:
    """One side over the window: calls, error rate and latency percentiles (seconds)."""

    calls: int
    failures: int
    error_rate: float
    p50: float | None
    p95: float | None
    p99: float | None

    @classmethod
    def of(cls, totals: WindowTotals) -> ArmNumbers:
        """The numbers of a window's totals."""
        return cls(
            totals.calls,
            totals.failures,
            totals.error_rate,
            totals.percentile(50),
            totals.percentile(95),
            totals.percentile(99),
        )


@dataclass(frozen=True, slots=True)
class CanaryResult:
    """``verdict`` (``"pass"``, ``"fail"`` or ``"inconclusive"``) and the numbers behind it."""

    verdict: str
    #: Why it failed or is inconclusive (empty on a pass).
    reasons: tuple[str, ...]
    primary: ArmNumbers
    candidate: ArmNumbers
    #: Mean compare score over the window, ``None`` before a comparison.
    agreement: float | None
    compared: int
    #: Candidate's success rate against the primary's (candidate - primary).
    error_rate_test: ZTestResult | None
    #: Candidate's latencies against the primary's (candidate - primary).
    latency_test: TTestResult | None


class CanaryWindows:
    """Both arms' outcomes and the agreement scores over the last ``window`` seconds."""

    __slots__ = ("agreement", "candidate", "primary")

    def __init__(self, window: float, max_samples: int) -> None:
        self.primary = ArmWindow(window, max_samples=max_samples)
        self.candidate = ArmWindow(window, max_samples=max_samples)
        self.agreement = ArmWindow(window)  # the score rides in the latency slot

    def add(
        self,
        now: float,
        primary: tuple[bool, float],
        candidate: tuple[bool, float],
        score: float | None,
    ) -> None:
        """One shadowed call: each side's (failed, latency), and the score if compared."""
        self.primary.add(now, *primary)
        self.candidate.add(now, *candidate)
        if score is not None:
            self.agreement.add(now, False, score)

    def result(
        self,
        now: float,
        min_calls: int,
        max_error_rate_increase: float,
        max_latency_ratio: float | None,
        min_agreement: float | None,
    ) -> CanaryResult:
        """The verdict at ``now``."""
        prim, cand = self.primary.totals(now), self.candidate.totals(now)
        scores = self.agreement.totals(now)
        agreement = scores.latency_sum / scores.calls if scores.calls else None
        p, c = ArmNumbers.of(prim), ArmNumbers.of(cand)
        z = t = None
        if prim.calls and cand.calls:
            z = two_proportion_z_test(
                cand.calls - cand.failures, cand.calls, prim.calls - prim.failures, prim.calls
            )
        if len(prim.latencies) >= 2 and len(cand.latencies) >= 2:
            t = welch_t_test(cand.latencies, prim.latencies)
        reasons: list[str] = []
        if min(prim.calls, cand.calls) < min_calls:
            reasons.append(f"fewer than {min_calls} calls on a side in the window")
            return CanaryResult(INCONCLUSIVE, tuple(reasons), p, c, agreement, scores.calls, z, t)
        increase = c.error_rate - p.error_rate
        if increase > max_error_rate_increase:
            reasons.append(
                f"error rate {c.error_rate:.4g} exceeds the primary's {p.error_rate:.4g} by "
                f"{increase:.4g} > {max_error_rate_increase:g}"
            )
        if max_latency_ratio is not None and c.p95 is not None and p.p95 is not None:
            ratio = c.p95 / p.p95 if p.p95 > 0 else (math.inf if c.p95 > 0 else 1.0)
            if ratio > max_latency_ratio:
                reasons.append(f"p95 latency ratio {ratio:.4g} > {max_latency_ratio:g}")
        if min_agreement is not None:
            if agreement is None and not reasons:
                why = ("no comparison in the window",)
                return CanaryResult(INCONCLUSIVE, why, p, c, agreement, scores.calls, z, t)
            if agreement is not None and agreement < min_agreement:
                reasons.append(f"agreement {agreement:.4g} < {min_agreement:g}")
        verdict = FAIL if reasons else PASS
        return CanaryResult(verdict, tuple(reasons), p, c, agreement, scores.calls, z, t)
