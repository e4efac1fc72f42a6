"""``pretty``: a compact, human console exporter for development, one line per pipeline call.

Example (coloured on a terminal)::

    14:02:11.482 payments.charge failure 3 attempts 1.23s | retry 1 in 0.20s after
    TimeoutError (timeout) | ... | gave up | breaker payments: closed -> open

Spans that are not pipeline calls get a shorter line (name, status, duration). The SDK's raw
console exporter stays available as ``console``.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, Final, TextIO

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import StatusCode

from otel_resilience import semconv

from ._drops import reset_in_child
from ._env import raw

__all__ = ["PrettySpanExporter", "format_span"]

_RESET: Final = "\033[0m"
_COLOURS: Final[Mapping[str, str]] = {
    semconv.OUTCOME_SUCCESS: "\033[32m",  # green
    semconv.OUTCOME_FAILURE: "\033[31m",  # red
    semconv.OUTCOME_REJECTED: "\033[33m",  # yellow
    semconv.OUTCOME_FALLBACK: "\033[36m",  # cyan
    semconv.CIRCUIT_STATE_OPEN: "\033[31m",
    semconv.CIRCUIT_STATE_HALF_OPEN: "\033[33m",
    semconv.CIRCUIT_STATE_CLOSED: "\033[32m",
    "name": "\033[1m",  # bold
    "dim": "\033[2m",
}


def _paint(text: str, key: str, colour: bool) -> str:
    code = _COLOURS.get(key) if colour else None
    return f"{code}{text}{_RESET}" if code else text


def _duration(nanos: int | None) -> str:
    if nanos is None:
        return "?"
    seconds = nanos / 1e9
    return f"{seconds * 1000:.1f}ms" if seconds < 1 else f"{seconds:.2f}s"


def _seconds(value: Any) -> str:
    return f"{value:.2f}s" if isinstance(value, (int, float)) else "?"


def _cause(attrs: Mapping[str, Any]) -> str:
    error = attrs.get(semconv.ERROR_TYPE)
    category = attrs.get(semconv.ERROR_CATEGORY)
    if error is None:
        return ""
    return f"{error} ({category})" if category else str(error)


def _details(span: ReadableSpan, colour: bool) -> list[str]:
    out = []
    for event in span.events:
        attrs = event.attributes or {}
        if event.name == semconv.SPAN_EVENT_RETRY:
            number = attrs.get(semconv.ATTEMPT_NUMBER, "?")
            delay = _seconds(attrs.get(semconv.RETRY_DELAY))
            cause = _cause(attrs)
            out.append(f"retry {number} in {delay}" + (f" after {cause}" if cause else ""))
        elif event.name == semconv.SPAN_EVENT_RETRY_EXHAUSTED:
            out.append("gave up")
        elif event.name == semconv.SPAN_EVENT_CIRCUIT_STATE_CHANGE:
            name = attrs.get(semconv.CIRCUIT_BREAKER_NAME, "?")
            old = str(attrs.get(semconv.CIRCUIT_BREAKER_PREVIOUS_STATE, "?"))
            new = str(attrs.get(semconv.CIRCUIT_BREAKER_STATE, "?"))
            out.append(f"breaker {name}: {_paint(old, old, colour)} -> {_paint(new, new, colour)}")
        elif event.name == semconv.SPAN_EVENT_CIRCUIT_REJECTED:
            name = attrs.get(semconv.CIRCUIT_BREAKER_NAME, "?")
            after = attrs.get(semconv.CIRCUIT_BREAKER_RETRY_AFTER)
            wait = f" (retry after {_seconds(after)})" if after is not None else ""
            out.append(f"rejected by breaker {name}{wait}")
    return out


def format_span(span: ReadableSpan, colour: bool = False) -> str:
    """The line :class:`PrettySpanExporter` writes for ``span`` (without the newline)."""
    attrs = span.attributes or {}
    started = (span.start_time or 0) / 1e9
    clock = (
        time.strftime("%H:%M:%S", time.localtime(started)) + f".{int(started * 1000) % 1000:03d}"
    )
    took = _duration(span.end_time - span.start_time if span.end_time and span.start_time else None)
    name = _paint(span.name, "name", colour)
    outcome = attrs.get(semconv.OUTCOME)
    if attrs.get(semconv.PIPELINE_NAME) is None and outcome is None:
        status = " error" if span.status.status_code is StatusCode.ERROR else ""
        return _paint(f"{clock} {span.name}{status} {took}", "dim", colour)
    outcome = str(outcome or "?")
    attempts = attrs.get(semconv.ATTEMPTS)
    head = [clock, name, _paint(outcome, outcome, colour)]
    if isinstance(attempts, int):
        head.append(f"{attempts} attempt" + ("" if attempts == 1 else "s"))
    head.append(took)
    parts = [" ".join(head), *_details(span, colour)]
    if outcome != semconv.OUTCOME_SUCCESS and _cause(attrs):
        parts.append(f"error {_cause(attrs)}")
    return " | ".join(parts)


class PrettySpanExporter(SpanExporter):
    """Writes one compact line per span to ``out`` (default: ``sys.stderr``, looked up at each
    export), coloured when ``out`` is a terminal and ``NO_COLOR`` is not set.

    ``colour`` forces colours on or off.
    """

    def __init__(self, out: TextIO | None = None, *, colour: bool | None = None) -> None:
        self._out = out
        self._colour = colour
        self._lock = threading.Lock()
        self._closed = False
        reset_in_child(self)

    def reset_after_fork(self) -> None:
        """In a forked child: a fresh lock (another thread may have held it at fork)."""
        self._lock = threading.Lock()

    def _use_colour(self, stream: TextIO) -> bool:
        if self._colour is not None:
            return self._colour
        if raw("NO_COLOR"):
            return False
        isatty = getattr(stream, "isatty", None)
        return bool(isatty()) if callable(isatty) else False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Write the lines; FAILURE when the stream cannot be written."""
        if self._closed:
            return SpanExportResult.FAILURE
        stream = self._out if self._out is not None else sys.stderr
        try:
            colour = self._use_colour(stream)
            text = "".join(format_span(span, colour) + "\n" for span in spans)
            with self._lock:
                stream.write(text)
                stream.flush()
        except Exception:  # a closed or broken stream: count the loss, never raise
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """Refuse further exports."""
        self._closed = True

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Each export is written through."""
        return True
