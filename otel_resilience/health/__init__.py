"""Health checks: named checks and circuit breakers rolled up into one status, with telemetry.

See docs/health.md.
"""

from otel_resilience.health._model import HealthResult, HealthStatus
from otel_resilience.health.registry import HealthRegistry

__all__ = ["HealthRegistry", "HealthResult", "HealthStatus"]
