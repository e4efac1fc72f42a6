"""Timeout: bound the time of a call and publish its deadline."""

from otel_resilience.timeout.options import TimeoutOptions
from otel_resilience.timeout.strategy import Timeout

__all__ = ["Timeout", "TimeoutOptions"]
