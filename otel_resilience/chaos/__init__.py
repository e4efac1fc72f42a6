"""Chaos injection: faults, latency and wrong results in a share of calls, off by default."""

from otel_resilience.chaos.options import ChaosOptions
from otel_resilience.chaos.strategy import Chaos

__all__ = ["Chaos", "ChaosOptions"]
