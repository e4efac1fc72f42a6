"""Zero-code setup: ``opentelemetry-instrument`` with the otel_resilience distro/configurator."""

from __future__ import annotations

import sys
from collections import Counter
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from e2e_support import REPO, kv, otlp_logs, otlp_metrics, otlp_spans, poll

from otel_resilience import semconv

pytestmark = pytest.mark.e2e

APP = REPO / "examples" / "instrumented_app.py"


def test_distro_and_configurator_are_registered() -> None:
    """The exporters distribution registers both entry points under the name otel_resilience."""
    for group in ("opentelemetry_distro", "opentelemetry_configurator"):
        found = entry_points(group=group, name="otel_resilience")
        assert len(found) == 1, f"no {group} entry point named otel_resilience"
        next(iter(found)).load()  # importable


def test_opentelemetry_instrument_exports_an_unmodified_script(
    otlp_sink: Any, run_app: Any
) -> None:
    """An unmodified script run under opentelemetry-instrument exports all three signals."""
    launcher = Path(sys.executable).with_name("opentelemetry-instrument")
    if not launcher.exists():
        pytest.fail(f"{launcher} missing: opentelemetry-instrumentation is a dev dependency")
    assert "otel_resilience_exporters" not in APP.read_text()
    assert "opentelemetry" not in APP.read_text().split('"""', 2)[2], "no telemetry code in app"
    sink = otlp_sink("grpc")
    env = {
        "OTEL_PYTHON_DISTRO": "otel_resilience",
        "OTEL_PYTHON_CONFIGURATOR": "otel_resilience",
        "OTEL_SERVICE_NAME": "inventory-app",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_LOGS_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_EXPORTER_OTLP_ENDPOINT": sink.endpoint,
        "OTEL_EXPORTER_OTLP_INSECURE": "true",
    }
    run = run_app([], env, timeout=90, argv=[str(launcher), sys.executable, str(APP)])
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"
    lines = run.stdout.strip().splitlines()
    assert len(lines) == 6, run.stdout
    assert all("price 9.99" in line and "stock unavailable" in line for line in lines)

    tel = sink.telemetry
    poll("telemetry from the instrumented app", lambda: otlp_spans(tel) and otlp_logs(tel), 20)
    spans = otlp_spans(tel)
    outcomes = Counter((span.name, kv(span.attributes)[semconv.OUTCOME]) for _, _, span in spans)
    assert outcomes[("prices.quote", semconv.OUTCOME_SUCCESS)] == 6, outcomes
    # Attempts 1-3 fail (call 1), attempt 4 opens the breaker, so calls 2-6 end rejected.
    assert outcomes[("inventory.lookup", semconv.OUTCOME_FAILURE)] == 1, outcomes
    assert outcomes[("inventory.lookup", semconv.OUTCOME_REJECTED)] == 5, outcomes
    for resource, scope, _ in spans:
        assert resource["service.name"] == "inventory-app"
        # Set by otel_resilience_exporters' resource: our configurator ran, not the stock one.
        assert resource["telemetry.distro.name"] == "otel-resilience-exporters"
        assert scope.name == semconv.SCOPE_NAME

    changes = [
        kv(rec.attributes)
        for _, _, rec in otlp_logs(tel)
        if rec.event_name == semconv.LOG_EVENT_CIRCUIT_STATE_CHANGE
    ]
    assert len(changes) == 1, changes
    assert changes[0][semconv.CIRCUIT_BREAKER_NAME] == "inventory"
    assert changes[0][semconv.CIRCUIT_BREAKER_PREVIOUS_STATE] == "closed"
    assert changes[0][semconv.CIRCUIT_BREAKER_STATE] == "open"

    poll("metrics from the instrumented app", lambda: otlp_metrics(tel), 10)
    metric_names = {m.name for _, _, m in otlp_metrics(tel)}
    assert {
        semconv.METRIC_PIPELINE_DURATION,
        semconv.METRIC_EVENTS,
        semconv.METRIC_CIRCUIT_BREAKER_STATE,
    } <= metric_names
