"""The public surface is explicit and locked: changing it must be a deliberate act."""

from __future__ import annotations

import otel_resilience
import otel_resilience.testing

EXPECTED = {
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
}


def test_all_is_locked():
    """otel_resilience.__all__ lists exactly the agreed names, and each one exists."""
    assert set(otel_resilience.__all__) == EXPECTED
    for name in otel_resilience.__all__:
        assert hasattr(otel_resilience, name), name


def test_testing_surface():
    """The testing module exports the fake clock, the capture and the fixtures."""
    assert set(otel_resilience.testing.__all__) == {
        "FakeClock",
        "OTelCapture",
        "fake_clock",
        "otel_capture",
    }


def test_public_names_have_docstrings():
    """Every public class and function is documented."""
    for name in otel_resilience.__all__:
        obj = getattr(otel_resilience, name)
        if callable(obj):
            assert (obj.__doc__ or "").strip(), name


def test_py_typed_is_shipped():
    """The package is marked as typed."""
    from importlib.resources import files

    assert files("otel_resilience").joinpath("py.typed").is_file()
