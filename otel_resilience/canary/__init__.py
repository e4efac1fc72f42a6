"""Canary analysis: shadow a candidate and judge it against the primary over a window."""

from otel_resilience.canary._core import FAIL, INCONCLUSIVE, PASS, ArmNumbers, CanaryResult
from otel_resilience.canary.strategy import CanaryAnalysis

__all__ = ["FAIL", "INCONCLUSIVE", "PASS", "ArmNumbers", "CanaryAnalysis", "CanaryResult"]
