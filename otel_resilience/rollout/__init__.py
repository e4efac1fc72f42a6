"""Gradual rollout: route a growing share of calls to a candidate, roll back automatically."""

from otel_resilience.rollout._core import RollbackVerdict
from otel_resilience.rollout.options import RolloutOptions
from otel_resilience.rollout.strategy import Rollout

__all__ = ["RollbackVerdict", "Rollout", "RolloutOptions"]
