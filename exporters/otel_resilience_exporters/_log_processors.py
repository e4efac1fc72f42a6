"""Log record processors: redaction, missing timestamps, and log events mirrored onto spans."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk._logs import LogRecordProcessor, ReadWriteLogRecord
from opentelemetry.trace import Link

from otel_resilience import semconv

from ._drops import DropCounter
from ._redaction import Redactor

__all__ = ["EventMirrorProcessor", "RedactingLogRecordProcessor", "TimestampLogRecordProcessor"]

_log = logging.getLogger(__name__)


class RedactingLogRecordProcessor(LogRecordProcessor):
    """Scrubs a log record's body, attributes, event name, resource and scope in place.

    Log records stay mutable until every processor has seen them, and the SDK calls processors
    in the order they were added, so this must be the first processor on the provider (the
    set-up in :func:`~otel_resilience_exporters.build` adds it first). A record whose redaction
    fails has its body and attributes replaced by a marker rather than exported as it is.
    Unless content capture is on, the body of a ``gen_ai.*`` event (a prompt or a response)
    is removed.
    """

    def __init__(self, redactor: Redactor, drops: DropCounter | None = None) -> None:
        self.redactor = redactor
        self._drops = drops

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        """Scrub ``log_record`` in place."""
        record = log_record.log_record
        redactor = self.redactor
        try:
            name = record.event_name
            if name and name.startswith("gen_ai.") and not redactor.options.capture_content:
                record.body = None
            record.body = redactor.scrub_value(record.body)
            if name:
                record.event_name = redactor.scrub_text(name)
            attrs = redactor.scrub_attributes(record.attributes)
            if attrs is not None:
                record.attributes = attrs
            if log_record.resource is not None:
                log_record.resource = redactor.scrub_resource(log_record.resource)
            log_record.instrumentation_scope = redactor.scrub_scope(
                log_record.instrumentation_scope
            )
        except Exception:
            _log.exception("redaction failed; log record content replaced")
            record.body, record.attributes, record.event_name = "[REDACTION FAILED]", {}, None
            if self._drops is not None:
                self._drops.add("logs", semconv.DROP_REASON_REDACTION_FAILED)

    def shutdown(self) -> None:
        """Nothing to release."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is buffered."""
        return True


class TimestampLogRecordProcessor(LogRecordProcessor):
    """Gives a record without a timestamp its observed time (the time it was emitted).

    Exporters then carry a real event time (``time_unix_nano``) instead of null; set up first,
    before any processor that copies the record.
    """

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        """Fill in ``timestamp`` when it is missing."""
        record = log_record.log_record
        if not record.timestamp:
            record.timestamp = record.observed_timestamp or time.time_ns()

    def shutdown(self) -> None:
        """Nothing to release."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is buffered."""
        return True


def _is_resilience_event(name: str) -> bool:
    return name.startswith("resilience.")


class EventMirrorProcessor(LogRecordProcessor):
    """Copies log events (records with an event name) onto spans, for trace-only backends.

    When a span is recording in the record's context the event is added to it (unless that span
    already carries the same event, which the core may add itself). Otherwise a tiny root span
    named after the event is emitted, linked to the current span context when there is one and
    marked ``resilience.event.mirrored=true``; the samplers installed by ``build()`` always keep
    such spans, so an unsampled request still leaves its breaker transition in the trace backend.
    """

    def __init__(
        self,
        tracer_provider: trace.TracerProvider,
        predicate: Callable[[str], bool] = _is_resilience_event,
    ) -> None:
        self._tracer = tracer_provider.get_tracer(semconv.SCOPE_NAME)
        self._predicate = predicate

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        """Mirror ``log_record`` when it is an event the predicate selects (never raises)."""
        try:
            self._mirror(log_record)
        except Exception:
            _log.exception("mirroring a log event onto a span failed")

    def _mirror(self, log_record: ReadWriteLogRecord) -> None:
        record = log_record.log_record
        name = record.event_name
        if not name or not self._predicate(name):
            return
        attrs = dict(record.attributes or {})
        timestamp = record.timestamp or record.observed_timestamp or time.time_ns()
        current = trace.get_current_span(record.context)
        if current.is_recording():
            if not _has_event(current, name, attrs):
                current.add_event(name, attrs, timestamp=timestamp)
            return
        parent = current.get_span_context()
        links = [Link(parent)] if parent.is_valid else None
        span = self._tracer.start_span(
            name,
            context=Context(),
            links=links,
            attributes={**attrs, semconv.MIRRORED_EVENT: True},
            start_time=timestamp,
        )
        span.add_event(name, attrs, timestamp=timestamp)
        span.end(end_time=timestamp)

    def shutdown(self) -> None:
        """Nothing to release."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is buffered."""
        return True


def _has_event(span: Any, name: str, attrs: Mapping[str, Any]) -> bool:
    for event in getattr(span, "events", ()):
        if event.name == name and all(
            (event.attributes or {}).get(k) == v for k, v in attrs.items()
        ):
            return True
    return False
