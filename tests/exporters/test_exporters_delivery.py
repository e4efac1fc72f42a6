"""Telemetry never hurts the app: collector down, failing or hung; entry points and presets."""

from __future__ import annotations

import base64
import time
import urllib.request
from collections.abc import Callable
from importlib.metadata import entry_points

import pytest
from exporters_support import OtlpServer, closed_port
from opentelemetry.sdk._logs.export import LogRecordExporter
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricExporter, MetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from otel_resilience_exporters import (
    GrafanaCloudSpanExporter,
    JaegerSpanExporter,
    LocalPrometheusMetricReader,
    build,
)

from otel_resilience import semconv


def _emit(handle: object, n: int) -> None:
    tracer = handle.tracer_provider.get_tracer("t")  # type: ignore[attr-defined]
    logger = handle.logger_provider.get_logger("l")  # type: ignore[attr-defined]
    meter = handle.meter_provider.get_meter("m")  # type: ignore[attr-defined]
    for i in range(n):
        with tracer.start_as_current_span(f"s{i}"):
            logger.emit(body=f"log {i}")
    meter.create_counter("c").add(1)


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_collector_down_shutdown_is_bounded(monkeypatch: pytest.MonkeyPatch, protocol: str) -> None:
    """With nothing listening and a long export timeout, shutdown() still returns in time."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
    monkeypatch.setenv("OTEL_RESILIENCE_EXPORT_TIMEOUT", "20")  # exporters would retry 20 s
    monkeypatch.setenv("OTEL_RESILIENCE_SHUTDOWN_TIMEOUT", "1")
    handle = build(exporter="otlp")
    start = time.monotonic()
    _emit(handle, 20)
    assert time.monotonic() - start < 1.0  # user calls never wait for the collector
    start = time.monotonic()
    finished = handle.shutdown()
    elapsed = time.monotonic() - start
    assert elapsed < 1.5, elapsed
    assert finished is False  # the exporters were still retrying: abandoned and counted
    assert handle.dropped()["traces"] == 20
    assert handle.shutdown() is True  # idempotent, immediate


def test_failing_collector_counts_drops(otlp_server: Callable[..., OtlpServer]) -> None:
    """Rejected exports are counted per signal and exposed as resilience.telemetry.dropped."""
    server = otlp_server(status=400)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    reader = InMemoryMetricReader()
    handle = build(
        exporter="none",
        span_exporters=[OTLPSpanExporter(endpoint=f"{server.url}/v1/traces", timeout=2)],
        metric_readers=[reader],
    )
    tracer = handle.tracer_provider.get_tracer("t")
    for name in ("a", "b", "c"):
        with tracer.start_as_current_span(name):
            pass
    handle.flush()
    assert len(server.requests) == 1
    assert handle.dropped_by_reason() == {("traces", semconv.DROP_REASON_EXPORT_FAILED): 3}
    data = reader.get_metrics_data()
    assert data is not None
    points = [
        (dict(p.attributes or {}), p.value)  # type: ignore[union-attr]
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == semconv.METRIC_TELEMETRY_DROPPED
        for p in m.data.data_points
    ]
    assert points == [
        ({semconv.TELEMETRY_SIGNAL: "traces", semconv.ERROR_TYPE: "export_failed"}, 3)
    ]
    handle.shutdown()


def test_hung_collector_bounds_memory_and_time(
    monkeypatch: pytest.MonkeyPatch, otlp_server: Callable[..., OtlpServer]
) -> None:
    """A collector that never answers: spans beyond the queue are dropped, nothing blocks."""
    server = otlp_server(hang=True)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", server.url)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    monkeypatch.setenv("OTEL_RESILIENCE_MAX_QUEUE_SIZE", "50")
    monkeypatch.setenv("OTEL_RESILIENCE_SHUTDOWN_TIMEOUT", "1")
    monkeypatch.setenv("OTEL_RESILIENCE_EXPORT_TIMEOUT", "20")
    handle = build(exporter="otlp")
    tracer = handle.tracer_provider.get_tracer("t")
    start = time.monotonic()
    for i in range(2000):
        with tracer.start_as_current_span(f"s{i}"):
            pass
    assert time.monotonic() - start < 2.0
    by_reason = handle.dropped_by_reason()
    # At most one batch in flight plus one queue of 50 held; the rest refused and counted.
    assert by_reason[("traces", semconv.DROP_REASON_QUEUE_FULL)] >= 2000 - 100
    start = time.monotonic()
    handle.shutdown()
    assert time.monotonic() - start < 1.5


def test_prometheus_scrape_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """The prometheus exporter serves our histogram on 127.0.0.1 with second buckets."""
    port = closed_port()
    monkeypatch.setenv("OTEL_EXPORTER_PROMETHEUS_PORT", str(port))
    handle = build("svc", exporter="prometheus")
    assert handle.settings.traces_exporters == ()
    assert handle.settings.logs_exporters == ()
    assert handle.settings.prometheus_host == "127.0.0.1"  # not all interfaces
    meter = handle.meter_provider.get_meter(semconv.SCOPE_NAME)
    meter.create_histogram(semconv.METRIC_PIPELINE_DURATION, unit="s").record(0.02)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        body = resp.read().decode()
    assert "resilience_pipeline_duration_seconds_bucket{" in body
    assert 'le="0.025"' in body
    handle.shutdown()


def test_prometheus_reader_binds_loopback_by_default() -> None:
    """LocalPrometheusMetricReader binds 127.0.0.1 unless told otherwise, and frees the port."""
    reader = LocalPrometheusMetricReader(port=0)
    assert reader.host == "127.0.0.1"
    assert reader.port > 0
    reader.shutdown()
    again = LocalPrometheusMetricReader(port=reader.port)  # the port was released
    again.shutdown()


def test_grafana_cloud_sends_basic_auth(
    monkeypatch: pytest.MonkeyPatch, otlp_server: Callable[..., OtlpServer]
) -> None:
    """grafana-cloud posts OTLP/HTTP to <endpoint>/v1/traces with Basic instance:token."""
    server = otlp_server()
    monkeypatch.setenv("OTEL_RESILIENCE_GRAFANA_CLOUD_ENDPOINT", f"{server.url}/otlp/")
    monkeypatch.setenv("OTEL_RESILIENCE_GRAFANA_CLOUD_INSTANCE_ID", "123456")
    monkeypatch.setenv("OTEL_RESILIENCE_GRAFANA_CLOUD_TOKEN", "glc_secret")
    exporter = GrafanaCloudSpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("t").start_as_current_span("x"):
        pass
    provider.shutdown()
    ((path, headers, body),) = server.requests
    assert path == "/otlp/v1/traces"
    expected = base64.b64encode(b"123456:glc_secret").decode()
    assert headers["authorization"] == f"Basic {expected}"
    assert b"x" in body


def test_grafana_cloud_missing_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing Grafana Cloud variable raises ValueError naming it."""
    monkeypatch.setenv("OTEL_RESILIENCE_GRAFANA_CLOUD_ENDPOINT", "https://example.invalid/otlp")
    monkeypatch.setenv("OTEL_RESILIENCE_GRAFANA_CLOUD_INSTANCE_ID", "1")
    with pytest.raises(ValueError, match="OTEL_RESILIENCE_GRAFANA_CLOUD_TOKEN"):
        build(exporter="grafana-cloud")


def test_exported_otlp_payload_is_scrubbed(
    monkeypatch: pytest.MonkeyPatch, otlp_server: Callable[..., OtlpServer]
) -> None:
    """What goes over the wire to a collector is already redacted."""
    server = otlp_server()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"{server.url}/v1/traces")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "jaeger")  # preset honours the endpoint variable
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
    monkeypatch.setenv("OTEL_LOGS_EXPORTER", "none")
    handle = build()
    with handle.tracer_provider.get_tracer("t").start_as_current_span("s") as span:
        span.set_attribute("password", "hunter2")
        span.set_attribute("email", "jane@example.com")
    assert handle.flush()
    ((path, _, body),) = server.requests
    assert path == "/v1/traces"
    assert b"hunter2" not in body
    assert b"jane@example.com" not in body
    assert b"[REDACTED]" in body
    assert b"[REDACTED:email]" in body
    handle.shutdown()


def test_presets_default_to_local_collector_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    """jaeger/tempo/alloy default to 127.0.0.1:4318 (HTTP, the default) or :4317 (gRPC)."""
    http = JaegerSpanExporter()
    assert http.inner._endpoint == "http://127.0.0.1:4318/v1/traces"  # type: ignore[attr-defined]
    http.shutdown()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    grpc = JaegerSpanExporter()
    assert grpc.inner._endpoint == "127.0.0.1:4317"  # type: ignore[attr-defined]
    grpc.shutdown()


_ALL = {"jsonl", "alloy", "grafana-cloud"}
OUR_EXPORTERS = {
    "opentelemetry_traces_exporter": (_ALL | {"jaeger", "tempo", "pretty"}, SpanExporter),
    "opentelemetry_metrics_exporter": (_ALL, (MetricExporter, MetricReader)),
    "opentelemetry_logs_exporter": (_ALL, LogRecordExporter),
}


@pytest.mark.parametrize("group", sorted(OUR_EXPORTERS))
def test_exporter_entry_points_construct_without_arguments(
    group: str, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    """Each of our exporter entry points loads a class of the right kind built with cls()."""
    monkeypatch.setenv("OTEL_RESILIENCE_JSONL_PATH", f"{tmp_path}/e.jsonl")
    monkeypatch.setenv("OTEL_RESILIENCE_GRAFANA_CLOUD_ENDPOINT", "https://example.invalid/otlp")
    monkeypatch.setenv("OTEL_RESILIENCE_GRAFANA_CLOUD_INSTANCE_ID", "1")
    monkeypatch.setenv("OTEL_RESILIENCE_GRAFANA_CLOUD_TOKEN", "t")
    names, kind = OUR_EXPORTERS[group]
    found = {ep.name: ep for ep in entry_points(group=group) if ep.value.startswith("otel_res")}
    assert set(found) == names
    for ep in found.values():
        cls = ep.load()
        assert issubclass(cls, kind)
        instance = cls()
        instance.shutdown()


def test_distro_configurator_and_sampler_entry_points() -> None:
    """opentelemetry-instrument finds our distro and configurator; the SDK our sampler."""
    from opentelemetry.instrumentation.distro import BaseDistro  # type: ignore[attr-defined]

    (distro,) = entry_points(group="opentelemetry_distro", name="otel_resilience")
    assert isinstance(distro.load()(), BaseDistro)
    (configurator,) = entry_points(group="opentelemetry_configurator", name="otel_resilience")
    assert hasattr(configurator.load()(), "configure")
    (sampler,) = entry_points(group="opentelemetry_traces_sampler", name="resilience_ratelimit")
    assert "RateLimitingSampler{3/s}" in sampler.load()("3").get_description()
