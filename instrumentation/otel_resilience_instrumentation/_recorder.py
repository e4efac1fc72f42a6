"""What the resilience-library instrumentors record: the core's retry contract, from outside.

Each instrumentor turns a library's decision (a retry scheduled, a give-up) into the span event
and the ``resilience.events`` point that a core ``Retry`` would have written, with the same
attribute names and the same classifier. Recording never raises into the library's loop: a
broken exporter, a hostile exception or a strange callable costs one debug log line.
"""

from __future__ import annotations

import logging
from typing import Any

from opentelemetry import trace

from otel_resilience import semconv
from otel_resilience._telemetry import Instruments, Telemetry
from otel_resilience._util import error_type, result_error_type
from otel_resilience.classify import DEFAULT_CLASSIFIER, ErrorClassifier

__all__ = ["RetryRecorder", "callable_name", "telemetry_from"]

_log = logging.getLogger(__name__)


def telemetry_from(kwargs: dict[str, Any]) -> Telemetry:
    """The providers given to ``instrument()`` (``None``: the global ones), validated."""
    return Telemetry(
        kwargs.get("tracer_provider"), kwargs.get("meter_provider"), kwargs.get("logger_provider")
    )


def callable_name(fn: object) -> str:
    """``module.qualname`` of ``fn`` (bare for builtins): the pipeline name of its retries.

    The same spelling stamina uses for its own retry hooks, so the three retry libraries name
    one function alike. Bounded cardinality: one value per decorated function in the code.
    """
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    if not isinstance(name, str):
        name = type(fn).__qualname__
    module = getattr(fn, "__module__", None)
    if isinstance(module, str) and module and module != "builtins":
        return f"{module}.{name}"
    return name


class RetryRecorder:
    """Records one library's retries and give-ups as the core's Retry does."""

    __slots__ = ("_classifier", "_strategy", "_telemetry")

    def __init__(self, strategy: str, kwargs: dict[str, Any]) -> None:
        classifier = kwargs.get("classifier")
        if classifier is not None and not isinstance(classifier, ErrorClassifier):
            raise ValueError(f"classifier must be an ErrorClassifier, got {classifier!r}")
        self._strategy = strategy
        self._telemetry = telemetry_from(kwargs)
        self._classifier: ErrorClassifier = classifier or DEFAULT_CLASSIFIER

    def retry(self, pipeline: str, attempt: int, delay: float, outcome: object) -> None:
        """A retry was scheduled after attempt ``attempt`` failed with ``outcome``.

        ``outcome`` is the exception raised, or the value returned that the library retries.
        """
        try:
            self._record(pipeline, attempt, outcome, float(delay), None)
        except Exception:  # telemetry never breaks the library's retry loop
            _log.debug(
                "otel-resilience: recording a %s retry failed", self._strategy, exc_info=True
            )

    def gave_up(self, pipeline: str, attempt: int, outcome: object, reason: str | None) -> None:
        """The library stopped retrying after attempt ``attempt`` (``reason`` when known)."""
        try:
            self._record(pipeline, attempt, outcome, None, reason)
        except Exception:
            _log.debug(
                "otel-resilience: recording a %s give-up failed", self._strategy, exc_info=True
            )

    def _record(
        self,
        pipeline: str,
        attempt: int,
        outcome: object,
        delay: float | None,
        reason: str | None,
    ) -> None:
        inst: Instruments = self._telemetry.instruments()
        span = trace.get_current_span()
        recording = span.is_recording()
        if not recording and inst.events is None:
            return  # nothing listens: skip the classification too
        info = self._classifier.classify(outcome)
        if delay is not None:
            event, span_event = semconv.EVENT_RETRY, semconv.SPAN_EVENT_RETRY
            extra = None
        else:
            event, span_event = semconv.EVENT_RETRY_EXHAUSTED, semconv.SPAN_EVENT_RETRY_EXHAUSTED
            extra = None if reason is None else {semconv.RETRY_REASON: reason}
        # Counted first: a span that fails to take its event must not cost the count too.
        inst.count(pipeline, self._strategy, event, extra)
        if recording:
            if isinstance(outcome, BaseException):
                kind = error_type(outcome)
            else:
                kind = result_error_type(outcome)
            attrs: dict[str, Any] = {
                semconv.ATTEMPT_NUMBER: attempt,
                semconv.ERROR_TYPE: kind,
                semconv.ERROR_CATEGORY: info.category.value,
            }
            if delay is not None:
                attrs[semconv.RETRY_DELAY] = delay
            elif reason is not None:
                attrs[semconv.RETRY_REASON] = reason
            if info.retry_after is not None:
                attrs[semconv.RETRY_REQUESTED_DELAY] = info.retry_after
            span.add_event(span_event, attrs)
