"""OpenTelemetry SDK setup for otel-resilience (see docs/exporters.md).

``configure()`` sets up traces, metrics and logs in one call; ``build()`` does the same without
touching the global providers.
"""

from __future__ import annotations

from ._distro import OtelResilienceConfigurator, OtelResilienceDistro
from ._exporters import (
    AlloyLogRecordExporter,
    AlloyMetricExporter,
    AlloySpanExporter,
    GrafanaCloudLogRecordExporter,
    GrafanaCloudMetricExporter,
    GrafanaCloudSpanExporter,
    JaegerSpanExporter,
    LocalPrometheusMetricReader,
    TempoSpanExporter,
)
from ._guard import DropCounter
from ._jsonl import JsonlLogRecordExporter, JsonlMetricExporter, JsonlSpanExporter
from ._log_processors import EventMirrorProcessor, RedactingLogRecordProcessor
from ._processors import RedactingSpanProcessor, redact_span
from ._redaction import BUILTIN_PATTERNS, DEFAULT_SECRET_KEYS, RedactionOptions, Redactor
from ._sampling import (
    RateLimitingSampler,
    RuleBasedSampler,
    SamplingRule,
    parse_sampler,
    rate_limited_sampler,
    ratio_sampler,
)
from ._settings import EXPORTER_SIGNALS, TelemetrySettings
from ._setup import Telemetry, build, configure
from ._views import HISTOGRAM_BUCKETS, default_views

__all__ = [
    # set-up
    "configure",
    "build",
    "Telemetry",
    "TelemetrySettings",
    "EXPORTER_SIGNALS",
    "DropCounter",
    # redaction
    "RedactionOptions",
    "Redactor",
    "BUILTIN_PATTERNS",
    "DEFAULT_SECRET_KEYS",
    "RedactingSpanProcessor",
    "RedactingLogRecordProcessor",
    "redact_span",
    # events on trace-only backends
    "EventMirrorProcessor",
    # sampling
    "RateLimitingSampler",
    "RuleBasedSampler",
    "SamplingRule",
    "parse_sampler",
    "rate_limited_sampler",
    "ratio_sampler",
    # metrics
    "HISTOGRAM_BUCKETS",
    "default_views",
    "LocalPrometheusMetricReader",
    # exporters (also SDK entry points)
    "JsonlSpanExporter",
    "JsonlMetricExporter",
    "JsonlLogRecordExporter",
    "JaegerSpanExporter",
    "TempoSpanExporter",
    "AlloySpanExporter",
    "AlloyMetricExporter",
    "AlloyLogRecordExporter",
    "GrafanaCloudSpanExporter",
    "GrafanaCloudMetricExporter",
    "GrafanaCloudLogRecordExporter",
    # opentelemetry-instrument
    "OtelResilienceDistro",
    "OtelResilienceConfigurator",
]
