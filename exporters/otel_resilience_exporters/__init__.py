"""OpenTelemetry SDK setup for otel-resilience (see docs/exporters.md).

``configure()`` sets up traces, metrics and logs in one call; ``build()`` does the same without
touching the global providers.
"""

from __future__ import annotations

from typing import Any

from ._breadcrumbs import BreadcrumbLogProcessor
from ._bundle import debug_bundle_bytes, fetch_debug_bundle
from ._configure import IgnoredConfigurationWarning, configure
from ._debug import DebugCollector
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
from ._pretty import PrettySpanExporter
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
from ._setup import Telemetry, build
from ._views import HISTOGRAM_BUCKETS, default_views

__all__ = [
    # set-up
    "configure",
    "build",
    "Telemetry",
    "TelemetrySettings",
    "IgnoredConfigurationWarning",
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
    "PrettySpanExporter",
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
    # debug capture (issue 11)
    "DebugCollector",
    "debug_bundle_bytes",
    "fetch_debug_bundle",
    "BreadcrumbLogProcessor",
    # opentelemetry-instrument
    "OtelResilienceDistro",
    "OtelResilienceConfigurator",
]


def __getattr__(name: str) -> Any:
    # The distro classes need opentelemetry-instrumentation, which opentelemetry-instrument
    # loads through the entry points; a plain import of this package does not pull it in.
    if name in ("OtelResilienceDistro", "OtelResilienceConfigurator"):
        from . import _distro

        return getattr(_distro, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
