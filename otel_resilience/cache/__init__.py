"""ResponseCache: cachetools-backed response cache with single-flight and stale-if-error."""

from typing import TYPE_CHECKING, Any

from otel_resilience.cache._core import CacheStats
from otel_resilience.cache.codec import JSON_CODEC, Codec, JsonCodec, PickleCodec
from otel_resilience.cache.options import POLICIES, CacheOptions
from otel_resilience.cache.strategy import ResponseCache

if TYPE_CHECKING:
    from otel_resilience.cache._l2 import L2Stats

__all__ = [
    "JSON_CODEC",
    "POLICIES",
    "CacheOptions",
    "CacheStats",
    "Codec",
    "JsonCodec",
    "L2Stats",
    "PickleCodec",
    "ResponseCache",
]


def __getattr__(name: str) -> Any:
    if name == "L2Stats":  # the shared level is imported only by caches that use one
        from otel_resilience.cache._l2 import L2Stats

        return L2Stats
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
