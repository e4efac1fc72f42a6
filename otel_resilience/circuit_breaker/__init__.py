"""Circuit breaker: failure-ratio and slow-call windows, half-open and health probes, an
adaptive threshold, a per-key registry."""

from otel_resilience.circuit_breaker._health import HealthProbes
from otel_resilience.circuit_breaker.adaptive import AdaptiveThreshold
from otel_resilience.circuit_breaker.options import DEFAULT_FAILURE_CATEGORIES, CircuitState
from otel_resilience.circuit_breaker.registry import CircuitBreakerRegistry
from otel_resilience.circuit_breaker.strategy import CircuitBreaker

__all__ = [
    "DEFAULT_FAILURE_CATEGORIES",
    "AdaptiveThreshold",
    "CircuitBreaker",
    "CircuitBreakerRegistry",
    "CircuitState",
    "HealthProbes",
]
