"""The one-call set-up: providers, processors, exporters, views, and a bounded shutdown."""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from importlib import metadata
from typing import Any

from opentelemetry import _logs, metrics, trace
from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor
from opentelemetry.sdk._logs.export import LogRecordExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.trace.sampling import Sampler

from otel_resilience import semconv

from . import _exporters
from ._guard import (
    CountingMetricExporter,
    DropCounter,
    GuardedBatchLogRecordProcessor,
    GuardedBatchSpanProcessor,
)
from ._processors import EventMirrorProcessor, RedactingLogRecordProcessor, RedactingSpanProcessor
from ._redaction import RedactionOptions, Redactor
from ._sampling import KeepMirroredEvents, parse_sampler
from ._settings import TelemetrySettings
from ._views import default_views

__all__ = ["Telemetry", "build", "configure"]

_log = logging.getLogger(__name__)


def _run_bounded(calls: Sequence[Callable[[], object]], deadline: float) -> bool:
    """Run ``calls`` in parallel daemon threads; True when all finished before ``deadline``.

    Daemon threads: a call stuck on an unreachable collector is abandoned, and never keeps the
    interpreter from exiting.
    """
    done: list[bool] = []

    def run(call: Callable[[], object]) -> None:
        try:
            call()
        except Exception:
            _log.debug("telemetry shutdown step failed", exc_info=True)
        done.append(True)

    threads = [threading.Thread(target=run, args=(c,), daemon=True) for c in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return len(done) == len(calls)


class Telemetry:
    """What :func:`configure` / :func:`build` set up: three providers and their lifecycle."""

    def __init__(
        self,
        settings: TelemetrySettings,
        *,
        tracer_provider: TracerProvider,
        meter_provider: MeterProvider,
        logger_provider: LoggerProvider,
        drops: DropCounter,
        span_fanout: RedactingSpanProcessor | None,
        guards: Sequence[GuardedBatchSpanProcessor | GuardedBatchLogRecordProcessor],
    ) -> None:
        self.settings = settings
        self.tracer_provider = tracer_provider
        self.meter_provider = meter_provider
        self.logger_provider = logger_provider
        self._drops = drops
        self._span_fanout = span_fanout
        self._guards = list(guards)
        self._lock = threading.Lock()
        self._shut = False

    def add_span_processor(self, processor: SpanProcessor) -> None:
        """Add a processor that sees spans after redaction (when redaction is on)."""
        if self._span_fanout is not None:
            self._span_fanout.add_span_processor(processor)
        else:
            self.tracer_provider.add_span_processor(processor)

    def add_log_record_processor(self, processor: LogRecordProcessor) -> None:
        """Add a processor; it runs after the redacting one, so it sees scrubbed records."""
        self.logger_provider.add_log_record_processor(processor)

    def dropped(self) -> dict[str, int]:
        """Items lost so far per signal ("traces", "logs", "metrics"); 0 when none."""
        out = dict.fromkeys(("traces", "logs", "metrics"), 0)
        for (signal, _reason), n in self._drops.snapshot().items():
            out[signal] = out.get(signal, 0) + n
        return out

    def dropped_by_reason(self) -> dict[tuple[str, str], int]:
        """Items lost so far, keyed by (signal, reason)."""
        return self._drops.snapshot()

    @property
    def is_shutdown(self) -> bool:
        """Whether :meth:`shutdown` has been called."""
        return self._shut

    def flush(self, timeout: float | None = None) -> bool:
        """Export everything buffered; returns within ``timeout`` seconds (default: the shutdown
        timeout) and says whether every provider finished."""
        if self._shut:
            return False
        budget = self.settings.shutdown_timeout if timeout is None else timeout
        millis = int(budget * 1000)
        deadline = time.monotonic() + budget
        return _run_bounded(
            [
                lambda: self.tracer_provider.force_flush(millis),
                lambda: self.logger_provider.force_flush(millis),
                lambda: self.meter_provider.force_flush(millis),
            ],
            deadline,
        )

    def shutdown(self, timeout: float | None = None) -> bool:
        """Flush and shut all three providers down within ``timeout`` seconds in total (default
        ``OTEL_RESILIENCE_SHUTDOWN_TIMEOUT``, 5), whatever the collector does. Idempotent.

        Returns whether everything finished in time; what did not is abandoned and counted.
        """
        with self._lock:
            if self._shut:
                return True
            self._shut = True
        budget = self.settings.shutdown_timeout if timeout is None else timeout
        millis = int(budget * 1000)
        # In parallel, each with the whole budget: sequential phases would let one stuck signal
        # starve the others. Drops counted here are only exportable if the collector is up,
        # and then there are none.
        finished = _run_bounded(
            [
                self.tracer_provider.shutdown,
                self.logger_provider.shutdown,
                lambda: self.meter_provider.shutdown(timeout_millis=millis),
            ],
            time.monotonic() + budget,
        )
        if not finished:
            for guard in self._guards:
                self._drops.add(guard.signal, semconv.DROP_REASON_SHUTDOWN, guard.pending)
        return finished


def _distro_version() -> str:
    try:
        return metadata.version("otel-resilience-exporters")
    except metadata.PackageNotFoundError:  # pragma: no cover - source checkout without install
        return "0"


def _sampler(settings: TelemetrySettings) -> Sampler | None:
    sampler = settings.sampler
    if sampler is None and os.environ.get("OTEL_TRACES_SAMPLER", "").strip():
        name = os.environ["OTEL_TRACES_SAMPLER"]
        try:
            sampler = parse_sampler(name, os.environ.get("OTEL_TRACES_SAMPLER_ARG"))
        except ValueError as exc:
            raise ValueError(f"OTEL_TRACES_SAMPLER: {exc}") from None
    if settings.mirror_events:
        from opentelemetry.sdk.trace.sampling import DEFAULT_ON

        sampler = KeepMirroredEvents(sampler or DEFAULT_ON)
    return sampler


def build(
    service_name: str | None = None,
    exporter: str | Sequence[str] | None = None,
    redact: bool | RedactionOptions | None = None,
    sampler: Sampler | str | None = None,
    *,
    resource_attributes: Mapping[str, Any] | None = None,
    span_exporters: Sequence[SpanExporter] = (),
    log_exporters: Sequence[LogRecordExporter] = (),
    metric_readers: Sequence[MetricReader] = (),
    views: Sequence[View] = (),
    mirror_events: bool | None = None,
    shutdown_timeout: float | None = None,
    settings: TelemetrySettings | None = None,
) -> Telemetry:
    """Set up providers without installing them globally (see :func:`configure` for arguments).

    ``span_exporters``/``log_exporters``/``metric_readers`` are added next to the named ones
    and go through the same redaction, queue bounds and drop counting. ``settings`` replaces
    every other option and the environment.
    """
    if isinstance(sampler, str):
        sampler = parse_sampler(sampler)
    if settings is None:
        settings = TelemetrySettings.from_env(
            service_name=service_name,
            exporter=exporter,
            redact=redact,
            sampler=sampler,
            mirror_events=mirror_events,
            shutdown_timeout=shutdown_timeout,
            resource_attributes=resource_attributes,
        )
    attrs: dict[str, Any] = {
        "telemetry.distro.name": "otel-resilience-exporters",
        "telemetry.distro.version": _distro_version(),
        **settings.resource_attributes,
    }
    if settings.service_name:
        attrs["service.name"] = settings.service_name
    resource = Resource.create(attrs)
    drops = DropCounter()
    timeout, queue = settings.export_timeout, settings.max_queue_size

    readers: list[MetricReader] = []
    for name in settings.metrics_exporters:
        if name == "prometheus":
            readers.append(
                _exporters.LocalPrometheusMetricReader(
                    settings.prometheus_host, settings.prometheus_port
                )
            )
        else:
            readers.append(
                PeriodicExportingMetricReader(
                    CountingMetricExporter(_exporters.metric_exporter(name, settings), drops),
                    export_timeout_millis=timeout * 1000,
                )
            )
    readers.extend(metric_readers)
    meter_provider = MeterProvider(
        resource=resource,
        metric_readers=readers,
        views=[*default_views(), *views],
        shutdown_on_exit=False,
    )
    drops.bind(meter_provider.get_meter(semconv.SCOPE_NAME))

    redactor = Redactor(settings.redaction) if settings.redaction is not None else None
    tracer_provider = TracerProvider(
        resource=resource, sampler=_sampler(settings), shutdown_on_exit=False
    )
    span_guards = [
        GuardedBatchSpanProcessor(e, drops, max_queue_size=queue, export_timeout=timeout)
        for e in [
            *(_exporters.span_exporter(n, settings) for n in settings.traces_exporters),
            *span_exporters,
        ]
    ]
    fanout = None
    if redactor is not None:
        fanout = RedactingSpanProcessor(redactor, span_guards, drops)
        tracer_provider.add_span_processor(fanout)
    else:
        for guard in span_guards:
            tracer_provider.add_span_processor(guard)

    logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
    if redactor is not None:  # first: later processors must only see scrubbed records
        logger_provider.add_log_record_processor(RedactingLogRecordProcessor(redactor, drops))
    if settings.mirror_events:
        logger_provider.add_log_record_processor(EventMirrorProcessor(tracer_provider))
    log_guards = [
        GuardedBatchLogRecordProcessor(e, drops, max_queue_size=queue, export_timeout=timeout)
        for e in [
            *(_exporters.log_exporter(n, settings) for n in settings.logs_exporters),
            *log_exporters,
        ]
    ]
    for log_guard in log_guards:
        logger_provider.add_log_record_processor(log_guard)
    return Telemetry(
        settings,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        logger_provider=logger_provider,
        drops=drops,
        span_fanout=fanout,
        guards=[*span_guards, *log_guards],
    )


_configured: Telemetry | None = None
_configure_lock = threading.Lock()


def configure(
    service_name: str | None = None,
    exporter: str | Sequence[str] | None = None,
    redact: bool | RedactionOptions | None = None,
    sampler: Sampler | str | None = None,
    **options: Any,
) -> Telemetry:
    """Set up tracing, metrics and logs in one call and install them as the global providers.

    ``service_name``: wins over OTEL_SERVICE_NAME. ``exporter``: a name or comma list for all
    signals (else OTEL_TRACES/METRICS/LOGS_EXPORTER, then OTEL_RESILIENCE_EXPORTER, then
    ``otlp``); unknown names raise ValueError. ``redact``: on unless ``False`` or
    OTEL_RESILIENCE_REDACT=false; a :class:`RedactionOptions` customises it. ``sampler``: a
    Sampler or a spec such as ``"ratio:0.1"`` or ``"ratelimit:50"`` (else OTEL_TRACES_SAMPLER).
    ``options`` are those of :func:`build`.

    The first call wins: later calls return the same handle and install nothing. The handle's
    :meth:`Telemetry.shutdown` also runs at interpreter exit, bounded like an explicit call.
    """
    global _configured
    with _configure_lock:
        if _configured is not None:
            return _configured
        handle = build(service_name, exporter, redact, sampler, **options)
        trace.set_tracer_provider(handle.tracer_provider)
        metrics.set_meter_provider(handle.meter_provider)
        _logs.set_logger_provider(handle.logger_provider)
        if trace.get_tracer_provider() is not handle.tracer_provider:
            _log.warning("a global TracerProvider was already set; otel_resilience's is unused")
        atexit.register(handle.shutdown)
        _configured = handle
        return handle
