"""Circuit breakers seen as health dependencies: their state as a status, their failure ratio."""

from __future__ import annotations

from typing import Any

from otel_resilience.circuit_breaker import CircuitBreaker, CircuitState
from otel_resilience.health._model import HealthResult, HealthStatus

__all__ = ["breaker_check", "breaker_facts"]

_STATUS_OF = {
    CircuitState.CLOSED: HealthStatus.HEALTHY,
    CircuitState.HALF_OPEN: HealthStatus.DEGRADED,
    CircuitState.OPEN: HealthStatus.UNHEALTHY,
}


def breaker_facts(breaker: CircuitBreaker) -> dict[str, Any]:
    """Name, state, and failure ratio over the breaker's window (None before any call)."""
    ratio: float | None = None
    calls = 0
    try:
        core = breaker._core
        window = core.window
        if window is not None:
            with core._lock or core._new_lock():
                total, failures, _ = window.counts(breaker._clock.monotonic())
            calls = total
            ratio = failures / total if total else None
    except Exception:  # a reading, never a reason to fail the endpoint
        pass
    return {
        "name": breaker.name,
        "state": breaker.state.value,
        "failure_ratio": ratio,
        "calls_in_window": calls,
    }


def breaker_check(breaker: CircuitBreaker) -> HealthResult:
    """Open -> unhealthy, half-open -> degraded, closed -> healthy."""
    state = breaker.state
    return HealthResult(_STATUS_OF[state], f"circuit {state.value.replace('_', '-')}")
