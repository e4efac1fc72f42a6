"""The CLIENT span and the duration measurement of one HTTP attempt; never raises."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from opentelemetry import baggage, metrics, propagate, trace
from opentelemetry import context as otel_context
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.trace import INVALID_SPAN, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation import _SPAN_KEY
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from otel_resilience import semconv
from otel_resilience._telemetry import (
    _FAST_GLOBALS,
    _NOOP_METER_PROVIDERS,
    _NOOP_TRACER_PROVIDERS,
    _globals,
)
from otel_resilience._util import error_type
from otel_resilience_instrumentation._http.attrs import Target, dup_old_names
from otel_resilience_instrumentation._http.lane import _current
from otel_resilience_instrumentation._http.types import HttpRequest

if _FAST_GLOBALS:  # the API modules holding the global providers
    import opentelemetry.metrics._internal as _metrics_state
    import opentelemetry.trace as _trace_state

__all__ = ["AttemptRecord", "HttpTelemetry"]

try:  # the key suppress_http_instrumentation() sets
    from opentelemetry.context import _SUPPRESS_HTTP_INSTRUMENTATION_KEY as _SUPPRESS_HTTP
except ImportError:  # pragma: no cover - an API that moved it
    from opentelemetry.instrumentation.utils import (  # type: ignore[attr-defined]
        _SUPPRESS_HTTP_INSTRUMENTATION_KEY as _SUPPRESS_HTTP,
    )

try:  # the key the API keeps baggage under: read directly, baggage.get_all() costs 3 frames
    from opentelemetry.baggage import _BAGGAGE_KEY

    def _baggage_in(ctx: otel_context.Context) -> object:
        """The context's baggage (truthy when there is some to propagate)."""
        return ctx.get(_BAGGAGE_KEY)

except ImportError:  # pragma: no cover - an API that moved it
    _baggage_in = baggage.get_all  # type: ignore[assignment]

_log = logging.getLogger(__name__)
_UNSET = object()
#: Requests whose attributes are remembered per instrumentor; cleared when this many.
_MAX_KNOWN = 1024


class HttpTelemetry:
    """The tracer and the duration histogram of one instrumentor (global providers by default).

    Resolved the way the core resolves its own instruments: once for explicit providers, and
    for the global ones again only when a global provider object changes. A provider that
    cannot record (the API's no-op and proxy providers, before an SDK is installed) resolves to
    ``None``, so a request costs no span and no measurement then.
    """

    __slots__ = ("_key", "_known", "_providers", "_records", "dup", "duration", "tracer")

    def __init__(self, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        self._providers = (tracer_provider, meter_provider)
        #: The global (tracer, meter) providers resolved last (``None`` while no global one
        #: was set); the first read never matches it.
        self._key: tuple[object, object] = (_UNSET, _UNSET)
        self._records = False
        self.tracer: trace.Tracer | None = None
        self.duration: metrics.Histogram | None = None
        #: Old attribute names too (OTEL_SEMCONV_STABILITY_OPT_IN=http/dup), read once.
        self.dup = dup_old_names()
        #: (method, URL, host, port, scheme) -> what :meth:`_attributes` returns; read only.
        self._known: dict[tuple[Any, ...], tuple[str, dict[str, Any], dict[str, Any]]] = {}

    def _resolve(self) -> None:
        current = _globals()
        key = (current[0], current[1])
        if key is self._key or key == self._key:
            return
        tp = self._providers[0] if self._providers[0] is not None else current[0]
        mp = self._providers[1] if self._providers[1] is not None else current[1]
        version = _version()
        tracer = None
        if tp is not None and not isinstance(tp, _NOOP_TRACER_PROVIDERS):
            tracer = tp.get_tracer(semconv.HTTP_SCOPE_NAME, version)  # type: ignore[union-attr]
            if isinstance(tracer, trace.NoOpTracer):
                tracer = None
        duration = None
        if mp is not None and not isinstance(mp, _NOOP_METER_PROVIDERS):
            meter = mp.get_meter(semconv.HTTP_SCOPE_NAME, version)  # type: ignore[union-attr]
            if not isinstance(meter, metrics.NoOpMeter):
                duration = meter.create_histogram(
                    semconv.METRIC_HTTP_CLIENT_REQUEST_DURATION,
                    unit="s",
                    description="Duration of HTTP client requests (one per attempt).",
                    explicit_bucket_boundaries_advisory=list(semconv.HTTP_DURATION_BUCKETS),
                )
        self.tracer, self.duration, self._key = tracer, duration, key
        self._records = tracer is not None or duration is not None

    def records(self) -> bool:
        """Whether a span or a measurement would be recorded now (a broken provider: no)."""
        key = self._key
        if _FAST_GLOBALS:  # _globals()'s first two, inline: this runs for every request
            changed = (
                _trace_state._TRACER_PROVIDER is not key[0]
                or _metrics_state._METER_PROVIDER is not key[1]
            )
        else:  # pragma: no cover - an API without the module globals
            current = _globals()
            changed = current[0] is not key[0] or current[1] is not key[1]
        if changed:
            try:
                self._resolve()
            except Exception:  # a broken provider: no telemetry, the request still goes
                _log.debug("otel-resilience: resolving the HTTP instruments failed", exc_info=True)
                return False
        return self._records

    def start(
        self, request: HttpRequest, target: Callable[[], Target], resend_count: int
    ) -> AttemptRecord:
        """Start the attempt's CLIENT span (under the current span) and its stopwatch; call it
        only when :meth:`records` just said something records (it resolved the instruments).
        ``target`` gives the request's :class:`Target`, asked for only when the request's
        attributes are not remembered yet."""
        tracer = self.tracer
        span: Any = INVALID_SPAN
        parent = _current()  # read once: the span's parent and its context's
        try:
            name, span_attrs, metric_attrs = self._attributes(request, target)
        except Exception:  # a URL object whose str() raises: no span, still a measurement
            _log.debug("otel-resilience: the HTTP attributes failed", exc_info=True)
            return AttemptRecord(self, target().metric_attributes(), span, parent)
        if tracer is not None:
            try:
                attrs = {**span_attrs}  # the remembered dict is never handed out
                if resend_count:
                    attrs[semconv.HTTP_REQUEST_RESEND_COUNT] = resend_count
                span = tracer.start_span(name, parent, kind=SpanKind.CLIENT, attributes=attrs)
            except Exception:  # a raising sampler or processor: no span, the request goes
                _log.debug("otel-resilience: starting the HTTP span failed", exc_info=True)
        return AttemptRecord(self, metric_attrs, span, parent)

    def _attributes(
        self, request: HttpRequest, target: Callable[[], Target]
    ) -> tuple[str, dict[str, Any], dict[str, Any]]:
        """The span name, span and metric attributes of ``request``, remembered (bounded) for
        a string URL, by what the adapter described (no Target is built for a known one): a
        client sends the same few requests again and again."""
        raw = request.url
        if type(raw) is not str:  # a client's URL object: its str() would cost as much
            t = target()
            return t.span_name, t.span_attributes(self.dup), t.metric_attributes()
        key = (request.method, raw, request.host, request.port, request.scheme)
        known = self._known.get(key)
        if known is None:
            if len(self._known) >= _MAX_KNOWN:
                self._known.clear()
            t = target()
            known = (t.span_name, t.span_attributes(self.dup), t.metric_attributes())
            self._known[key] = known
        return known


class AttemptRecord:
    """One attempt's span and measurement; finished once, by whichever path comes first."""

    __slots__ = ("_context", "_metric", "_parent", "_started", "_telemetry", "ended", "span")

    def __init__(
        self,
        telemetry: HttpTelemetry,
        metric: dict[str, Any],
        span: Any,
        parent: otel_context.Context | None = None,
    ) -> None:
        self._telemetry = telemetry
        self.span = span
        self._metric = metric  # the duration's attributes known before the response; read only
        self._started = time.perf_counter()
        self.ended = False
        self._parent = parent
        self._context: otel_context.Context | None = None

    def headers(self) -> dict[str, str]:
        """W3C trace context (and baggage) with this attempt's span as the parent."""
        carrier: dict[str, str] = {}
        try:
            ctx = self.context()
            if _plain_w3c(propagate.get_global_textmap()):
                sc = self.span.get_span_context()
                # What the default propagators write when the span has no trace state and
                # there is no baggage: the traceparent alone, at half propagate.inject's cost.
                if sc.is_valid and not sc.trace_state and not _baggage_in(ctx):
                    carrier["traceparent"] = (
                        f"00-{sc.trace_id:032x}-{sc.span_id:016x}-{sc.trace_flags:02x}"
                    )
                    return carrier
            propagate.inject(carrier, context=ctx)
        except Exception:
            _log.debug("otel-resilience: injecting trace context failed", exc_info=True)
        return carrier

    def context(self) -> otel_context.Context:
        """The context the attempt is sent in: its parent's with this attempt's span current
        and HTTP instrumentation suppressed (a contrib instrumentor further in stays quiet).
        Built once, in one copy: :meth:`headers` injects from it."""
        ctx = self._context
        if ctx is None:
            parent = self._parent
            if parent is None:
                parent = otel_context.get_current()
            # what set_span_in_context() then set_value() give, without the middle copy
            values = {**parent, _SPAN_KEY: self.span, _SUPPRESS_HTTP: True}
            self._context = ctx = otel_context.Context(values)
        return ctx

    def responded(self, status: int | None, protocol: str | None) -> None:
        """The response headers arrived: record status, protocol and the duration."""
        try:
            attrs: dict[str, Any] = {}
            if status is not None:
                attrs[semconv.HTTP_RESPONSE_STATUS_CODE] = status
                if status >= 400:
                    attrs[semconv.ERROR_TYPE] = str(status)
            if protocol:
                attrs[semconv.NETWORK_PROTOCOL_VERSION] = protocol
            self._measure(attrs)
            if self.span.is_recording():
                if status is not None and self._telemetry.dup:
                    attrs[semconv.OLD_HTTP_STATUS_CODE] = status
                self.span.set_attributes(attrs)
                if status is not None and status >= 400:
                    self.span.set_status(Status(StatusCode.ERROR))
        except Exception:
            _log.debug("otel-resilience: recording the HTTP response failed", exc_info=True)

    def failed(self, exc: BaseException) -> None:
        """The attempt raised before a response: record the error, measure, end the span."""
        try:
            kind = error_type(exc)
            self._measure({semconv.ERROR_TYPE: kind})
            if self.span.is_recording():
                self.span.set_attribute(semconv.ERROR_TYPE, kind)
                self.span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
        except Exception:
            _log.debug("otel-resilience: recording the HTTP error failed", exc_info=True)
        self.end()

    def body_done(self, exc: BaseException | None = None) -> None:
        """The response body was consumed, closed or broke: end the span (once)."""
        if exc is not None and not self.ended:
            try:
                if self.span.is_recording():
                    self.span.set_attribute(semconv.ERROR_TYPE, error_type(exc))
                    self.span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            except Exception:
                _log.debug("otel-resilience: recording the body error failed", exc_info=True)
        self.end()

    def end(self) -> None:
        """End the span if not ended yet; never raises."""
        if self.ended:
            return
        self.ended = True
        try:
            self.span.end()
        except Exception:
            _log.debug("otel-resilience: ending the HTTP span failed", exc_info=True)

    def _measure(self, extra: dict[str, Any]) -> None:
        duration = self._telemetry.duration
        if duration is not None:
            attrs = {**self._metric, **extra}
            duration.record(time.perf_counter() - self._started, attrs)


#: (the global propagator checked last, whether it is the default W3C pair or trace context
#: alone): :meth:`AttemptRecord.headers` may then write the traceparent itself.
_TEXTMAP: tuple[object, bool] = (None, False)
_W3C = ([TraceContextTextMapPropagator, W3CBaggagePropagator], [TraceContextTextMapPropagator])


def _plain_w3c(textmap: object) -> bool:
    """Whether ``textmap`` injects only W3C trace context and baggage (the default)."""
    global _TEXTMAP
    known = _TEXTMAP
    if known[0] is textmap:
        return known[1]
    members = getattr(textmap, "_propagators", None)  # private: absent, the general path
    plain = (
        type(textmap) is CompositePropagator
        and isinstance(members, (list, tuple))
        and [type(p) for p in members] in _W3C
    )
    _TEXTMAP = (textmap, plain)
    return plain


@functools.cache
def _version() -> str:
    """The installed distribution's version, for the instrumentation scope."""
    try:
        from importlib.metadata import version

        return version("otel-resilience-instrumentation")
    except Exception:
        return "0"
