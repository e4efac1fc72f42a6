"""Bounded, failure-counting export: telemetry is dropped (and counted), never blocks the app."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from typing import Any

from opentelemetry.metrics import Counter, Meter
from opentelemetry.sdk._logs import LogRecordProcessor, ReadableLogRecord, ReadWriteLogRecord
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    LogRecordExporter,
    LogRecordExportResult,
)
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from otel_resilience import semconv

__all__ = ["DropCounter", "GuardedBatchLogRecordProcessor", "GuardedBatchSpanProcessor"]

_BATCH = 512


class DropCounter:
    """Thread-safe tally of lost telemetry, mirrored to the ``resilience.telemetry.dropped`` metric.

    The tally is kept even before a meter is bound (and after the meter provider is shut down),
    so :meth:`snapshot` always has the full count.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], int] = {}
        self._instrument: Counter | None = None

    def bind(self, meter: Meter) -> None:
        """Create the counter on ``meter`` and replay what was counted before."""
        instrument = meter.create_counter(
            semconv.METRIC_TELEMETRY_DROPPED,
            unit="{item}",
            description="Spans, log records and metric points lost before reaching a backend.",
        )
        with self._lock:
            self._instrument = instrument
            pending = dict(self._counts)
        for (signal, reason), n in pending.items():
            instrument.add(n, self._attrs(signal, reason))

    @staticmethod
    def _attrs(signal: str, reason: str) -> dict[str, str]:
        return {semconv.TELEMETRY_SIGNAL: signal, semconv.ERROR_TYPE: reason}

    def add(self, signal: str, reason: str, n: int = 1) -> None:
        """Count ``n`` items of ``signal`` ("traces", "logs", "metrics") lost for ``reason``."""
        if n <= 0:
            return
        with self._lock:
            key = (signal, reason)
            self._counts[key] = self._counts.get(key, 0) + n
            instrument = self._instrument
        if instrument is not None:
            # Counting must never raise into an exporter thread.
            with contextlib.suppress(Exception):
                instrument.add(n, self._attrs(signal, reason))

    def snapshot(self) -> dict[tuple[str, str], int]:
        """``{(signal, reason): count}`` so far."""
        with self._lock:
            return dict(self._counts)


class _Inflight:
    """Items handed to a batch processor and not yet returned by its exporter.

    Kept at or below the processor's queue size, so the SDK queue can never overflow silently:
    the overflow is refused (and counted) here instead.
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._n = 0
        self._lock = threading.Lock()

    def acquire(self) -> bool:
        with self._lock:
            if self._n >= self._limit:
                return False
            self._n += 1
            return True

    def release(self, n: int) -> None:
        with self._lock:
            self._n = max(0, self._n - n)

    @property
    def pending(self) -> int:
        with self._lock:
            return self._n


class _CountingSpanExporter(SpanExporter):
    def __init__(self, inner: SpanExporter, inflight: _Inflight, drops: DropCounter) -> None:
        self._inner, self._inflight, self._drops = inner, inflight, drops

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result = SpanExportResult.FAILURE
        try:
            result = self._inner.export(spans)
        except Exception:  # a failing exporter is counted, never propagated
            pass
        finally:
            self._inflight.release(len(spans))
        if result is not SpanExportResult.SUCCESS:
            self._drops.add("traces", semconv.DROP_REASON_EXPORT_FAILED, len(spans))
        return result

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


class _CountingLogExporter(LogRecordExporter):
    def __init__(self, inner: LogRecordExporter, inflight: _Inflight, drops: DropCounter) -> None:
        self._inner, self._inflight, self._drops = inner, inflight, drops

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        result = LogRecordExportResult.FAILURE
        try:
            result = self._inner.export(batch)
        except Exception:  # a failing exporter is counted, never propagated
            pass
        finally:
            self._inflight.release(len(batch))
        if result is not LogRecordExportResult.SUCCESS:
            self._drops.add("logs", semconv.DROP_REASON_EXPORT_FAILED, len(batch))
        return result

    def shutdown(self) -> None:
        self._inner.shutdown()  # type: ignore[no-untyped-call]

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


class GuardedBatchSpanProcessor(SpanProcessor):
    """A :class:`BatchSpanProcessor` whose queue overflow and export failures are counted."""

    def __init__(
        self,
        exporter: SpanExporter,
        drops: DropCounter,
        *,
        max_queue_size: int = 2048,
        export_timeout: float = 3.0,
    ) -> None:
        self.exporter = exporter
        self._drops = drops
        self._inflight = _Inflight(max_queue_size)
        self._closed = False
        self._batch = BatchSpanProcessor(
            _CountingSpanExporter(exporter, self._inflight, drops),
            max_queue_size=max_queue_size,
            max_export_batch_size=min(_BATCH, max_queue_size),
            export_timeout_millis=export_timeout * 1000,
        )

    def on_end(self, span: ReadableSpan) -> None:
        """Queue a sampled span, or count it as dropped when the queue is full or closed."""
        if span.context is None or not span.context.trace_flags.sampled:
            return
        if self._closed:
            self._drops.add("traces", semconv.DROP_REASON_SHUTDOWN)
        elif self._inflight.acquire():
            self._batch.on_end(span)
        else:
            self._drops.add("traces", semconv.DROP_REASON_QUEUE_FULL)

    @property
    def pending(self) -> int:
        """Spans queued or being exported."""
        return self._inflight.pending

    def shutdown(self) -> None:
        """Export what is queued, then shut the exporter down (blocking; bounded by the caller)."""
        self._closed = True
        self._batch.shutdown()  # type: ignore[no-untyped-call]

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Export everything queued now."""
        return self._batch.force_flush(timeout_millis)


class GuardedBatchLogRecordProcessor(LogRecordProcessor):
    """A :class:`BatchLogRecordProcessor` whose queue overflow and export failures are counted."""

    def __init__(
        self,
        exporter: LogRecordExporter,
        drops: DropCounter,
        *,
        max_queue_size: int = 2048,
        export_timeout: float = 3.0,
    ) -> None:
        self.exporter = exporter
        self._drops = drops
        self._inflight = _Inflight(max_queue_size)
        self._closed = False
        self._batch = BatchLogRecordProcessor(
            _CountingLogExporter(exporter, self._inflight, drops),
            max_queue_size=max_queue_size,
            max_export_batch_size=min(_BATCH, max_queue_size),
            export_timeout_millis=export_timeout * 1000,
        )

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        """Queue the record, or count it as dropped when the queue is full or closed."""
        if self._closed:
            self._drops.add("logs", semconv.DROP_REASON_SHUTDOWN)
        elif self._inflight.acquire():
            self._batch.on_emit(log_record)
        else:
            self._drops.add("logs", semconv.DROP_REASON_QUEUE_FULL)

    @property
    def pending(self) -> int:
        """Log records queued or being exported."""
        return self._inflight.pending

    def shutdown(self) -> None:
        """Export what is queued, then shut the exporter down (blocking; bounded by the caller)."""
        self._closed = True
        self._batch.shutdown()  # type: ignore[no-untyped-call]

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Export everything queued now."""
        return self._batch.force_flush(timeout_millis)


class CountingMetricExporter(MetricExporter):
    """Delegates to ``inner``, counting the data points of failed exports as dropped."""

    def __init__(self, inner: MetricExporter, drops: DropCounter) -> None:
        super().__init__(
            preferred_temporality=getattr(inner, "_preferred_temporality", None),
            preferred_aggregation=getattr(inner, "_preferred_aggregation", None),
        )
        self._inner, self._drops = inner, drops

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        """Export, counting points of a failed export under ``signal=metrics``."""
        result = MetricExportResult.FAILURE
        with contextlib.suppress(Exception):  # a failing exporter is counted, never propagated
            result = self._inner.export(metrics_data, timeout_millis=timeout_millis, **kwargs)
        if result is not MetricExportResult.SUCCESS:
            points = sum(
                len(m.data.data_points)
                for rm in metrics_data.resource_metrics
                for sm in rm.scope_metrics
                for m in sm.metrics
            )
            self._drops.add("metrics", semconv.DROP_REASON_EXPORT_FAILED, points)
        return result

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        """Delegate."""
        return self._inner.force_flush(timeout_millis=timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        """Delegate."""
        self._inner.shutdown(timeout_millis=timeout_millis, **kwargs)
