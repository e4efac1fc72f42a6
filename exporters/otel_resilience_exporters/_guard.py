"""Bounded, failure-counting export: telemetry is dropped (and counted), never blocks the app."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

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
from ._drops import DropCounter, ExportFailureLog, reset_in_child

if TYPE_CHECKING:
    from ._redaction import Redactor

__all__ = ["DropCounter", "GuardedBatchLogRecordProcessor", "GuardedBatchSpanProcessor"]

_BATCH = 512
_R = TypeVar("_R")
_log = logging.getLogger(__name__)


class _Batch(Protocol):
    """What the guarded processors need of the SDK batch processor they wrap."""

    def shutdown(self) -> None: ...

    def force_flush(self, timeout_millis: int = 30000) -> bool: ...


def _guarded_export(
    signal: str,
    export: Callable[[], _R],
    success: _R,
    failure: _R,
    failure_log: ExportFailureLog | None,
) -> _R:
    def run() -> _R:
        try:
            return export()
        except Exception:  # a failing exporter is counted by the caller, never propagated
            _log.debug("%s export raised", signal, exc_info=True)
            return failure

    if failure_log is None:
        return run()
    return failure_log.export(signal, run, lambda result: result is success)


class _Admission:
    """Slots in one batch processor's queue, and the drop counting around them.

    Items handed to the processor and not yet returned by its exporter are kept at or below the
    processor's queue size, so the SDK queue can never overflow silently: the overflow is
    refused (and counted) here instead.
    """

    def __init__(
        self,
        signal: str,
        drops: DropCounter,
        limit: int,
        failure_log: ExportFailureLog | None = None,
    ) -> None:
        self.signal = signal
        self.closed = False
        self.failure_log = failure_log
        self.drops = self._drops = drops
        self._limit = limit
        self._n = 0
        self._lock = threading.Lock()
        reset_in_child(self)

    def reset_after_fork(self) -> None:
        """In a forked child: the SDK emptied the queue, so every slot is free again."""
        self._lock = threading.Lock()
        self._n = 0

    def release(self, n: int) -> None:
        """Free ``n`` slots of items that will not be exported (counted by the caller)."""
        with self._lock:
            self._n = max(0, self._n - n)

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
            result = _guarded_export(self.signal, export, success, failure, self.failure_log)
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
    def __init__(
        self, inner: SpanExporter, admission: _Admission, redactor: Redactor | None
    ) -> None:
        super().__init__(inner)
        self._admission = admission
        self.redactor = redactor

    def _scrubbed(self, spans: Sequence[ReadableSpan]) -> Sequence[ReadableSpan]:
        from ._processors import redact_span  # the processors module imports this one

        out = []
        for span in spans:
            try:
                out.append(redact_span(span, self.redactor))  # type: ignore[arg-type]
            except Exception:
                _log.exception("redaction failed; span dropped")
        failed = len(spans) - len(out)
        if failed:
            self._admission.release(failed)
            self._admission.drops.add("traces", semconv.DROP_REASON_REDACTION_FAILED, failed)
        return out

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        # Redaction happens here, on the export thread: the caller's span.end() only queues.
        if self.redactor is not None:
            spans = self._scrubbed(spans)
            if not spans:
                return SpanExportResult.SUCCESS
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

    def __init__(
        self,
        signal: str,
        exporter: Any,
        drops: DropCounter,
        max_queue_size: int,
        failure_log: ExportFailureLog | None,
    ) -> None:
        self.exporter = exporter
        self._admission = _Admission(signal, drops, max_queue_size, failure_log)
        if failure_log is not None:
            failure_log.watch(exporter)

    @staticmethod
    def _batch_options(max_queue_size: int, export_timeout: float) -> dict[str, Any]:
        return {
            "max_queue_size": max_queue_size,
            "max_export_batch_size": min(_BATCH, max_queue_size),
            "export_timeout_millis": export_timeout * 1000,
        }

    def _drops_add(self, reason: str) -> None:
        _log.debug("queueing a %s item failed", self.signal, exc_info=True)
        self._admission.drops.add(self.signal, reason)

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
    """A :class:`BatchSpanProcessor` whose queue overflow and export failures are counted.

    With a ``redactor``, spans are scrubbed on the export thread just before export (a span
    whose redaction fails is dropped and counted), so ``span.end()`` only queues the span:
    :class:`~otel_resilience_exporters.RedactingSpanProcessor` hands such a processor the span
    as it is.
    """

    def __init__(
        self,
        exporter: SpanExporter,
        drops: DropCounter,
        *,
        max_queue_size: int = 2048,
        export_timeout: float = 3.0,
        redactor: Redactor | None = None,
        failure_log: ExportFailureLog | None = None,
    ) -> None:
        super().__init__("traces", exporter, drops, max_queue_size, failure_log)
        self._counting = _CountingSpanExporter(exporter, self._admission, redactor)
        self._spans = BatchSpanProcessor(
            self._counting,
            **self._batch_options(max_queue_size, export_timeout),
        )
        self._batch = self._spans

    @property
    def redactor(self) -> Redactor | None:
        """The redactor applied on the export thread, if any."""
        return self._counting.redactor

    def on_end(self, span: ReadableSpan) -> None:
        """Queue a sampled span, or count it as dropped when the queue is full or closed."""
        if span.context is None or not span.context.trace_flags.sampled:
            return
        if self._admission.admit():
            try:
                self._spans.on_end(span)
            except Exception:  # never into the caller's span.end()
                self._admission.release(1)
                self._drops_add(semconv.DROP_REASON_EXPORT_FAILED)


class GuardedBatchLogRecordProcessor(_GuardedBatch, LogRecordProcessor):
    """A :class:`BatchLogRecordProcessor` whose queue overflow and export failures are counted."""

    def __init__(
        self,
        exporter: LogRecordExporter,
        drops: DropCounter,
        *,
        max_queue_size: int = 2048,
        export_timeout: float = 3.0,
        failure_log: ExportFailureLog | None = None,
    ) -> None:
        super().__init__("logs", exporter, drops, max_queue_size, failure_log)
        self._records = BatchLogRecordProcessor(
            _CountingLogExporter(exporter, self._admission),
            **self._batch_options(max_queue_size, export_timeout),
        )
        self._batch = self._records

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        """Queue the record, or count it as dropped when the queue is full or closed."""
        if self._admission.admit():
            try:
                self._records.on_emit(log_record)
            except Exception:  # never into the caller's emit()
                self._admission.release(1)
                self._drops_add(semconv.DROP_REASON_EXPORT_FAILED)


class CountingMetricExporter(DelegatingMetricExporter):
    """Delegates to ``inner``, counting the data points of failed exports as dropped."""

    def __init__(
        self,
        inner: MetricExporter,
        drops: DropCounter,
        failure_log: ExportFailureLog | None = None,
    ) -> None:
        super().__init__(inner)
        self._drops = drops
        self._failure_log = failure_log
        if failure_log is not None:
            failure_log.watch(inner)

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        """Export, counting points of a failed export under ``signal=metrics``."""
        result = _guarded_export(
            "metrics",
            lambda: self.inner.export(metrics_data, timeout_millis=timeout_millis, **kwargs),
            MetricExportResult.SUCCESS,
            MetricExportResult.FAILURE,
            self._failure_log,
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
