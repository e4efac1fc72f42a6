"""Bounded, failure-counting export: telemetry is dropped (and counted), never blocks the app."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, TypeVar

from opentelemetry.metrics import CallbackOptions, Meter, Observation
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

from ._delegate import (
    DelegatingLogRecordExporter,
    DelegatingMetricExporter,
    DelegatingSpanExporter,
)

__all__ = ["DropCounter", "GuardedBatchLogRecordProcessor", "GuardedBatchSpanProcessor"]

_BATCH = 512
_R = TypeVar("_R")


class DropCounter:
    """Thread-safe tally of lost telemetry, reported as the ``resilience.telemetry.dropped`` metric.

    The metric is an observable counter read from this tally at collection time: with the
    collector down every span may be dropped, and a synchronous counter add per drop (several
    microseconds in the SDK) would make an outage slow the application down. Counting is a dict
    increment under a lock, kept before a meter is bound and after the provider shuts down, so
    :meth:`snapshot` always has the full count.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], int] = {}
        self._bound = False

    def bind(self, meter: Meter) -> None:
        """Report the tally through an observable counter on ``meter`` (once)."""
        with self._lock:
            if self._bound:
                return
            self._bound = True
        meter.create_observable_counter(
            semconv.METRIC_TELEMETRY_DROPPED,
            callbacks=[self._observe],
            unit="{item}",
            description="Spans, log records and metric points lost before reaching a backend.",
        )

    def _observe(self, _options: CallbackOptions) -> Iterable[Observation]:
        for (signal, reason), n in self.snapshot().items():
            yield Observation(n, {semconv.TELEMETRY_SIGNAL: signal, semconv.ERROR_TYPE: reason})

    def add(self, signal: str, reason: str, n: int = 1) -> None:
        """Count ``n`` items of ``signal`` ("traces", "logs", "metrics") lost for ``reason``."""
        if n <= 0:
            return
        key = (signal, reason)
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + n

    def snapshot(self) -> dict[tuple[str, str], int]:
        """``{(signal, reason): count}`` so far."""
        with self._lock:
            return dict(self._counts)


class _Batch(Protocol):
    """What the guarded processors need of the SDK batch processor they wrap."""

    def shutdown(self) -> None: ...

    def force_flush(self, timeout_millis: int = 30000) -> bool: ...


def _guarded_export(export: Callable[[], _R], failure: _R) -> _R:
    try:
        return export()
    except Exception:  # a failing exporter is counted by the caller, never propagated
        return failure


class _Admission:
    """Slots in one batch processor's queue, and the drop counting around them.

    Items handed to the processor and not yet returned by its exporter are kept at or below the
    processor's queue size, so the SDK queue can never overflow silently: the overflow is
    refused (and counted) here instead.
    """

    def __init__(self, signal: str, drops: DropCounter, limit: int) -> None:
        self.signal = signal
        self.closed = False
        self._drops = drops
        self._limit = limit
        self._n = 0
        self._lock = threading.Lock()

    def admit(self) -> bool:
        """Take a slot for one item; False, with the item counted as dropped, when the queue is
        full or closed."""
        if self.closed:
            self._drops.add(self.signal, semconv.DROP_REASON_SHUTDOWN)
            return False
        with self._lock:
            if self._n < self._limit:
                self._n += 1
                return True
        self._drops.add(self.signal, semconv.DROP_REASON_QUEUE_FULL)
        return False

    def export(self, export: Callable[[], _R], n: int, success: _R, failure: _R) -> _R:
        """Run ``export`` of ``n`` admitted items, free their slots, count them unless it
        returned ``success`` (an exception counts as ``failure`` and is swallowed)."""
        result = failure
        try:
            result = _guarded_export(export, failure)
        finally:
            with self._lock:
                self._n = max(0, self._n - n)
        if result is not success:
            self._drops.add(self.signal, semconv.DROP_REASON_EXPORT_FAILED, n)
        return result

    @property
    def pending(self) -> int:
        """Items admitted and not yet exported."""
        with self._lock:
            return self._n


class _CountingSpanExporter(DelegatingSpanExporter):
    def __init__(self, inner: SpanExporter, admission: _Admission) -> None:
        super().__init__(inner)
        self._admission = admission

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self._admission.export(
            lambda: self.inner.export(spans),
            len(spans),
            SpanExportResult.SUCCESS,
            SpanExportResult.FAILURE,
        )


class _CountingLogExporter(DelegatingLogRecordExporter):
    def __init__(self, inner: LogRecordExporter, admission: _Admission) -> None:
        super().__init__(inner)
        self._admission = admission

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        return self._admission.export(
            lambda: self.inner.export(batch),
            len(batch),
            LogRecordExportResult.SUCCESS,
            LogRecordExportResult.FAILURE,
        )


class _GuardedBatch:
    """What the span and log processors share: queue admission, drop counting, and the
    lifecycle of the SDK batch processor each wraps (set as ``_batch`` by the subclass)."""

    _batch: _Batch

    def __init__(self, signal: str, drops: DropCounter, max_queue_size: int) -> None:
        self._admission = _Admission(signal, drops, max_queue_size)

    @staticmethod
    def _batch_options(max_queue_size: int, export_timeout: float) -> dict[str, Any]:
        return {
            "max_queue_size": max_queue_size,
            "max_export_batch_size": min(_BATCH, max_queue_size),
            "export_timeout_millis": export_timeout * 1000,
        }

    @property
    def signal(self) -> str:
        """``"traces"`` or ``"logs"``: the signal drops are counted under."""
        return self._admission.signal

    @property
    def pending(self) -> int:
        """Items queued or being exported."""
        return self._admission.pending

    def shutdown(self) -> None:
        """Export what is queued, then shut the exporter down (blocking; bounded by the caller)."""
        self._admission.closed = True
        self._batch.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Export everything queued now."""
        return self._batch.force_flush(timeout_millis)


class GuardedBatchSpanProcessor(_GuardedBatch, SpanProcessor):
    """A :class:`BatchSpanProcessor` whose queue overflow and export failures are counted."""

    def __init__(
        self,
        exporter: SpanExporter,
        drops: DropCounter,
        *,
        max_queue_size: int = 2048,
        export_timeout: float = 3.0,
    ) -> None:
        super().__init__("traces", drops, max_queue_size)
        self.exporter = exporter
        self._spans = BatchSpanProcessor(
            _CountingSpanExporter(exporter, self._admission),
            **self._batch_options(max_queue_size, export_timeout),
        )
        self._batch = self._spans

    def on_end(self, span: ReadableSpan) -> None:
        """Queue a sampled span, or count it as dropped when the queue is full or closed."""
        if span.context is None or not span.context.trace_flags.sampled:
            return
        if self._admission.admit():
            self._spans.on_end(span)


class GuardedBatchLogRecordProcessor(_GuardedBatch, LogRecordProcessor):
    """A :class:`BatchLogRecordProcessor` whose queue overflow and export failures are counted."""

    def __init__(
        self,
        exporter: LogRecordExporter,
        drops: DropCounter,
        *,
        max_queue_size: int = 2048,
        export_timeout: float = 3.0,
    ) -> None:
        super().__init__("logs", drops, max_queue_size)
        self.exporter = exporter
        self._records = BatchLogRecordProcessor(
            _CountingLogExporter(exporter, self._admission),
            **self._batch_options(max_queue_size, export_timeout),
        )
        self._batch = self._records

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        """Queue the record, or count it as dropped when the queue is full or closed."""
        if self._admission.admit():
            self._records.on_emit(log_record)


class CountingMetricExporter(DelegatingMetricExporter):
    """Delegates to ``inner``, counting the data points of failed exports as dropped."""

    def __init__(self, inner: MetricExporter, drops: DropCounter) -> None:
        super().__init__(inner)
        self._drops = drops

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        """Export, counting points of a failed export under ``signal=metrics``."""
        result = _guarded_export(
            lambda: self.inner.export(metrics_data, timeout_millis=timeout_millis, **kwargs),
            MetricExportResult.FAILURE,
        )
        if result is not MetricExportResult.SUCCESS:
            points = sum(
                len(m.data.data_points)
                for rm in metrics_data.resource_metrics
                for sm in rm.scope_metrics
                for m in sm.metrics
            )
            self._drops.add("metrics", semconv.DROP_REASON_EXPORT_FAILED, points)
        return result
