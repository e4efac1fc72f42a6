"""The GenAI instruments of the LLM instrumentors: tracer, histograms, rate-limit gauge.

Resolved like the HTTP core's (:class:`~otel_resilience_instrumentation._http.telemetry.
HttpTelemetry`): once for explicit providers, again only when a global provider changes; a
provider that cannot record resolves to ``None`` so a call then costs no span and no point.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Observation

from otel_resilience import semconv
from otel_resilience._telemetry import _NOOP_METER_PROVIDERS, _NOOP_TRACER_PROVIDERS, _globals
from otel_resilience_instrumentation._http.telemetry import _version

__all__ = ["LlmInstruments", "LlmTelemetry"]

_log = logging.getLogger(__name__)


class LlmInstruments:
    """The tracer and metric instruments in use (``None`` where nothing records)."""

    __slots__ = ("duration", "tokens", "tpoc", "tracer", "ttfc")

    def __init__(self) -> None:
        self.tracer: trace.Tracer | None = None
        self.duration: metrics.Histogram | None = None
        self.tokens: metrics.Histogram | None = None
        self.ttfc: metrics.Histogram | None = None
        self.tpoc: metrics.Histogram | None = None

    @property
    def records(self) -> bool:
        """Whether anything records."""
        return self.tracer is not None or self.duration is not None


_NOTHING = LlmInstruments()


class LlmTelemetry:
    """Instruments of one LLM instrumentor; ``observe`` feeds the rate-limit gauge."""

    def __init__(
        self,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        observe: Callable[[], Iterable[tuple[float, dict[str, Any]]]] | None = None,
    ) -> None:
        self._providers = (tracer_provider, meter_provider)
        self._observe = observe
        self._key: tuple[object, object] | None = None
        self._inst = _NOTHING

    def instruments(self) -> LlmInstruments:
        """The instruments now (never raises: a broken provider records nothing)."""
        current = _globals()
        key = (current[0], current[1])
        if key is self._key or key == self._key:
            return self._inst
        try:
            self._inst = self._resolve(current)
        except Exception:
            _log.debug("otel-resilience: resolving the LLM instruments failed", exc_info=True)
            self._inst = _NOTHING
        self._key = key
        return self._inst

    def _resolve(self, current: tuple[object, object, object]) -> LlmInstruments:
        tp = self._providers[0] if self._providers[0] is not None else current[0]
        mp = self._providers[1] if self._providers[1] is not None else current[1]
        inst = LlmInstruments()
        version = _version()
        if tp is not None and not isinstance(tp, _NOOP_TRACER_PROVIDERS):
            tracer = tp.get_tracer(semconv.HTTP_SCOPE_NAME, version)  # type: ignore[union-attr]
            if not isinstance(tracer, trace.NoOpTracer):
                inst.tracer = tracer
        if mp is None or isinstance(mp, _NOOP_METER_PROVIDERS):
            return inst
        meter = mp.get_meter(semconv.HTTP_SCOPE_NAME, version)  # type: ignore[union-attr]
        if isinstance(meter, metrics.NoOpMeter):
            return inst
        seconds = list(semconv.GEN_AI_DURATION_BUCKETS)
        inst.duration = meter.create_histogram(
            semconv.METRIC_GEN_AI_OPERATION_DURATION,
            unit="s",
            description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=seconds,
        )
        inst.tokens = meter.create_histogram(
            semconv.METRIC_GEN_AI_TOKEN_USAGE,
            unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=[float(b) for b in semconv.GEN_AI_TOKEN_BUCKETS],
        )
        inst.ttfc = meter.create_histogram(
            semconv.METRIC_GEN_AI_TIME_TO_FIRST_CHUNK,
            unit="s",
            description="Time to receive the first chunk of a streamed response.",
            explicit_bucket_boundaries_advisory=seconds,
        )
        inst.tpoc = meter.create_histogram(
            semconv.METRIC_GEN_AI_TIME_PER_OUTPUT_CHUNK,
            unit="s",
            description="Time between consecutive chunks of a streamed response.",
            explicit_bucket_boundaries_advisory=list(semconv.GEN_AI_CHUNK_BUCKETS),
        )
        if self._observe is not None:
            observe = self._observe

            def callback(options: CallbackOptions) -> Iterable[Observation]:
                try:
                    return [Observation(v, a) for v, a in observe()]
                except Exception:
                    return []

            meter.create_observable_gauge(
                semconv.METRIC_LLM_RATE_LIMIT_REMAINING,
                callbacks=[callback],
                unit="1",
                description="What the provider's rate-limit headers last said remains.",
            )
        return inst
