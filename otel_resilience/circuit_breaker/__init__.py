"""Circuit breaker: failure-ratio and slow-call windows, half-open probes, a per-key registry."""

from otel_resilience.circuit_breaker.options import DEFAULT_FAILURE_CATEGORIES, CircuitState
from otel_resilience.circuit_breaker.registry import CircuitBreakerRegistry
from otel_resilience.circuit_breaker.strategy import CircuitBreaker

__all__ = [
    "DEFAULT_FAILURE_CATEGORIES",
    "CircuitBreaker",
    "CircuitBreakerRegistry",
    "CircuitState",
]
