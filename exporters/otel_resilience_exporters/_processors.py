"""Processors: redaction of spans and log records, and log events mirrored as span events."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.context import Context
from opentelemetry.sdk._logs import LogRecordProcessor, ReadWriteLogRecord
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import Link, Status

from otel_resilience import semconv

from ._guard import DropCounter
from ._redaction import Redactor

__all__ = [
    "EventMirrorProcessor",
    "RedactingLogRecordProcessor",
    "RedactingSpanProcessor",
    "RedactingTracerProvider",
    "redact_span",
]

_log = logging.getLogger(__name__)


def _bounded(attrs: Mapping[str, Any], dropped: int) -> BoundedAttributes:
    # Keep the SDK's dropped-attribute count, which exporters report.
    out = BoundedAttributes(attributes=attrs, immutable=True)
    out.dropped = dropped
    return out


def redact_span(span: ReadableSpan, redactor: Redactor) -> ReadableSpan:
    """``span`` itself when nothing matched, else a scrubbed copy (ReadableSpan is immutable).

    Scrubs the name, attributes, status description, event names and attributes (so the
    ``exception.message``/``exception.stacktrace`` of exception events), link attributes, and
    the attributes of the resource and instrumentation scope.
    """
    name = redactor.scrub_text(span.name)
    resource = redactor.scrub_resource(span.resource)
    scope = redactor.scrub_scope(span.instrumentation_scope)
    changed = (
        name is not span.name
        or resource is not span.resource
        or scope is not span.instrumentation_scope
    )
    attributes: Any = span.attributes
    new_attrs = redactor.scrub_attributes(span.attributes)
    if new_attrs is not None:
        attributes, changed = _bounded(new_attrs, span.dropped_attributes), True
    status = span.status
    if status.description:
        desc = redactor.scrub_text(status.description)
        if desc is not status.description:
            status, changed = Status(status.status_code, desc), True
    events: Any = span.events
    new_events = []
    events_changed = False
    for event in span.events:
        ev_name = redactor.scrub_text(event.name)
        ev_attrs = redactor.scrub_attributes(event.attributes)
        if ev_attrs is None and ev_name is event.name:
            new_events.append(event)
            continue
        events_changed = True
        attrs = (
            event.attributes if ev_attrs is None else _bounded(ev_attrs, event.dropped_attributes)
        )
        new_events.append(Event(ev_name, attrs, event.timestamp))
    if events_changed:
        events, changed = _bounded_list(new_events, span.dropped_events), True
    links: Any = span.links
    new_links = []
    links_changed = False
    for link in span.links:
        link_attrs = redactor.scrub_attributes(link.attributes)
        if link_attrs is None:
            new_links.append(link)
        else:
            links_changed = True
            new_links.append(Link(link.context, _bounded(link_attrs, link.dropped_attributes)))
    if links_changed:
        links, changed = _bounded_list(new_links, span.dropped_links), True
    if not changed:
        return span
    return ReadableSpan(
        name=name,
        context=span.context,
        parent=span.parent,
        resource=resource,
        attributes=attributes,
        events=events,
        links=links,
        kind=span.kind,
        status=status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=scope,
    )


def _bounded_list(items: list[Any], dropped: int) -> BoundedList[Any]:
    out = BoundedList.from_seq(None, items)
    out.dropped = dropped
    return out


class RedactingSpanProcessor(SpanProcessor):
    """Scrubs each ended span, then hands the scrubbed copy to the wrapped processors.

    Spans are immutable once ended, so redaction cannot happen in place: every processor that
    exports must be wrapped here (:meth:`add_span_processor`) to see only scrubbed data. A span
    whose redaction fails is dropped (and counted), never exported unscrubbed.
    """

    def __init__(
        self,
        redactor: Redactor,
        processors: Iterable[SpanProcessor] = (),
        drops: DropCounter | None = None,
    ) -> None:
        self.redactor = redactor
        self._processors: list[SpanProcessor] = list(processors)
        self._drops = drops

    def add_span_processor(self, processor: SpanProcessor) -> None:
        """Add a downstream processor; it sees spans after redaction."""
        self._processors = [*self._processors, processor]

    def on_start(self, span: Any, parent_context: Context | None = None) -> None:
        """Forward to the wrapped processors (attributes may still change before the end)."""
        for processor in self._processors:
            processor.on_start(span, parent_context=parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        """Scrub ``span`` and pass the result downstream."""
        try:
            scrubbed = redact_span(span, self.redactor)
        except Exception:
            _log.exception("redaction failed; span dropped")
            if self._drops is not None:
                self._drops.add("traces", semconv.DROP_REASON_REDACTION_FAILED)
            return
        for processor in self._processors:
            processor.on_end(scrubbed)

    def shutdown(self) -> None:
        """Shut every wrapped processor down."""
        for processor in self._processors:
            processor.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Flush every wrapped processor within ``timeout_millis`` in total."""
        deadline = time.monotonic() + timeout_millis / 1000
        ok = True
        for processor in self._processors:
            left = max(0, int((deadline - time.monotonic()) * 1000))
            ok = processor.force_flush(left) and ok
        return ok


class RedactingTracerProvider(TracerProvider):
    """A TracerProvider whose :meth:`add_span_processor` puts processors behind ``redacting``.

    So a processor added the standard SDK way (``provider.add_span_processor(...)``) sees only
    scrubbed spans on end. ``on_start`` still receives the live span: its attributes can change
    until the end, so it cannot be scrubbed there. Without ``redacting``, a plain provider.
    """

    def __init__(self, *, redacting: RedactingSpanProcessor | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._redacting = redacting
        if redacting is not None:
            super().add_span_processor(redacting)

    def add_span_processor(self, span_processor: SpanProcessor) -> None:
        """Register ``span_processor`` downstream of redaction (when redaction is on)."""
        if self._redacting is not None:
            self._redacting.add_span_processor(span_processor)
        else:
            super().add_span_processor(span_processor)


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
        """Mirror ``log_record`` when it is an event the predicate selects."""
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
