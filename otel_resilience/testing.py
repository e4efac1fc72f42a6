"""Test helpers for otel-resilience and for its users' own tests.

:class:`FakeClock` makes every strategy deterministic: sleeping on it advances time instantly,
or, with ``auto_advance=False``, parks the sleeper until the test advances time.
This module is also a pytest plugin (entry point ``pytest11``) giving the fixtures
``fake_clock`` and ``otel_capture``. The fixtures import the OpenTelemetry SDK lazily, so merely
having otel-resilience installed never requires the SDK.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from otel_resilience._fake_clock import FakeClock

if TYPE_CHECKING:
    from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider

__all__ = ["FakeClock", "OTelCapture", "fake_clock", "otel_capture"]


class OTelCapture:
    """SDK providers wired to in-memory exporters, with accessors for what they captured.

    Pass ``**capture.providers`` to a Pipeline or strategy to record its telemetry here.
    """

    def __init__(self) -> None:
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk._logs.export import (
            InMemoryLogRecordExporter,
            SimpleLogRecordProcessor,
        )
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        self.span_exporter = InMemorySpanExporter()
        self.tracer_provider: TracerProvider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.span_exporter))
        self.metric_reader = InMemoryMetricReader()
        self.meter_provider: MeterProvider = MeterProvider(metric_readers=[self.metric_reader])
        self.log_exporter = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
        self.logger_provider: LoggerProvider = LoggerProvider()
        self.logger_provider.add_log_record_processor(SimpleLogRecordProcessor(self.log_exporter))

    @property
    def providers(self) -> dict[str, Any]:
        """Keyword arguments ``tracer_provider``, ``meter_provider``, ``logger_provider``."""
        return {
            "tracer_provider": self.tracer_provider,
            "meter_provider": self.meter_provider,
            "logger_provider": self.logger_provider,
        }

    def spans(self, name: str | None = None) -> list[ReadableSpan]:
        """Finished spans, optionally only those called ``name``."""
        spans = list(self.span_exporter.get_finished_spans())
        return [s for s in spans if name is None or s.name == name]

    def span(self, name: str) -> ReadableSpan:
        """The single finished span called ``name`` (AssertionError unless exactly one)."""
        found = self.spans(name)
        assert len(found) == 1, f"expected one span {name!r}, got {len(found)}"
        return found[0]

    def logs(self, event_name: str | None = None) -> list[ReadableLogRecord]:
        """Emitted log records, optionally only those with ``event_name``."""
        logs = list(self.log_exporter.get_finished_logs())
        return [r for r in logs if event_name is None or r.log_record.event_name == event_name]

    def metrics(self) -> dict[str, list[Any]]:
        """Collect now: metric name -> its data points (attributes and values)."""
        data = self.metric_reader.get_metrics_data()
        found: dict[str, list[Any]] = {}
        if data is None:
            return found
        for rm in data.resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    found.setdefault(metric.name, []).extend(metric.data.data_points)
        return found

    def metric_points(self, name: str, **attributes: Any) -> list[Any]:
        """Data points of metric ``name`` whose attributes include ``attributes``."""
        wanted = attributes.items()
        return [
            p
            for p in self.metrics().get(name, [])
            if all(p.attributes.get(k) == v for k, v in wanted)
        ]

    def shutdown(self) -> None:
        """Shut the providers down."""
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()
        self.logger_provider.shutdown()


try:  # pytest is optional: FakeClock and OTelCapture work without it.
    import pytest
except ImportError:  # pragma: no cover
    pass
else:

    @pytest.fixture
    def fake_clock() -> FakeClock:
        """A FakeClock starting at 0."""
        return FakeClock()

    @pytest.fixture
    def otel_capture() -> Iterator[OTelCapture]:
        """SDK providers recording spans, metrics and logs in memory (needs opentelemetry-sdk)."""
        capture = OTelCapture()
        try:
            yield capture
        finally:
            capture.shutdown()
