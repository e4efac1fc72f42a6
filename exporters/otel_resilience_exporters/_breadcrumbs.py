"""BreadcrumbLogProcessor: resilience log events (breaker transitions...) as breadcrumbs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from opentelemetry.sdk._logs import LogRecordProcessor, ReadWriteLogRecord

from otel_resilience import semconv

__all__ = ["BreadcrumbLogProcessor"]

_log = logging.getLogger(__name__)


def _pipeline_event(name: str) -> bool:
    return name.startswith("resilience.") and name != semconv.LOG_EVENT_ERROR


class BreadcrumbLogProcessor(LogRecordProcessor):
    """Adds each resilience log event (breaker transitions, health probes, policy reloads) to
    ``tracker``'s breadcrumb trail, category ``pipeline``, with the event's attributes.

    The SDK calls processors in the thread (and context) that emitted the record, so the
    breadcrumb lands in that context's trail. ``predicate`` picks the event names (by default
    every ``resilience.*`` event but the tracker's own ``resilience.error``).
    """

    def __init__(self, tracker: Any, predicate: Callable[[str], bool] = _pipeline_event) -> None:
        if not callable(getattr(tracker, "breadcrumb", None)):
            raise ValueError(f"tracker must be an ErrorTracker, got {tracker!r}")
        self.tracker = tracker
        self._predicate = predicate

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        """Add the record as a breadcrumb when its event name is selected (never raises)."""
        try:
            name = log_record.log_record.event_name
            if name and self._predicate(name):
                attrs = {str(k): v for k, v in (log_record.log_record.attributes or {}).items()}
                self.tracker.breadcrumb(name, category="pipeline", **attrs)
        except Exception:
            _log.debug("adding a breadcrumb failed", exc_info=True)

    def shutdown(self) -> None:
        """Nothing to release."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is buffered."""
        return True
