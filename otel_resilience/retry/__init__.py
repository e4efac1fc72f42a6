"""Retry strategy: backoff kinds, jitter, Retry-After, per-category policies and a deadline."""

from otel_resilience.retry.options import RetryPolicy
from otel_resilience.retry.strategy import Retry, attempts_of

__all__ = ["Retry", "RetryPolicy", "attempts_of"]
