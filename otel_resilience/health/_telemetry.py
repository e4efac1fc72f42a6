"""Telemetry of a HealthRegistry: the status gauge, the check duration histogram, the log event."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics
from opentelemetry._logs import SeverityNumber

from otel_resilience import semconv
from otel_resilience._telemetry import Telemetry, _StateGauges
from otel_resilience._version import __version__ as _VERSION
from otel_resilience.health._model import HealthStatus

if TYPE_CHECKING:
    from otel_resilience.health._state import Outcome, Transition

__all__ = ["HealthTelemetry"]

_log = logging.getLogger(__name__)

_gauges = _StateGauges(
    semconv.METRIC_HEALTH_STATUS,
    "1",
    "1 for the health check's current status, 0 for the others.",
    "status_observations",
)

_SEVERITY = {
    HealthStatus.HEALTHY: SeverityNumber.INFO,
    HealthStatus.DEGRADED: SeverityNumber.WARN,
    HealthStatus.UNHEALTHY: SeverityNumber.ERROR,
    HealthStatus.UNKNOWN: SeverityNumber.INFO,
}


class HealthTelemetry:
    """Resolved once per registry; each method swallows telemetry failures."""

    def __init__(self, registry: Any, meter_provider: Any, logger_provider: Any) -> None:
        self._logs = Telemetry(None, None, logger_provider)
        # Through the global provider the API proxies the histogram to a provider set later.
        provider = meter_provider if meter_provider is not None else metrics.get_meter_provider()
        meter = provider.get_meter(semconv.SCOPE_NAME, _VERSION)
        self._duration = meter.create_histogram(
            semconv.METRIC_HEALTH_CHECK_DURATION,
            unit="s",
            description="Duration of one health check run.",
            explicit_bucket_boundaries_advisory=list(semconv.DURATION_BUCKETS),
        )
        _gauges.follow(meter_provider, registry)

    def ran(self, name: str, outcome: Outcome, status: HealthStatus) -> None:
        """One check run: its duration, by check and resulting status."""
        try:
            self._duration.record(
                outcome.duration,
                {semconv.HEALTH_CHECK_NAME: name, semconv.HEALTH_STATUS: status.value},
            )
        except Exception:
            _log.debug("otel-resilience: recording a health check duration failed", exc_info=True)

    def changed(self, transition: Transition) -> None:
        """A status change, as the ``resilience.health.status_change`` log event."""
        attrs: dict[str, Any] = {
            semconv.HEALTH_CHECK_NAME: transition.name,
            semconv.HEALTH_STATUS: transition.status.value,
            semconv.HEALTH_PREVIOUS_STATUS: transition.previous.value,
        }
        if transition.error is not None:
            attrs[semconv.ERROR_TYPE] = transition.error["type"]
            attrs[semconv.ERROR_CATEGORY] = transition.error["category"]
        self._logs.instruments().emit_event(
            semconv.LOG_EVENT_HEALTH_STATUS_CHANGE, attrs, _SEVERITY[transition.status]
        )
