"""Telemetry for pybreaker's circuit breakers: ``ResiliencePybreakerInstrumentor``.

pybreaker's listeners are per breaker, so adding one would miss the breakers created before
``instrument()`` (module-level breakers, usually). Every breaker builds its state objects in
one method, ``CircuitBreaker._create_new_state``: once at construction, then for each
transition (with the previous state, under the breaker's lock, as pybreaker notifies its own
listeners). Wrapping that method sees every breaker and every transition, whenever created.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Collection, Iterator
from typing import Any

import wrapt
from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)
from opentelemetry.instrumentation.utils import unwrap
from opentelemetry.metrics import Observation

from otel_resilience import semconv
from otel_resilience._telemetry import Telemetry, track_breaker
from otel_resilience_instrumentation._recorder import telemetry_from

__all__ = ["ResiliencePybreakerInstrumentor"]

_log = logging.getLogger(__name__)

# pybreaker's state names -> ours (pybreaker spells half-open with a hyphen).
_STATES = {
    "closed": semconv.CIRCUIT_STATE_CLOSED,
    "open": semconv.CIRCUIT_STATE_OPEN,
    "half-open": semconv.CIRCUIT_STATE_HALF_OPEN,
}
_EVENT_FOR = {
    semconv.CIRCUIT_STATE_OPEN: semconv.EVENT_CIRCUIT_OPENED,
    semconv.CIRCUIT_STATE_HALF_OPEN: semconv.EVENT_CIRCUIT_HALF_OPENED,
    semconv.CIRCUIT_STATE_CLOSED: semconv.EVENT_CIRCUIT_CLOSED,
}


class _Gauged:
    """One breaker as the core's state gauge sees it: its name and its last known state.

    The gauge reads the state we saw last rather than asking pybreaker, whose state read may
    hit a Redis storage (or itself fire a transition) from the metrics collection thread.
    """

    __slots__ = ("__weakref__", "breaker", "state")

    def __init__(self, breaker: Any, state: str) -> None:
        self.breaker = weakref.ref(breaker)
        self.state = state

    def state_observations(self) -> Iterator[Observation]:
        """Observations for ``resilience.circuit_breaker.state``; none for unnamed breakers."""
        breaker = self.breaker()
        name = getattr(breaker, "name", None)
        if not isinstance(name, str) or not name:
            return  # several unnamed breakers would report contradicting points
        for state in _EVENT_FOR:
            yield Observation(
                1 if state == self.state else 0,
                {semconv.CIRCUIT_BREAKER_NAME: name, semconv.CIRCUIT_BREAKER_STATE: state},
            )


class ResiliencePybreakerInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Records pybreaker transitions as the core's CircuitBreaker does, with the breaker's name.

    Each transition: a ``resilience.circuit_breaker.state_change`` log record (and span event
    on the current span), a ``resilience.events`` point; every breaker created or changing
    state while instrumented is reported by the ``resilience.circuit_breaker.state`` gauge.
    ``instrument(tracer_provider=..., meter_provider=..., logger_provider=...)``.
    """

    _gauged: weakref.WeakKeyDictionary[Any, _Gauged] | None = None

    def instrumentation_dependencies(self) -> Collection[str]:
        """``_create_new_state(new_state, prev_state, notify)`` since pybreaker 1.0."""
        return ("pybreaker >= 1.0",)

    def _instrument(self, **kwargs: Any) -> None:
        import pybreaker

        telemetry = telemetry_from(kwargs)
        meter_provider = telemetry.providers[1]
        # Keeps each breaker's gauge entry alive exactly as long as the breaker (and until
        # uninstrument(): the core's gauge holds them weakly).
        gauged: weakref.WeakKeyDictionary[Any, _Gauged] = weakref.WeakKeyDictionary()
        self._gauged = gauged

        def create_new_state(
            wrapped: Callable[..., Any], instance: Any, args: Any, kw: dict[str, Any]
        ) -> Any:
            new = wrapped(*args, **kw)
            prev = kw.get("prev_state", args[1] if len(args) > 1 else None)
            notify = kw.get("notify", args[2] if len(args) > 2 else False)
            try:
                _seen(telemetry, meter_provider, gauged, instance, prev if notify else None, new)
            except Exception:  # telemetry never breaks the breaker
                _log.debug("otel-resilience: recording a pybreaker state failed", exc_info=True)
            return new

        wrapt.wrap_function_wrapper(pybreaker.CircuitBreaker, "_create_new_state", create_new_state)

    def _uninstrument(self, **kwargs: Any) -> None:
        import pybreaker

        unwrap(pybreaker.CircuitBreaker, "_create_new_state")
        if self._gauged is not None:
            self._gauged.clear()  # the gauge stops reporting these breakers
        self._gauged = None


def _seen(
    telemetry: Telemetry,
    meter_provider: Any,
    gauged: weakref.WeakKeyDictionary[Any, _Gauged],
    breaker: Any,
    prev: Any,
    new: Any,
) -> None:
    """``breaker`` now has state object ``new``; a transition from ``prev`` when given."""
    state = _STATES.get(getattr(new, "name", None))  # type: ignore[arg-type]
    if state is None:
        return
    entry = gauged.get(breaker)
    if entry is None:
        gauged[breaker] = entry = _Gauged(breaker, state)
        track_breaker(meter_provider, entry)
    entry.state = state
    previous = _STATES.get(getattr(prev, "name", None))  # type: ignore[arg-type]
    if previous is None or previous == state:
        return  # construction, or a "transition" to the state it was in: no change
    name = breaker.name if isinstance(breaker.name, str) and breaker.name else None
    name = name or semconv.STRATEGY_PYBREAKER
    attrs = {
        semconv.CIRCUIT_BREAKER_NAME: name,
        semconv.CIRCUIT_BREAKER_PREVIOUS_STATE: previous,
        semconv.CIRCUIT_BREAKER_STATE: state,
    }
    inst = telemetry.instruments()
    inst.emit_event(semconv.LOG_EVENT_CIRCUIT_STATE_CHANGE, attrs)
    inst.count(name, semconv.STRATEGY_PYBREAKER, _EVENT_FOR[state])
    span = trace.get_current_span()  # last: a broken span must not cost the record or count
    if span.is_recording():
        span.add_event(semconv.SPAN_EVENT_CIRCUIT_STATE_CHANGE, attrs)
