"""A/B testing: assign calls to the control or a variant (sticky by key), compare them."""

from otel_resilience.ab_test._core import ABReport, ArmSummary, Comparison
from otel_resilience.ab_test.options import ABTestOptions
from otel_resilience.ab_test.strategy import ABTest

__all__ = ["ABReport", "ABTest", "ABTestOptions", "ArmSummary", "Comparison"]
