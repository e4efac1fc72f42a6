"""Rate limiter: a token bucket that refuses or waits (fairly), and a per-key registry."""

from otel_resilience.rate_limiter.options import RateLimiterOptions
from otel_resilience.rate_limiter.registry import RateLimiterRegistry
from otel_resilience.rate_limiter.strategy import RateLimiter

__all__ = ["RateLimiter", "RateLimiterOptions", "RateLimiterRegistry"]
