"""Hedging: race a second attempt when the first is slow, keep the first acceptable answer."""

from otel_resilience.hedging.options import HedgingOptions
from otel_resilience.hedging.strategy import Hedging

__all__ = ["Hedging", "HedgingOptions"]
