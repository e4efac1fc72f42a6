"""Resolution of OpenTelemetry instruments, and the cheap "is anything listening?" check.

Components hold a :class:`Telemetry`. Explicit providers are resolved once. Global providers are
resolved on first use and again only when the process-wide provider object changes, which costs
three identity checks per call: with no SDK configured, every instrument is ``None`` and the
strategies skip all telemetry work.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry import _logs, metrics, trace
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.metrics import CallbackOptions, Observation

from otel_resilience import semconv
from otel_resilience._version import __version__ as _VERSION

__all__ = ["Instruments", "Telemetry"]

_log = logging.getLogger(__name__)

try:  # The API keeps the configured providers in these globals; reading them is the cheap path.
    import opentelemetry._logs._internal as _logs_state
    import opentelemetry.metrics._internal as _metrics_state
    import opentelemetry.trace as _trace_state

    _trace_state._TRACER_PROVIDER  # noqa: B018
    _metrics_state._METER_PROVIDER  # noqa: B018
    _logs_state._LOGGER_PROVIDER  # noqa: B018

    def _globals() -> tuple[object, object, object]:
        return (
            _trace_state._TRACER_PROVIDER,
            _metrics_state._METER_PROVIDER,
            _logs_state._LOGGER_PROVIDER,
        )

    _FAST_GLOBALS = True
except (ImportError, AttributeError):  # pragma: no cover - a future API without them
    _FAST_GLOBALS = False

    def _globals() -> tuple[object, object, object]:
        return (
            trace.get_tracer_provider(),
            metrics.get_meter_provider(),
            _logs.get_logger_provider(),
        )


# Providers that never record. The proxies stand for "no global provider set yet": a component
# that resolved one re-resolves as soon as a real provider is installed.
_NOOP_TRACER_PROVIDERS: tuple[type, ...] = (trace.NoOpTracerProvider, trace.ProxyTracerProvider)
_NOOP_METER_PROVIDERS: tuple[type, ...] = (metrics.NoOpMeterProvider,)
_NOOP_LOGGER_PROVIDERS: tuple[type, ...] = (_logs.NoOpLoggerProvider,)
try:
    _NOOP_METER_PROVIDERS += (_metrics_state._ProxyMeterProvider,)
    _NOOP_LOGGER_PROVIDERS += (_logs_state.ProxyLoggerProvider,)
except (NameError, AttributeError):  # pragma: no cover - a future API without them
    pass


class Instruments:
    """Tracer, metric instruments and logger of one component; ``None`` where nothing records."""

    __slots__ = (
        "bulkhead_active",
        "bulkhead_queued",
        "events",
        "key",
        "logger",
        "pipeline_duration",
        "tracer",
    )

    def __init__(self, tp: Any, mp: Any, lp: Any, key: tuple[object, object, object]) -> None:
        self.key = key
        self.tracer: trace.Tracer | None = None
        self.pipeline_duration: metrics.Histogram | None = None
        self.events: metrics.Counter | None = None
        self.bulkhead_active: metrics.UpDownCounter | None = None
        self.bulkhead_queued: metrics.UpDownCounter | None = None
        self.logger: _logs.Logger | None = None
        # A disabled SDK (OTEL_SDK_DISABLED) hands out no-op tracers, meters and loggers: those
        # count as "nothing listening" too, so the per-call path skips them entirely.
        if tp is not None and not isinstance(tp, _NOOP_TRACER_PROVIDERS):
            tracer = tp.get_tracer(semconv.SCOPE_NAME, _VERSION)
            if not isinstance(tracer, trace.NoOpTracer):
                self.tracer = tracer
        meter = None
        if mp is not None and not isinstance(mp, _NOOP_METER_PROVIDERS):
            meter = mp.get_meter(semconv.SCOPE_NAME, _VERSION)
        if meter is not None and not isinstance(meter, metrics.NoOpMeter):
            self.pipeline_duration = meter.create_histogram(
                semconv.METRIC_PIPELINE_DURATION,
                unit="s",
                description="Duration of calls through a resilience pipeline, retries included.",
                explicit_bucket_boundaries_advisory=list(semconv.DURATION_BUCKETS),
            )
            self.events = meter.create_counter(
                semconv.METRIC_EVENTS,
                unit="{event}",
                description="Resilience decisions: retries, exhaustion, breaker transitions.",
            )
            self.bulkhead_active = meter.create_up_down_counter(
                semconv.METRIC_BULKHEAD_ACTIVE,
                unit="{call}",
                description="Calls running inside a bulkhead.",
            )
            self.bulkhead_queued = meter.create_up_down_counter(
                semconv.METRIC_BULKHEAD_QUEUED,
                unit="{call}",
                description="Calls waiting for a bulkhead permit.",
            )
        if lp is not None and not isinstance(lp, _NOOP_LOGGER_PROVIDERS):
            logger = lp.get_logger(semconv.SCOPE_NAME, _VERSION)
            if not isinstance(logger, _logs.NoOpLogger):
                self.logger = logger
        tap = _tap
        if tap is not None:  # the in-process aggregation is on: it sees what would be recorded
            self.pipeline_duration = tap.histogram(self.pipeline_duration)
            self.events = tap.counter(self.events)

    def emit_event(
        self, name: str, attributes: dict[str, Any], severity: SeverityNumber = SeverityNumber.INFO
    ) -> None:
        """Emit a log record with event ``name``, correlated with the current span if any."""
        if self.logger is not None:
            try:
                self.logger.emit(
                    LogRecord(
                        timestamp=time.time_ns(),
                        event_name=name,
                        attributes=attributes,
                        severity_number=severity,
                        severity_text=severity.name,
                    )
                )
            except Exception:  # a broken logging pipeline must not break the user's call
                _log.debug("otel-resilience: emitting %s failed", name, exc_info=True)

    def count(
        self, pipeline: str, strategy: str, event: str, extra: dict[str, Any] | None = None
    ) -> None:
        """Add one to ``resilience.events`` (``extra``: attributes beyond the three keys)."""
        if self.events is not None:
            attrs = {
                semconv.PIPELINE_NAME: pipeline,
                semconv.STRATEGY: strategy,
                semconv.EVENT: event,
            }
            if extra:
                attrs.update(extra)
            try:
                self.events.add(1, attrs)
            except Exception:  # same: telemetry never fails the call
                _log.debug("otel-resilience: counting %s failed", event, exc_info=True)


class Telemetry:
    """Providers of one component (explicit, or the globals), resolved lazily into Instruments."""

    __slots__ = ("__weakref__", "_explicit", "_inst", "_providers")

    def __init__(
        self, tracer_provider: Any = None, meter_provider: Any = None, logger_provider: Any = None
    ) -> None:
        for field, provider, method in (
            ("tracer_provider", tracer_provider, "get_tracer"),
            ("meter_provider", meter_provider, "get_meter"),
            ("logger_provider", logger_provider, "get_logger"),
        ):
            if provider is not None and not callable(getattr(provider, method, None)):
                kind = method.removeprefix("get_")
                raise ValueError(
                    f"{field} must be an OpenTelemetry {kind} provider, got {provider!r}"
                )
        self._providers = (tracer_provider, meter_provider, logger_provider)
        self._explicit = all(p is not None for p in self._providers)
        self._inst: Instruments | None = None
        _telemetries.add(self)  # so that set_tap() can make it resolve again

    @property
    def providers(self) -> tuple[Any, Any, Any]:
        """The providers given at construction (``None`` means the global one)."""
        return self._providers

    def instruments(self) -> Instruments:
        """Current instruments; cheap when nothing changed since the last call."""
        inst = self._inst
        if inst is not None:
            if self._explicit:
                return inst
            key = inst.key
            if _FAST_GLOBALS:  # identity checks inline: this runs on every call
                if (
                    key[0] is _trace_state._TRACER_PROVIDER
                    and key[1] is _metrics_state._METER_PROVIDER
                    and key[2] is _logs_state._LOGGER_PROVIDER
                ):
                    return inst
            elif key == _globals():  # pragma: no cover
                return inst
        return self._resolve()

    def _resolve(self) -> Instruments:
        key = _globals()
        tp, mp, lp = (
            given if given is not None else current
            for given, current in zip(self._providers, key, strict=True)
        )
        # The SDK hands back the already registered instrument for an identical request, so
        # components resolving the same providers share instruments without a cache of ours
        # (which would keep shut-down providers alive).
        self._inst = inst = Instruments(tp, mp, lp, key)
        return inst


class _StateGauges:
    """An observable gauge (by default ``resilience.circuit_breaker.state``), one per provider.

    Breakers given an explicit meter provider report through that provider's gauge. Breakers
    on the global provider join one shared set whose gauge is created through the API's global
    provider: before an SDK is installed that is the API's proxy, which hands the gauge over to
    the real provider once one is set. A breaker costs nothing per call for its state metric:
    the SDK reads it at collection time.
    """

    def __init__(
        self,
        metric: str = semconv.METRIC_CIRCUIT_BREAKER_STATE,
        unit: str = "1",
        description: str = "1 for the breaker's current state, 0 for the others.",
        observe: str = "state_observations",
    ) -> None:
        # What the gauge is: its name, unit, description and the method each object reports by.
        self._spec = (metric, unit, description, observe)
        self._by_provider: weakref.WeakKeyDictionary[Any, weakref.WeakSet[Any]] = (
            weakref.WeakKeyDictionary()
        )
        self._unweakable: dict[int, tuple[Any, weakref.WeakSet[Any]]] = {}
        self._global: weakref.WeakSet[Any] = weakref.WeakSet()
        self._global_gauge = False
        self._lock = threading.Lock()

    def track(self, meter_provider: Any, breaker: Any) -> None:
        """Report ``breaker`` (with ``state_observations()``) through ``meter_provider``."""
        with self._lock:
            try:
                breakers = self._by_provider.get(meter_provider)
            except TypeError:  # not weak-referenceable: keep it alive, its id stays unique
                pair = self._unweakable.get(id(meter_provider))
                breakers = pair[1] if pair is not None else None
            if breakers is None:
                breakers = weakref.WeakSet()
                try:
                    self._by_provider[meter_provider] = breakers
                except TypeError:
                    self._unweakable[id(meter_provider)] = (meter_provider, breakers)
                _create_gauge(meter_provider, breakers, self._spec)
        breakers.add(breaker)

    def track_global(self, breaker: Any) -> None:
        """Report ``breaker`` through the global meter provider, now or once one is set."""
        with self._lock:
            if not self._global_gauge:
                self._global_gauge = True
                _create_gauge(metrics.get_meter_provider(), self._global, self._spec)
        self._global.add(breaker)

    def follow(self, meter_provider: Any, obj: Any) -> None:
        """Report ``obj`` through ``meter_provider``, or the global one when it is ``None``."""
        if meter_provider is None:
            self.track_global(obj)
        else:
            self.track(meter_provider, obj)


def _create_gauge(
    meter_provider: Any, breakers: weakref.WeakSet[Any], spec: tuple[str, str, str, str]
) -> None:
    metric, unit, description, method = spec
    meter = meter_provider.get_meter(semconv.SCOPE_NAME, _VERSION)
    meter.create_observable_gauge(
        metric, callbacks=[_observer(breakers, method)], unit=unit, description=description
    )


def _observer(
    breakers: weakref.WeakSet[Any], method: str
) -> Callable[[CallbackOptions], Iterable[Observation]]:
    def observe(_options: CallbackOptions) -> Iterable[Observation]:
        for breaker in list(breakers):
            yield from getattr(breaker, method)()

    return observe


_state_gauges = _StateGauges()
_cache_size_gauges = _StateGauges(
    semconv.METRIC_CACHE_SIZE, "{entry}", "Entries held by a response cache.", "size_observations"
)
_budget_gauges = _StateGauges(
    semconv.METRIC_RETRY_BUDGET_TOKENS,
    "{token}",
    "Tokens left in a retry budget (retries left in the window, for the percent kind).",
    "token_observations",
)
_threshold_gauges = _StateGauges(
    semconv.METRIC_CIRCUIT_BREAKER_THRESHOLD,
    "1",
    "The failure ratio that opens an adaptive circuit breaker now.",
    "threshold_observations",
)

#: ``track_X(meter_provider, obj)``: have ``obj`` reported by gauge X through
#: ``meter_provider`` (``None``: the global one) -- a breaker's state (``state_observations``),
#: a cache's size (``size_observations``), a retry budget's tokens (``token_observations``), an
#: adaptive breaker's threshold (``threshold_observations``).
track_breaker = _state_gauges.follow
track_cache = _cache_size_gauges.follow
track_budget = _budget_gauges.follow
track_threshold = _threshold_gauges.follow


# --- In-process aggregation tap (issue 11: the /reliability endpoint) -------------------------
# Off (None) by default, and then it costs nothing per call: the tap is applied when instruments
# are resolved, never checked on the call path. set_tap() makes every Telemetry resolve again.
_tap: Any = None
_telemetries: weakref.WeakSet[Telemetry] = weakref.WeakSet()


def set_tap(tap: Any) -> None:
    """Install (or with ``None`` remove) an object whose ``histogram(h)`` / ``counter(c)``
    wrap the pipeline duration histogram and the events counter (``None`` when not recording)."""
    global _tap
    _tap = tap
    for telemetry in list(_telemetries):
        telemetry._inst = None


def tracked_breakers() -> list[Any]:
    """Every breaker reported by the state gauge (bound to a pipeline), alive now."""
    gauges = _state_gauges
    with gauges._lock:
        sets = [gauges._global, *gauges._by_provider.values()]
        sets += [pair[1] for pair in gauges._unweakable.values()]
    return [breaker for found in sets for breaker in list(found)]
