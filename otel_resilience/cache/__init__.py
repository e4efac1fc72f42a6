"""ResponseCache: cachetools-backed response cache with single-flight and stale-if-error."""

from otel_resilience.cache._core import CacheStats
from otel_resilience.cache.options import POLICIES, CacheOptions
from otel_resilience.cache.strategy import ResponseCache

__all__ = ["POLICIES", "CacheOptions", "CacheStats", "ResponseCache"]
