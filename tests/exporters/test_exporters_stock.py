"""Our exporter names under the *stock* SDK configurator, i.e. without our distro/configurator."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from exporters_support import OtlpServer, run_instrumented

# A script with no telemetry code: a breaker that opens gives a span, metrics and a log event.
APP = """
from otel_resilience import CircuitBreaker, Pipeline

pipeline = Pipeline(
    "stock.checkout",
    CircuitBreaker(name="stock-breaker", minimum_calls=2, window=10, window_type="count"),
)


def down():
    raise ConnectionError("dependency down")


for _ in range(2):
    try:
        pipeline.call(down)
    except ConnectionError:
        pass
"""

# opentelemetry-distro registers the SDK's own configurator (a plain subclass of
# _OTelSDKConfigurator) and a distro that only sets defaults. It is not a dependency here, so
# an installed-package record registers the same SDK classes under those same names.
STOCK_ENTRY_POINTS = """
[opentelemetry_distro]
distro = opentelemetry.instrumentation.distro:DefaultDistro

[opentelemetry_configurator]
configurator = opentelemetry.sdk._configuration:_OTelSDKConfigurator
"""


def _run_stock(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run APP under opentelemetry-instrument with the stock distro and configurator selected."""
    site = tmp_path / "site"
    dist_info = site / "stock_sdk_configurator-0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: stock-sdk-configurator\nVersion: 0\n"
    )
    (dist_info / "entry_points.txt").write_text(STOCK_ENTRY_POINTS)
    script = tmp_path / "app.py"
    script.write_text(APP)
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    full_env.update(
        PYTHONPATH=str(site),
        OTEL_PYTHON_DISTRO="distro",
        OTEL_PYTHON_CONFIGURATOR="configurator",
        OTEL_SERVICE_NAME="stock-app",
        OTEL_METRIC_EXPORT_INTERVAL="60000",  # metrics are exported once, at shutdown
        **env,
    )
    proc = run_instrumented(script, full_env)
    assert proc.returncode == 0, proc.stderr
    # The SDK configurator ran, ours was skipped: the instrument loader says so on stderr.
    assert "Configuration of otel_resilience not loaded" in proc.stderr, proc.stderr
    return proc


def test_stock_configurator_exports_all_signals_to_jsonl(tmp_path: Path) -> None:
    """OTEL_*_EXPORTER=jsonl under the stock configurator writes spans, metrics and log events."""
    out = tmp_path / "stock.jsonl"
    _run_stock(
        tmp_path,
        OTEL_TRACES_EXPORTER="jsonl",
        OTEL_METRICS_EXPORTER="jsonl",
        OTEL_LOGS_EXPORTER="jsonl",
        OTEL_RESILIENCE_JSONL_PATH=str(out),
    )
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    by_signal: dict[str, list[dict[str, object]]] = {}
    for line in lines:
        by_signal.setdefault(str(line["signal"]), []).append(line)
    spans = by_signal["span"]
    assert [s["name"] for s in spans] == ["stock.checkout", "stock.checkout"]
    for span in spans:
        resource = span["resource"]
        assert isinstance(resource, dict)
        assert resource["service.name"] == "stock-app"
        # Our configure() stamps this; the stock configurator does not.
        assert "telemetry.distro.name" not in resource
    (event,) = by_signal["log"]
    assert event["event_name"] == "resilience.circuit_breaker.state_change"
    assert event["trace_id"] == spans[1]["trace_id"], "logged inside the call that opened it"
    metric_names = {m["name"] for m in by_signal["metric"]}
    assert {"resilience.pipeline.duration", "resilience.events"} <= metric_names


def test_stock_configurator_uses_the_jaeger_preset(
    tmp_path: Path, otlp_server: Callable[..., OtlpServer]
) -> None:
    """OTEL_TRACES_EXPORTER=jaeger under the stock configurator posts OTLP to the endpoint."""
    server = otlp_server()
    _run_stock(
        tmp_path,
        OTEL_TRACES_EXPORTER="jaeger",
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=f"{server.url}/v1/traces",
    )
    paths = [path for path, _, _ in server.requests]
    assert paths
    assert set(paths) == {"/v1/traces"}
    assert any(b"stock.checkout" in body for _, _, body in server.requests)
