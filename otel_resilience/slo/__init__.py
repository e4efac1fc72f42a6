"""Service-level objectives: error budgets and burn-rate alerts, in process and as Prometheus
rules; the Grafana dashboard of the telemetry contract. See docs/slo.md and docs/dashboards.md.
"""

from otel_resilience.slo.options import BURN_ALERTS, BURN_WINDOWS, BurnAlert, SLOOptions
from otel_resilience.slo.slo import SLO, SLOStatus

__all__ = ["BURN_ALERTS", "BURN_WINDOWS", "SLO", "BurnAlert", "SLOOptions", "SLOStatus"]
