"""build()/configure(): providers, exporter selection, jsonl output, views, public surface."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import otel_resilience_exporters as ore
import pytest
from exporters_support import run_instrumented
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from otel_resilience_exporters import TelemetrySettings, build

from otel_resilience import semconv


def _mem_build(
    **kw: object,
) -> tuple[ore.Telemetry, InMemorySpanExporter, InMemoryLogRecordExporter]:
    spans, logs = InMemorySpanExporter(), InMemoryLogRecordExporter()
    kw.setdefault("exporter", "none")
    handle = build(span_exporters=[spans], log_exporters=[logs], **kw)  # type: ignore[arg-type]
    return handle, spans, logs


def test_public_surface_is_locked() -> None:
    """__all__ lists exactly the supported names, each importable."""
    assert sorted(ore.__all__) == sorted(
        [
            "configure", "build", "Telemetry", "TelemetrySettings", "EXPORTER_SIGNALS",
            "DropCounter", "RedactionOptions", "Redactor", "BUILTIN_PATTERNS",
            "DEFAULT_SECRET_KEYS", "RedactingSpanProcessor", "RedactingLogRecordProcessor",
            "redact_span", "EventMirrorProcessor", "RateLimitingSampler", "RuleBasedSampler",
            "SamplingRule", "parse_sampler", "rate_limited_sampler", "ratio_sampler",
            "HISTOGRAM_BUCKETS", "default_views", "LocalPrometheusMetricReader",
            "JsonlSpanExporter", "JsonlMetricExporter", "JsonlLogRecordExporter",
            "JaegerSpanExporter", "TempoSpanExporter", "AlloySpanExporter",
            "AlloyMetricExporter", "AlloyLogRecordExporter", "GrafanaCloudSpanExporter",
            "GrafanaCloudMetricExporter", "GrafanaCloudLogRecordExporter",
            "OtelResilienceDistro", "OtelResilienceConfigurator", "PrettySpanExporter",
            "IgnoredConfigurationWarning",
            "DebugCollector", "debug_bundle_bytes", "fetch_debug_bundle", "BreadcrumbLogProcessor",
        ]
    )  # fmt: skip
    for name in ore.__all__:
        assert getattr(ore, name) is not None


def test_build_exports_spans_and_logs_with_resource() -> None:
    """A span and a log event reach the exporters, carrying the service name."""
    handle, spans, logs = _mem_build(service_name="checkout")
    with handle.tracer_provider.get_tracer("t").start_as_current_span("work"):
        handle.logger_provider.get_logger("l").emit(event_name="e", body="hello")
    assert handle.flush()
    assert [s.name for s in spans.get_finished_spans()] == ["work"]
    (record,) = logs.get_finished_logs()
    assert record.log_record.body == "hello"
    assert spans.get_finished_spans()[0].resource.attributes["service.name"] == "checkout"
    assert handle.shutdown() is True
    assert handle.is_shutdown


def test_service_name_argument_wins_over_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES apply; an explicit name wins."""
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-env")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test")
    from_env = build(exporter="none").tracer_provider.resource.attributes
    assert from_env["service.name"] == "from-env"
    assert from_env["deployment.environment"] == "test"
    assert (
        build("arg", exporter="none").tracer_provider.resource.attributes["service.name"] == "arg"
    )


def test_unknown_exporter_raises_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unknown exporter name, from the argument or a variable, raises ValueError naming it."""
    with pytest.raises(ValueError, match="'zipkin'"):
        build(exporter="jsonl,zipkin")
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "statsd")
    with pytest.raises(ValueError, match=r"OTEL_METRICS_EXPORTER.*'statsd'"):
        build()


def test_exporter_selection_per_signal(monkeypatch: pytest.MonkeyPatch) -> None:
    """exporter= sets all signals it supports; per-signal variables override the general one."""
    s = TelemetrySettings.from_env(exporter="jaeger,prometheus")
    assert (s.traces_exporters, s.metrics_exporters, s.logs_exporters) == (
        ("jaeger",),
        ("prometheus",),
        (),
    )
    assert s.mirror_events is True  # Jaeger stores traces only
    monkeypatch.setenv("OTEL_RESILIENCE_EXPORTER", "jsonl")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console, jsonl")
    s = TelemetrySettings.from_env()
    assert s.traces_exporters == ("console", "jsonl")
    assert s.metrics_exporters == s.logs_exporters == ("jsonl",)
    assert s.mirror_events is False
    monkeypatch.setenv("OTEL_LOGS_EXPORTER", "prometheus")
    with pytest.raises(ValueError, match="OTEL_LOGS_EXPORTER"):
        TelemetrySettings.from_env()


def test_default_exporter_is_otlp_and_none_disables() -> None:
    """With nothing set every signal uses otlp; "none" selects nothing."""
    s = TelemetrySettings.from_env()
    assert s.traces_exporters == s.metrics_exporters == s.logs_exporters == ("otlp",)
    s = TelemetrySettings.from_env(exporter="none")
    assert s.traces_exporters == s.metrics_exporters == s.logs_exporters == ()


def test_settings_validation_names_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bad options raise ValueError naming the field or variable."""
    with pytest.raises(ValueError, match="shutdown_timeout"):
        TelemetrySettings(shutdown_timeout=0)
    with pytest.raises(ValueError, match="max_queue_size"):
        TelemetrySettings(max_queue_size=0)
    with pytest.raises(ValueError, match="logs_exporters"):
        TelemetrySettings(logs_exporters=("prometheus",))
    monkeypatch.setenv("OTEL_RESILIENCE_SHUTDOWN_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="OTEL_RESILIENCE_SHUTDOWN_TIMEOUT"):
        TelemetrySettings.from_env()
    monkeypatch.delenv("OTEL_RESILIENCE_SHUTDOWN_TIMEOUT")
    monkeypatch.setenv("OTEL_RESILIENCE_REDACT", "maybe")
    with pytest.raises(ValueError, match="OTEL_RESILIENCE_REDACT"):
        TelemetrySettings.from_env()


def test_jsonl_writes_one_object_per_span_point_and_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The jsonl exporter appends one JSON object per span, metric point and log record."""
    path = tmp_path / "out.jsonl"
    monkeypatch.setenv("OTEL_RESILIENCE_JSONL_PATH", str(path))
    handle = build("svc", exporter="jsonl")
    with handle.tracer_provider.get_tracer("t").start_as_current_span("op", attributes={"k": 1}):
        handle.logger_provider.get_logger("l").emit(event_name="resilience.x", body={"a": [1]})
    meter = handle.meter_provider.get_meter("m")
    meter.create_counter("requests").add(2, {"route": "/a"})
    meter.create_counter("requests").add(3, {"route": "/b"})
    assert handle.shutdown()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    by_signal: dict[str, list[dict[str, object]]] = {}
    for obj in lines:
        by_signal.setdefault(str(obj["signal"]), []).append(obj)
    (span,) = by_signal["span"]
    assert span["name"] == "op"
    assert span["attributes"] == {"k": 1}
    assert len(str(span["trace_id"])) == 32
    (log,) = by_signal["log"]
    assert log["event_name"] == "resilience.x"
    assert log["body"] == {"a": [1]}
    assert log["trace_id"] == span["trace_id"]
    points = {p["attributes"]["route"]: p["value"] for p in by_signal["metric"]}  # type: ignore[index]
    assert points == {"/a": 2, "/b": 3}


def test_views_give_second_scaled_buckets() -> None:
    """Our, HTTP and GenAI histograms get the advised boundaries instead of the SDK's."""
    reader = InMemoryMetricReader()
    handle = build(exporter="none", metric_readers=[reader])
    meter = handle.meter_provider.get_meter("m")
    for name in ore.HISTOGRAM_BUCKETS:
        meter.create_histogram(name).record(0.2)
    meter.create_histogram("other.duration").record(0.2)
    data = reader.get_metrics_data()
    assert data is not None
    bounds = {
        m.name: tuple(m.data.data_points[0].explicit_bounds)
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if isinstance(m.data.data_points[0], HistogramDataPoint)
    }
    assert bounds[semconv.METRIC_PIPELINE_DURATION] == semconv.DURATION_BUCKETS
    assert bounds["http.server.request.duration"][:3] == (0.005, 0.01, 0.025)
    assert bounds["gen_ai.client.operation.duration"][-1] == 81.92
    assert bounds["gen_ai.client.token.usage"][-1] == 67108864
    assert bounds["other.duration"][-1] == 10000.0  # untouched: SDK default
    handle.shutdown()


def test_add_span_processor_sees_scrubbed_spans() -> None:
    """A processor added through the handle runs downstream of redaction."""
    handle = build(exporter="none")
    extra = InMemorySpanExporter()
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    handle.add_span_processor(SimpleSpanProcessor(extra))
    with handle.tracer_provider.get_tracer("t").start_as_current_span(
        "x", attributes={"token": "t"}
    ):
        pass
    assert extra.get_finished_spans()[0].attributes == {"token": "[REDACTED]"}
    handle.shutdown()


def _run(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["OTEL_RESILIENCE_JSONL_PATH"] = str(tmp_path / "t.jsonl")
    env.update(extra)
    return env


def test_configure_twice_installs_once(tmp_path: Path) -> None:
    """A second configure() returns the same handle and a span is exported exactly once."""
    code = """
        from opentelemetry import trace, metrics, _logs
        from otel_resilience_exporters import configure
        first = configure("svc", exporter="jsonl")
        second = configure("other", exporter="jsonl")
        assert first is second
        assert trace.get_tracer_provider() is first.tracer_provider
        assert metrics.get_meter_provider() is first.meter_provider
        assert _logs.get_logger_provider() is first.logger_provider
        with trace.get_tracer("app").start_as_current_span("once"):
            pass
        # no explicit shutdown: the atexit hook must flush
    """
    proc = _run(code, _env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    spans = [
        json.loads(line)
        for line in (tmp_path / "t.jsonl").read_text().splitlines()
        if '"signal":"span"' in line
    ]
    assert [s["name"] for s in spans] == ["once"]
    assert spans[0]["resource"]["service.name"] == "svc"


@pytest.mark.parametrize("select_configurator", [True, False])
def test_opentelemetry_instrument_uses_our_setup(tmp_path: Path, select_configurator: bool) -> None:
    """An unmodified script run under opentelemetry-instrument exports through configure()."""
    script = tmp_path / "app.py"
    script.write_text(
        "from opentelemetry import trace\n"
        "tracer = trace.get_tracer('app')\n"
        "with tracer.start_as_current_span('plain', attributes={'password': 'x'}):\n"
        "    pass\n"
    )
    env = _env(
        tmp_path,
        OTEL_PYTHON_DISTRO="otel_resilience",
        OTEL_TRACES_EXPORTER="jsonl",
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        OTEL_SERVICE_NAME="instrumented",
    )
    if select_configurator:
        env["OTEL_PYTHON_CONFIGURATOR"] = "otel_resilience"
    proc = run_instrumented(script, env)
    assert proc.returncode == 0, proc.stderr
    (span,) = [json.loads(x) for x in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert span["name"] == "plain"
    assert span["attributes"] == {"password": "[REDACTED]"}
    assert span["resource"]["service.name"] == "instrumented"
    assert span["resource"]["telemetry.auto.version"]
