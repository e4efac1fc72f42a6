"""otel-resilience: make calls to flaky dependencies survive failure, visibly, with OpenTelemetry.

Compose strategies in a :class:`Pipeline`::

    from otel_resilience import CircuitBreaker, Pipeline, Retry

    payments = Pipeline("payments", Retry(max_attempts=4), CircuitBreaker())
    receipt = payments.call(charge, order)
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what type checkers see; at run time each name is imported on first use
    from otel_resilience import deadline, semconv
    from otel_resilience._clock import Clock, SystemClock
    from otel_resilience._strategy import Strategy
    from otel_resilience.bulkhead import Bulkhead
    from otel_resilience.cache import ResponseCache
    from otel_resilience.chaos import Chaos
    from otel_resilience.circuit_breaker import (
        AdaptiveThreshold,
        CircuitBreaker,
        CircuitBreakerRegistry,
        CircuitState,
    )
    from otel_resilience.classify import (
        CategoryOverride,
        ClassificationRule,
        ErrorCategory,
        ErrorClassifier,
        ErrorInfo,
        Severity,
    )
    from otel_resilience.errors import (
        BulkheadFullError,
        CircuitOpenError,
        RateLimitedError,
        RejectedError,
        ResilienceError,
        ResilienceTimeoutError,
        RetryExhaustedError,
    )
    from otel_resilience.fallback import Fallback, fallback_errors_of
    from otel_resilience.hedging import Hedging
    from otel_resilience.pipeline import Pipeline
    from otel_resilience.policies import load_policies
    from otel_resilience.rate_limiter import RateLimiter, RateLimiterRegistry
    from otel_resilience.retry import Retry, RetryPolicy, attempts_of
    from otel_resilience.retry_budget import RetryBudget
    from otel_resilience.streams import StreamMetrics, StreamState, monitor_stream
    from otel_resilience.timeout import Timeout

__version__ = "0.1.0"

__all__ = [
    "AdaptiveThreshold",
    "Chaos",
    "RetryBudget",
    "Bulkhead",
    "BulkheadFullError",
    "CategoryOverride",
    "CircuitBreaker",
    "CircuitBreakerRegistry",
    "CircuitOpenError",
    "CircuitState",
    "ClassificationRule",
    "Clock",
    "ErrorCategory",
    "ErrorClassifier",
    "ErrorInfo",
    "Fallback",
    "Hedging",
    "Pipeline",
    "RateLimitedError",
    "RateLimiter",
    "RateLimiterRegistry",
    "RejectedError",
    "ResilienceError",
    "ResilienceTimeoutError",
    "ResponseCache",
    "Retry",
    "RetryExhaustedError",
    "RetryPolicy",
    "Severity",
    "Strategy",
    "SystemClock",
    "Timeout",
    "load_policies",
    "__version__",
    "attempts_of",
    "deadline",
    "fallback_errors_of",
    "semconv",
    "StreamMetrics",
    "StreamState",
    "monitor_stream",
]

# Public name -> the module that defines it. `import otel_resilience` stays cheap (a library may
# import us at start-up and build a pipeline much later); a name's module is imported on first
# access (PEP 562), once, under the import system's lock.
_HOME = {
    "Clock": "otel_resilience._clock",
    "SystemClock": "otel_resilience._clock",
    "Strategy": "otel_resilience._strategy",
    "Bulkhead": "otel_resilience.bulkhead",
    "ResponseCache": "otel_resilience.cache",
    "Timeout": "otel_resilience.timeout",
    "load_policies": "otel_resilience.policies",
    "Chaos": "otel_resilience.chaos",
    "AdaptiveThreshold": "otel_resilience.circuit_breaker",
    "RetryBudget": "otel_resilience.retry_budget",
    "Fallback": "otel_resilience.fallback",
    "Hedging": "otel_resilience.hedging",
    "fallback_errors_of": "otel_resilience.fallback",
    "RateLimiter": "otel_resilience.rate_limiter",
    "RateLimiterRegistry": "otel_resilience.rate_limiter",
    "BulkheadFullError": "otel_resilience.errors",
    "RateLimitedError": "otel_resilience.errors",
    "ResilienceTimeoutError": "otel_resilience.errors",
    "CircuitBreaker": "otel_resilience.circuit_breaker",
    "CircuitBreakerRegistry": "otel_resilience.circuit_breaker",
    "CircuitState": "otel_resilience.circuit_breaker",
    "CategoryOverride": "otel_resilience.classify",
    "ClassificationRule": "otel_resilience.classify",
    "ErrorCategory": "otel_resilience.classify",
    "ErrorClassifier": "otel_resilience.classify",
    "ErrorInfo": "otel_resilience.classify",
    "Severity": "otel_resilience.classify",
    "CircuitOpenError": "otel_resilience.errors",
    "RejectedError": "otel_resilience.errors",
    "ResilienceError": "otel_resilience.errors",
    "RetryExhaustedError": "otel_resilience.errors",
    "Pipeline": "otel_resilience.pipeline",
    "Retry": "otel_resilience.retry",
    "RetryPolicy": "otel_resilience.retry",
    "attempts_of": "otel_resilience.retry",
    "StreamMetrics": "otel_resilience.streams",
    "StreamState": "otel_resilience.streams",
    "monitor_stream": "otel_resilience.streams",
}


def __getattr__(name: str) -> Any:
    import importlib

    if name in ("deadline", "semconv"):
        return importlib.import_module(f"otel_resilience.{name}")
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'otel_resilience' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # later lookups are plain module attributes
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
