"""Span redaction: the redacting processor, the provider that puts processors behind it."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import Link, Status

from otel_resilience import semconv

from ._drops import DropCounter
from ._guard import GuardedBatchSpanProcessor
from ._redaction import Redactor

__all__ = ["RedactingSpanProcessor", "RedactingTracerProvider", "redact_span"]

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


def _scrubs_itself(processor: SpanProcessor, redactor: Redactor) -> bool:
    # Our batch processors scrub on their export thread with the same redactor.
    return isinstance(processor, GuardedBatchSpanProcessor) and processor.redactor is redactor


class RedactingSpanProcessor(SpanProcessor):
    """Scrubs each ended span, then hands the scrubbed copy to the wrapped processors.

    Spans are immutable once ended, so redaction cannot happen in place: every processor that
    exports must be wrapped here (:meth:`add_span_processor`) to see only scrubbed data. A span
    whose redaction fails is dropped (and counted), never exported unscrubbed. A wrapped
    :class:`GuardedBatchSpanProcessor` built with the same redactor gets the span as it is and
    scrubs it on its export thread, so ``span.end()`` does not pay for redaction. A wrapped
    processor that raises is logged and skipped: it never fails the caller's span.
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
            try:
                processor.on_start(span, parent_context=parent_context)
            except Exception:
                _log.exception("span processor %r failed in on_start", processor)

    def on_end(self, span: ReadableSpan) -> None:
        """Scrub ``span`` and pass the result downstream."""
        scrubbed: ReadableSpan | None = None
        failed = False
        for processor in self._processors:
            try:
                if _scrubs_itself(processor, self.redactor):
                    processor.on_end(span)
                    continue
                if scrubbed is None and not failed:
                    scrubbed = self._scrub(span)
                    failed = scrubbed is None
                if scrubbed is not None:
                    processor.on_end(scrubbed)
            except Exception:
                _log.exception("span processor %r failed in on_end", processor)

    def _scrub(self, span: ReadableSpan) -> ReadableSpan | None:
        try:
            return redact_span(span, self.redactor)
        except Exception:
            _log.exception("redaction failed; span dropped")
            if self._drops is not None:
                self._drops.add("traces", semconv.DROP_REASON_REDACTION_FAILED)
            return None

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
