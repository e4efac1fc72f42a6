"""otel-resilience: make calls to flaky dependencies survive failure, visibly, with OpenTelemetry.

Compose strategies in a :class:`Pipeline`::

    from otel_resilience import CircuitBreaker, Pipeline, Retry

    payments = Pipeline("payments", Retry(max_attempts=4), CircuitBreaker())
    receipt = payments.call(charge, order)
"""

from otel_resilience._clock import Clock, SystemClock
from otel_resilience._strategy import Strategy
from otel_resilience.circuit_breaker import (
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
    CircuitOpenError,
    RejectedError,
    ResilienceError,
    RetryExhaustedError,
)
from otel_resilience.pipeline import Pipeline
from otel_resilience.retry import Retry, RetryPolicy, attempts_of

__version__ = "0.1.0"

__all__ = [
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
    "Pipeline",
    "RejectedError",
    "ResilienceError",
    "Retry",
    "RetryExhaustedError",
    "RetryPolicy",
    "Severity",
    "Strategy",
    "SystemClock",
    "__version__",
    "attempts_of",
    "semconv",
]

from otel_resilience import semconv
