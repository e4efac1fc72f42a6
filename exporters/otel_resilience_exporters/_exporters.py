"""Exporters by name: console, OTLP, Prometheus, jsonl and the backend presets.

The preset classes are also the SDK entry points (``opentelemetry_*_exporter`` groups), so they
must be constructible with no arguments: everything comes from the environment.
"""

from __future__ import annotations

import base64
import importlib
import logging
import re
from typing import Any, ClassVar
from urllib.parse import urlsplit

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk._logs.export import ConsoleLogRecordExporter, LogRecordExporter
from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, MetricExporter, MetricsData
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SpanExporter
from prometheus_client import CollectorRegistry, start_http_server

from . import _settings as s
from ._delegate import (
    DelegatingLogRecordExporter,
    DelegatingMetricExporter,
    DelegatingSpanExporter,
)
from ._env import raw
from ._jsonl import JsonlLogRecordExporter, JsonlMetricExporter, JsonlSpanExporter
from ._metric_redaction import redact_metrics_data
from ._pretty import PrettySpanExporter
from ._redaction import Redactor

__all__ = [
    "AlloyLogRecordExporter",
    "AlloyMetricExporter",
    "AlloySpanExporter",
    "GrafanaCloudLogRecordExporter",
    "GrafanaCloudMetricExporter",
    "GrafanaCloudSpanExporter",
    "JaegerSpanExporter",
    "LocalPrometheusMetricReader",
    "TempoSpanExporter",
]

_log = logging.getLogger(__name__)

_GRPC, _HTTP = "grpc", "http/protobuf"
_LOCAL_PORTS = {_GRPC: 4317, _HTTP: 4318}  # Jaeger, Tempo and Alloy all listen on these
#: What installs the gRPC exporters, named in the error when they are missing.
GRPC_EXTRA = "otel-resilience-exporters[grpc]"


def _protocol(signal: str, default: str = _HTTP) -> tuple[str, str]:
    """The protocol for ``signal`` and what chose it (a variable, or "default")."""
    for var in (f"OTEL_EXPORTER_OTLP_{signal.upper()}_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        value = raw(var)
        if value:
            if value not in (_GRPC, _HTTP):
                raise ValueError(
                    f"{var}: unsupported OTLP protocol {value!r} (grpc, http/protobuf)"
                )
            return value, var
    return default, "default"


_HOST_PORT = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.\-]*):(\d{1,5})")


def check_endpoint(name: str, url: str, protocol: str) -> None:
    """ValueError naming ``name`` unless ``url`` is an http(s) URL with a host (gRPC also takes
    a bare ``host:port``) and a valid port."""
    text = url.strip()
    if protocol == _GRPC and "://" not in text:
        bare = _HOST_PORT.fullmatch(text)
        valid = bare is not None and 0 < int(bare.group(1)) < 65536
    else:
        parts = urlsplit(text)
        try:
            port = parts.port
        except ValueError:
            port = -1
        valid = (
            parts.scheme in ("http", "https")
            and bool(parts.hostname)
            and port not in (-1, 0)
            and not any(c.isspace() for c in text)
        )
    if not valid:
        shape = "http(s)://host[:port][/path]" + (" or host:port" if protocol == _GRPC else "")
        raise ValueError(f"{name}: invalid OTLP endpoint {url!r}; expected {shape}")


def _check_env_endpoints(signal: str, protocol: str) -> None:
    for var in (f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"):
        value = raw(var)
        if value:
            check_endpoint(var, value, protocol)


def _timeout(signal: str, export_timeout: float | None) -> float | None:
    """Our bounded timeout unless the standard OTLP timeout variable is set (then the exporter
    reads it; note the Python exporters read it in seconds)."""
    for var in (f"OTEL_EXPORTER_OTLP_{signal.upper()}_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"):
        if raw(var):
            return None
    if export_timeout is None:
        export_timeout = s.env_timeout(s.ENV_EXPORT_TIMEOUT, s.DEFAULT_EXPORT_TIMEOUT)
    return export_timeout


def _endpoint_from_env(signal: str) -> bool:
    names = (f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
    return any(raw(v) for v in names)


#: The SDK's OTLP exporter class per (protocol, signal), as (module, class name).
_OTLP_CLASSES: dict[tuple[str, str], tuple[str, str]] = {
    (_GRPC, "traces"): (
        "opentelemetry.exporter.otlp.proto.grpc.trace_exporter",
        "OTLPSpanExporter",
    ),
    (_GRPC, "metrics"): (
        "opentelemetry.exporter.otlp.proto.grpc.metric_exporter",
        "OTLPMetricExporter",
    ),
    (_GRPC, "logs"): ("opentelemetry.exporter.otlp.proto.grpc._log_exporter", "OTLPLogExporter"),
    (_HTTP, "traces"): (
        "opentelemetry.exporter.otlp.proto.http.trace_exporter",
        "OTLPSpanExporter",
    ),
    (_HTTP, "metrics"): (
        "opentelemetry.exporter.otlp.proto.http.metric_exporter",
        "OTLPMetricExporter",
    ),
    (_HTTP, "logs"): ("opentelemetry.exporter.otlp.proto.http._log_exporter", "OTLPLogExporter"),
}


def _otlp(
    signal: str,
    protocol: str,
    timeout: float | None,
    endpoint: str | None = None,
    headers: dict[str, str] | None = None,
    chosen_by: str = "protocol",
) -> Any:
    if endpoint is None:
        _check_env_endpoints(signal, protocol)
    # Imported on demand: grpc costs ~0.1 s to import and most set-ups use one protocol.
    module, cls = _OTLP_CLASSES[(protocol, signal)]
    try:
        exporter_cls = getattr(importlib.import_module(module), cls)
    except ImportError as exc:
        if protocol != _GRPC:
            raise
        raise ImportError(
            f"{chosen_by}: OTLP over gRPC needs the grpc extra, which is not installed: "
            f"pip install '{GRPC_EXTRA}' (or choose http/protobuf)"
        ) from exc
    return exporter_cls(endpoint=endpoint, timeout=timeout, headers=headers)


def grafana_cloud_target(signal: str) -> tuple[str, dict[str, str]]:
    """Endpoint and Basic authorization header for Grafana Cloud's OTLP gateway."""
    values = {}
    for var in (
        s.ENV_GRAFANA_CLOUD_ENDPOINT,
        s.ENV_GRAFANA_CLOUD_INSTANCE_ID,
        s.ENV_GRAFANA_CLOUD_TOKEN,
    ):
        value = raw(var)
        if not value:
            raise ValueError(f"{var}: required by the grafana-cloud exporter but not set")
        values[var] = value
    check_endpoint(s.ENV_GRAFANA_CLOUD_ENDPOINT, values[s.ENV_GRAFANA_CLOUD_ENDPOINT], _HTTP)
    user = values[s.ENV_GRAFANA_CLOUD_INSTANCE_ID]
    token = values[s.ENV_GRAFANA_CLOUD_TOKEN]
    auth = base64.b64encode(f"{user}:{token}".encode()).decode("ascii")
    endpoint = values[s.ENV_GRAFANA_CLOUD_ENDPOINT].rstrip("/") + f"/v1/{signal}"
    return endpoint, {"Authorization": f"Basic {auth}"}


def otlp_exporter(name: str, signal: str, export_timeout: float | None = None) -> Any:
    """The OTLP exporter for ``signal`` behind ``name`` (otlp, otlp_proto_* or a preset)."""
    timeout = _timeout(signal, export_timeout)
    if name == "otlp_proto_grpc":
        return _otlp(signal, _GRPC, timeout, chosen_by="exporter 'otlp_proto_grpc'")
    if name == "otlp_proto_http":
        return _otlp(signal, _HTTP, timeout)
    if name == "otlp":
        protocol, var = _protocol(signal)
        return _otlp(signal, protocol, timeout, chosen_by=var)
    if name == "grafana-cloud":
        cloud_endpoint, headers = grafana_cloud_target(signal)
        return _otlp(signal, _HTTP, timeout, cloud_endpoint, headers)
    if name in ("jaeger", "tempo", "alloy"):
        protocol, var = _protocol(signal)
        endpoint = None
        if not _endpoint_from_env(signal):
            port = _LOCAL_PORTS[protocol]
            path = f"/v1/{signal}" if protocol == _HTTP else ""
            endpoint = f"http://127.0.0.1:{port}{path}"
        return _otlp(signal, protocol, timeout, endpoint, chosen_by=var)
    raise ValueError(f"exporter: {name!r} is not an OTLP exporter")


class _PresetSpanExporter(DelegatingSpanExporter):
    preset: ClassVar[str]

    def __init__(self, *, timeout: float | None = None) -> None:
        super().__init__(otlp_exporter(self.preset, "traces", timeout))


class _PresetMetricExporter(DelegatingMetricExporter):
    preset: ClassVar[str]

    def __init__(self, *, timeout: float | None = None) -> None:
        super().__init__(otlp_exporter(self.preset, "metrics", timeout))


class _PresetLogRecordExporter(DelegatingLogRecordExporter):
    preset: ClassVar[str]

    def __init__(self, *, timeout: float | None = None) -> None:
        super().__init__(otlp_exporter(self.preset, "logs", timeout))


class JaegerSpanExporter(_PresetSpanExporter):
    """OTLP to a Jaeger collector: HTTP 127.0.0.1:4318 unless OTEL_EXPORTER_OTLP_* say otherwise."""

    preset = "jaeger"


class TempoSpanExporter(_PresetSpanExporter):
    """OTLP to Grafana Tempo: HTTP 127.0.0.1:4318 unless OTEL_EXPORTER_OTLP_* say otherwise."""

    preset = "tempo"


class AlloySpanExporter(_PresetSpanExporter):
    """OTLP traces to Grafana Alloy: HTTP 127.0.0.1:4318 unless OTEL_EXPORTER_OTLP_* say so."""

    preset = "alloy"


class AlloyMetricExporter(_PresetMetricExporter):
    """OTLP metrics to Grafana Alloy (see :class:`AlloySpanExporter`)."""

    preset = "alloy"


class AlloyLogRecordExporter(_PresetLogRecordExporter):
    """OTLP logs to Grafana Alloy (see :class:`AlloySpanExporter`)."""

    preset = "alloy"


class GrafanaCloudSpanExporter(_PresetSpanExporter):
    """OTLP/HTTP traces to Grafana Cloud; endpoint, instance id and token from the environment."""

    preset = "grafana-cloud"


class GrafanaCloudMetricExporter(_PresetMetricExporter):
    """OTLP/HTTP metrics to Grafana Cloud (see :class:`GrafanaCloudSpanExporter`)."""

    preset = "grafana-cloud"


class GrafanaCloudLogRecordExporter(_PresetLogRecordExporter):
    """OTLP/HTTP logs to Grafana Cloud (see :class:`GrafanaCloudSpanExporter`)."""

    preset = "grafana-cloud"


class LocalPrometheusMetricReader(PrometheusMetricReader):
    """Prometheus scrape endpoint on ``host:port``; host defaults to 127.0.0.1, not all interfaces.

    Uses its own registry, so several readers (tests, re-configuration) never collide, and
    stops its HTTP server on shutdown. With a ``redactor``, every scrape serves scrubbed data
    (see :func:`~otel_resilience_exporters._metric_redaction.redact_metrics_data`).
    """

    def __init__(
        self, host: str | None = None, port: int | None = None, *, redactor: Redactor | None = None
    ) -> None:
        registry = CollectorRegistry(auto_describe=True)
        super().__init__(registry=registry)
        self.redactor = redactor
        host = host or raw(s.ENV_PROMETHEUS_HOST)
        if port is None:
            port = s.env_int(s.ENV_PROMETHEUS_PORT, s.DEFAULT_PROMETHEUS_PORT, 0, 65535)
        self._server, self._thread = start_http_server(
            port, addr=host or s.DEFAULT_PROMETHEUS_HOST, registry=registry
        )
        #: The address and port actually bound (the port is useful with port 0).
        self.host: str = str(self._server.server_address[0])
        self.port: int = self._server.server_port

    def _receive_metrics(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> None:
        # The one place every scrape's data passes through before it becomes text.
        if metrics_data is not None and self.redactor is not None:
            try:
                metrics_data = redact_metrics_data(metrics_data, self.redactor)
            except Exception:  # never serve what could not be scrubbed
                _log.exception("metric redaction failed; scrape served without data")
                return
        super()._receive_metrics(metrics_data, timeout_millis, **kwargs)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        """Stop the HTTP server, then the reader."""
        self._server.shutdown()
        self._server.server_close()
        super().shutdown(timeout_millis=timeout_millis, **kwargs)


#: The console and jsonl exporter classes per signal.
_LOCAL_CLASSES: dict[str, tuple[type[Any], type[Any]]] = {
    "traces": (ConsoleSpanExporter, JsonlSpanExporter),
    "metrics": (ConsoleMetricExporter, JsonlMetricExporter),
    "logs": (ConsoleLogRecordExporter, JsonlLogRecordExporter),
}


def _named_exporter(name: str, signal: str, settings: s.TelemetrySettings) -> Any:
    console, jsonl = _LOCAL_CLASSES[signal]
    if name == "console":
        return console()
    if name == "pretty":  # traces only (EXPORTER_SIGNALS)
        return PrettySpanExporter()
    if name == "jsonl":
        try:
            return jsonl(settings.jsonl_path)
        except ValueError as exc:  # name the settings field, not the exporter's argument
            raise ValueError(f"jsonl_path: {str(exc).removeprefix('path: ')}") from None
    return otlp_exporter(name, signal, settings.export_timeout)


def span_exporter(name: str, settings: s.TelemetrySettings) -> SpanExporter:
    """The span exporter called ``name``."""
    exporter: SpanExporter = _named_exporter(name, "traces", settings)
    return exporter


def log_exporter(name: str, settings: s.TelemetrySettings) -> LogRecordExporter:
    """The log record exporter called ``name``."""
    exporter: LogRecordExporter = _named_exporter(name, "logs", settings)
    return exporter


def metric_exporter(name: str, settings: s.TelemetrySettings) -> MetricExporter:
    """The push metric exporter called ``name`` (not ``prometheus``, which is a reader)."""
    exporter: MetricExporter = _named_exporter(name, "metrics", settings)
    return exporter
