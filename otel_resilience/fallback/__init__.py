"""Fallback strategy: serve a value, a handler's answer, or the first alternative that works."""

from otel_resilience.fallback.options import FallbackOptions
from otel_resilience.fallback.strategy import Fallback, fallback_errors_of

__all__ = ["Fallback", "FallbackOptions", "fallback_errors_of"]
