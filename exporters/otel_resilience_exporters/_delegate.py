"""Exporters that forward to an inner exporter: the base of the presets and the counting guards.

One class per signal because the SDK's three exporter interfaces differ in their signatures;
subclasses override only what they change (usually ``export``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

__all__ = ["DelegatingLogRecordExporter", "DelegatingMetricExporter", "DelegatingSpanExporter"]


class DelegatingSpanExporter(SpanExporter):
    """Forwards every call to ``inner``."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Delegate."""
        return self.inner.export(spans)

    def shutdown(self) -> None:
        """Delegate."""
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Delegate."""
        return self.inner.force_flush(timeout_millis)


class DelegatingLogRecordExporter(LogRecordExporter):
    """Forwards every call to ``inner``."""

    def __init__(self, inner: LogRecordExporter) -> None:
        self.inner = inner

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        """Delegate."""
        return self.inner.export(batch)

    def shutdown(self) -> None:
        """Delegate."""
        self.inner.shutdown()  # type: ignore[no-untyped-call]

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Delegate."""
        return self.inner.force_flush(timeout_millis)


class DelegatingMetricExporter(MetricExporter):
    """Forwards every call to ``inner`` and takes over its preferred temporality and
    aggregation, which the metric reader reads from the exporter it is given."""

    def __init__(self, inner: MetricExporter) -> None:
        super().__init__(
            preferred_temporality=getattr(inner, "_preferred_temporality", None),
            preferred_aggregation=getattr(inner, "_preferred_aggregation", None),
        )
        self.inner = inner

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        """Delegate."""
        return self.inner.export(metrics_data, timeout_millis=timeout_millis, **kwargs)

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        """Delegate."""
        return self.inner.force_flush(timeout_millis=timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        """Delegate."""
        self.inner.shutdown(timeout_millis=timeout_millis, **kwargs)
