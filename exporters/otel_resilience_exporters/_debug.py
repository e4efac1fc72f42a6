"""DebugCollector: recent spans and log records in a bounded ring, whole traces on demand."""

from __future__ import annotations

import copy
import logging
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk._logs import LogRecordProcessor, ReadableLogRecord, ReadWriteLogRecord
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

from ._redaction import Redactor

__all__ = ["DebugCollector", "span_facts"]

_log = logging.getLogger(__name__)

Predicate = Callable[[Mapping[str, Any]], bool]


def span_facts(span: ReadableSpan) -> dict[str, Any]:
    """What a capture predicate sees: the span's attributes plus ``name``, ``status`` (``OK``,
    ``ERROR``, ``UNSET``) and ``duration`` (seconds)."""
    facts: dict[str, Any] = dict(span.attributes or {})
    facts["name"] = span.name
    facts["status"] = span.status.status_code.name
    if span.start_time is not None and span.end_time is not None:
        facts["duration"] = (span.end_time - span.start_time) / 1e9
    return facts


class DebugCollector(SpanProcessor, LogRecordProcessor):
    """A span and log record processor keeping recent telemetry for inspection.

    Add it to a TracerProvider (``add_span_processor``) and, for log records, to a
    LoggerProvider (``add_log_record_processor``). It keeps the last ``max_spans`` spans and
    ``max_logs`` log records (a ring: constant memory, an append per item). When ``capture``
    (a predicate over :func:`span_facts`, e.g. ``lambda s: s.get("error.type") ==
    "openai.RateLimitError" and s.get("resilience.attempts", 0) > 2``) matches an ended span,
    the whole trace is kept apart: the spans and logs of it still in the ring, and those that
    end later, for the ``max_traces`` most recent matching traces. A predicate that raises is
    a no-match. ``active=False`` makes every callback return at once.

    Nothing is scrubbed on the hot path: :meth:`export` and the bundle scrub with ``redactor``.
    """

    def __init__(
        self,
        *,
        max_spans: int = 2000,
        max_logs: int = 2000,
        capture: Predicate | None = None,
        max_traces: int = 50,
        max_trace_items: int = 1000,
        redactor: Redactor | None = None,
        active: bool = True,
    ) -> None:
        for name, value in (
            ("max_spans", max_spans),
            ("max_logs", max_logs),
            ("max_traces", max_traces),
            ("max_trace_items", max_trace_items),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int; got {value!r}")
        if capture is not None and not callable(capture):
            raise ValueError(f"capture must be callable; got {capture!r}")
        self.capture = capture
        self.active = bool(active)
        self.redactor = redactor or Redactor()
        self._spans: deque[ReadableSpan] = deque(maxlen=max_spans)
        self._logs: deque[ReadableLogRecord] = deque(maxlen=max_logs)
        self._kept: OrderedDict[int, tuple[list[ReadableSpan], list[ReadableLogRecord]]] = (
            OrderedDict()
        )
        self._max_traces = max_traces
        self._max_items = max_trace_items
        self._lock = threading.Lock()

    # -- span processor ------------------------------------------------------------------------

    def on_start(self, span: Any, parent_context: Context | None = None) -> None:
        """Nothing to do before a span ends."""

    def on_end(self, span: ReadableSpan) -> None:
        """Keep ``span`` in the ring (and with its trace when that trace is kept)."""
        if not self.active:
            return
        trace_id = span.context.trace_id if span.context is not None else 0
        with self._lock:
            self._spans.append(span)
            kept = self._kept.get(trace_id)
            if kept is not None and len(kept[0]) < self._max_items:
                kept[0].append(span)
        if kept is None and self.capture is not None and self._matches(span):
            self._keep(trace_id)

    def _matches(self, span: ReadableSpan) -> bool:
        try:
            return bool(self.capture(span_facts(span)))  # type: ignore[misc]
        except Exception:
            _log.debug("debug capture predicate raised", exc_info=True)
            return False

    def _keep(self, trace_id: int) -> None:
        with self._lock:
            if trace_id in self._kept:
                return
            spans = [s for s in self._spans if s.context and s.context.trace_id == trace_id]
            logs = [r for r in self._logs if r.log_record.trace_id == trace_id]
            self._kept[trace_id] = (spans[-self._max_items :], logs[-self._max_items :])
            while len(self._kept) > self._max_traces:
                self._kept.popitem(last=False)

    # -- log record processor ------------------------------------------------------------------

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        """Keep a read-only copy of ``log_record`` (without its context) in the ring."""
        if not self.active:
            return
        record = copy.copy(log_record.log_record)
        record.context = Context()  # do not keep whatever the context referenced alive
        readable = ReadableLogRecord(
            log_record=record,
            resource=log_record.resource or Resource.create({}),
            instrumentation_scope=log_record.instrumentation_scope,
        )
        with self._lock:
            self._logs.append(readable)
            kept = self._kept.get(record.trace_id or 0)
            if kept is not None and len(kept[1]) < self._max_items:
                kept[1].append(readable)

    # -- reading -------------------------------------------------------------------------------

    def spans(self) -> list[ReadableSpan]:
        """The spans in the ring, oldest first (not scrubbed)."""
        with self._lock:
            return list(self._spans)

    def logs(self) -> list[ReadableLogRecord]:
        """The log records in the ring, oldest first (not scrubbed)."""
        with self._lock:
            return list(self._logs)

    def kept_traces(self) -> dict[str, tuple[list[ReadableSpan], list[ReadableLogRecord]]]:
        """The traces kept by ``capture``, by hex trace id, oldest first."""
        with self._lock:
            return {format(k, "032x"): (list(s), list(r)) for k, (s, r) in self._kept.items()}

    def requests(self) -> list[dict[str, Any]]:
        """The request inspector: HTTP and LLM client calls among the spans in the ring."""
        from ._inspect import inspect_requests

        return inspect_requests(self.spans(), self.redactor)

    def clear(self) -> None:
        """Forget everything collected."""
        with self._lock:
            self._spans.clear()
            self._logs.clear()
            self._kept.clear()

    def export(self, path: Any, **sources: Any) -> None:
        """Write a debug bundle (zip) to ``path``; ``sources`` as for
        :func:`~otel_resilience_exporters.debug_bundle_bytes`."""
        from ._bundle import debug_bundle_bytes

        data = debug_bundle_bytes(self, **sources)
        with open(path, "wb") as f:
            f.write(data)

    def shutdown(self) -> None:
        """Nothing to release."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is buffered for export."""
        return True
