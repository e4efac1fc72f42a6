"""Metrics scraped by a real Prometheus server from the app's exporter, read back with PromQL."""

from __future__ import annotations

import time
from typing import Any

import pytest
from e2e_support import STARTUP_TIMES, ServingApp, clean_env, free_port, poll

pytestmark = pytest.mark.e2e


def by_label(series: list[dict[str, Any]], label: str) -> dict[str, float]:
    """``{label value: sample value}`` for an instant-vector result."""
    return {s["metric"][label]: float(s["value"][1]) for s in series}


def test_prometheus_scrapes_breaker_state_events_and_durations(
    start_prometheus: Any, run_id: str
) -> None:
    """Prometheus scrapes the breaker gauge, event counter and duration histogram with labels."""
    port = free_port()
    env = clean_env(
        OTEL_TRACES_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        OTEL_METRICS_EXPORTER="prometheus",
        OTEL_EXPORTER_PROMETHEUS_HOST="127.0.0.1",
        OTEL_EXPORTER_PROMETHEUS_PORT=str(port),
        E2E_SERVE_DEADLINE="180",
    )
    app = ServingApp(["serve", run_id], env)
    try:
        names = app.wait_for("E2E-READY", deadline_s=60)
        prometheus = start_prometheus(port)
        breaker, checkout, search = names["breaker"], names["checkout"], names["search"]
        ready_at = time.monotonic()

        state = poll(
            "resilience_circuit_breaker_state in Prometheus",
            lambda: prometheus.query(
                f'resilience_circuit_breaker_state{{resilience_circuit_breaker_name="{breaker}"}}'
            ),
            deadline_s=45,
            interval_s=0.5,
        )
        STARTUP_TIMES.append(("prometheus first scrape", time.monotonic() - ready_at))
        states = by_label(state, "resilience_circuit_breaker_state")
        assert states["open"] == 1.0, states
        assert sum(states.values()) == 1.0, "exactly one state is current"
        assert set(states) >= {"open", "closed"}
        for series in state:
            assert series["metric"]["otel_scope_name"] == "otel_resilience"
            assert series["metric"]["job"] == "otel-resilience-e2e"

        events = prometheus.query(
            f"sum by (resilience_strategy, resilience_event) "
            f'(resilience_events_total{{resilience_pipeline_name="{checkout}"}})'
        )
        counts = {
            (s["metric"]["resilience_strategy"], s["metric"]["resilience_event"]): float(
                s["value"][1]
            )
            for s in events
        }
        assert counts[("retry", "retry")] == 4.0, counts  # 2 calls x 2 retries
        assert counts[("retry", "retry_exhausted")] == 2.0, counts
        assert counts[("circuit_breaker", "circuit_opened")] == 1.0, counts
        assert counts[("circuit_breaker", "circuit_rejected")] == 1.0, counts

        search_events = by_label(
            prometheus.query(f'resilience_events_total{{resilience_pipeline_name="{search}"}}'),
            "resilience_event",
        )
        assert search_events == {"retry": 1.0}

        buckets = prometheus.query(
            f'resilience_pipeline_duration_seconds_bucket{{resilience_pipeline_name="{checkout}"}}'
        )
        assert buckets, "no duration histogram buckets"
        inf = [b for b in buckets if b["metric"]["le"] == "+Inf"]
        assert sum(float(b["value"][1]) for b in inf) == 3.0, "three checkout calls recorded"
        les = {b["metric"]["le"] for b in buckets}
        assert {"0.001", "120.0", "+Inf"} <= les, sorted(les)
        count = prometheus.query(
            f'sum(resilience_pipeline_duration_seconds_count{{resilience_pipeline_name="{search}"}})'
        )
        assert float(count[0]["value"][1]) == 1.0

        result = app.stop()
        assert result["stopped_by"] == "stdin"
        assert prometheus.startup_s < 60
    finally:
        app.kill()
