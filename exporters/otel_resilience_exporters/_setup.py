"""The one-call set-up: providers, processors, exporters, views, and a bounded shutdown."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from importlib import metadata
from typing import Any

from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import LogRecordExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.trace.sampling import Sampler

from otel_resilience import semconv

from . import _exporters
from ._drops import DropCounter, ExportFailureLog
from ._env import raw
from ._guard import (
    CountingMetricExporter,
    GuardedBatchLogRecordProcessor,
    GuardedBatchSpanProcessor,
)
from ._handle import Telemetry
from ._log_processors import (
    EventMirrorProcessor,
    RedactingLogRecordProcessor,
    TimestampLogRecordProcessor,
)
from ._metric_redaction import RedactingMetricExporter
from ._processors import RedactingSpanProcessor, RedactingTracerProvider
from ._redaction import RedactionOptions, Redactor
from ._sampling import KeepMirroredEvents, parse_sampler
from ._settings import TelemetrySettings
from ._views import default_views

__all__ = ["Telemetry", "build"]

_log = logging.getLogger(__name__)


def _distro_version() -> str:
    try:
        return metadata.version("otel-resilience-exporters")
    except metadata.PackageNotFoundError:  # pragma: no cover - source checkout without install
        return "0"


def _sampler(settings: TelemetrySettings) -> Sampler | None:
    sampler = settings.sampler
    if sampler is None and raw("OTEL_TRACES_SAMPLER"):
        name = raw("OTEL_TRACES_SAMPLER")
        try:
            sampler = parse_sampler(name, raw("OTEL_TRACES_SAMPLER_ARG") or None)
        except ValueError as exc:
            raise ValueError(f"OTEL_TRACES_SAMPLER: {exc}") from None
    if settings.mirror_events:
        from opentelemetry.sdk.trace.sampling import DEFAULT_ON

        sampler = KeepMirroredEvents(sampler or DEFAULT_ON)
    return sampler


def _resource(settings: TelemetrySettings, redactor: Redactor | None) -> Resource:
    attrs: dict[str, Any] = {
        "telemetry.distro.name": "otel-resilience-exporters",
        "telemetry.distro.version": _distro_version(),
        **settings.resource_attributes,
    }
    if settings.service_name:
        attrs["service.name"] = settings.service_name
    # Resource.create merges OTEL_RESOURCE_ATTRIBUTES and the detectors in, so the result is
    # what gets scrubbed: every signal then shares one clean resource.
    resource = Resource.create(attrs)
    return redactor.scrub_resource(resource) if redactor is not None else resource


def _close(created: Sequence[Any]) -> None:
    """Shut down what a failed :func:`build` had started (servers, threads), newest first."""
    for part in reversed(created):
        try:
            part.shutdown()
        except Exception:
            _log.debug("clean-up after a failed build() failed", exc_info=True)


def _hand_over(created: list[Any], parts: Sequence[Any], *owners: Any) -> None:
    """``owners`` now shut ``parts`` down: track them instead."""
    created[:] = [c for c in created if all(c is not p for p in parts)]
    created.extend(owners)


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
    capture_content: bool | None = None,
    settings: TelemetrySettings | None = None,
) -> Telemetry:
    """Set up providers without installing them globally (see
    :func:`~otel_resilience_exporters.configure` for arguments).

    ``span_exporters``/``log_exporters``/``metric_readers`` are added next to the named ones;
    the exporters go through the same redaction, queue bounds and drop counting, the readers
    receive metrics unscrubbed. ``capture_content`` keeps GenAI prompts and responses (else
    OTEL_RESILIENCE_CAPTURE_CONTENT, default off). ``settings`` replaces every other option
    and the environment. When set-up fails, whatever was already started is shut down.
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
            capture_content=capture_content,
        )
    redactor = Redactor(settings.redaction) if settings.redaction is not None else None
    trace_sampler = _sampler(settings)
    created: list[Any] = []
    try:
        return _assemble(
            settings,
            redactor,
            trace_sampler,
            created,
            span_exporters=span_exporters,
            log_exporters=log_exporters,
            metric_readers=metric_readers,
            views=views,
        )
    except BaseException:
        _close(created)
        raise


def _assemble(
    settings: TelemetrySettings,
    redactor: Redactor | None,
    trace_sampler: Sampler | None,
    created: list[Any],
    *,
    span_exporters: Sequence[SpanExporter],
    log_exporters: Sequence[LogRecordExporter],
    metric_readers: Sequence[MetricReader],
    views: Sequence[View],
) -> Telemetry:
    """The body of :func:`build`; everything started goes into ``created`` first."""
    timeout, queue = settings.export_timeout, settings.max_queue_size
    # The named exporters raise on bad configuration: create them all before anything that
    # binds a port or starts a thread.
    named_spans = [_exporters.span_exporter(n, settings) for n in settings.traces_exporters]
    created.extend(named_spans)
    named_logs = [_exporters.log_exporter(n, settings) for n in settings.logs_exporters]
    created.extend(named_logs)
    push = [
        _exporters.metric_exporter(n, settings)
        for n in settings.metrics_exporters
        if n != "prometheus"
    ]
    created.extend(push)

    drops = DropCounter()
    failure_log = ExportFailureLog(drops)
    readers: list[MetricReader] = []
    for exp in push:
        scrubbed = RedactingMetricExporter(exp, redactor) if redactor is not None else exp
        reader = PeriodicExportingMetricReader(
            CountingMetricExporter(scrubbed, drops, failure_log),
            export_timeout_millis=timeout * 1000,
        )
        created[created.index(exp)] = reader  # the reader shuts it down from now on
        readers.append(reader)
    if "prometheus" in settings.metrics_exporters:
        readers.append(
            _exporters.LocalPrometheusMetricReader(
                settings.prometheus_host, settings.prometheus_port, redactor=redactor
            )
        )
        created.append(readers[-1])
    resource = _resource(settings, redactor)
    meter_provider = MeterProvider(
        resource=resource,
        metric_readers=[*readers, *metric_readers],
        views=[*default_views(), *views],
        shutdown_on_exit=False,
    )
    _hand_over(created, readers, meter_provider)
    drops.bind(meter_provider.get_meter(semconv.SCOPE_NAME))

    # With redaction on, these guards scrub on their export thread: span.end() only queues.
    span_guards = [
        GuardedBatchSpanProcessor(
            e,
            drops,
            max_queue_size=queue,
            export_timeout=timeout,
            redactor=redactor,
            failure_log=failure_log,
        )
        for e in [*named_spans, *span_exporters]
    ]
    _hand_over(created, named_spans, *span_guards)
    fanout = None if redactor is None else RedactingSpanProcessor(redactor, span_guards, drops)
    tracer_provider = RedactingTracerProvider(
        redacting=fanout, resource=resource, sampler=trace_sampler, shutdown_on_exit=False
    )
    if fanout is None:
        for guard in span_guards:
            tracer_provider.add_span_processor(guard)

    logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
    # Processors run in order: the timestamp first (the batch processors copy the record),
    # then redaction, since later ones (ours, the user's, added the SDK way) must only see
    # scrubbed records.
    logger_provider.add_log_record_processor(TimestampLogRecordProcessor())
    if redactor is not None:
        logger_provider.add_log_record_processor(RedactingLogRecordProcessor(redactor, drops))
    if settings.mirror_events:
        logger_provider.add_log_record_processor(EventMirrorProcessor(tracer_provider))
    log_guards = [
        GuardedBatchLogRecordProcessor(
            e, drops, max_queue_size=queue, export_timeout=timeout, failure_log=failure_log
        )
        for e in [*named_logs, *log_exporters]
    ]
    _hand_over(created, named_logs, *log_guards)
    for log_guard in log_guards:
        logger_provider.add_log_record_processor(log_guard)
    return Telemetry(
        settings,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        logger_provider=logger_provider,
        drops=drops,
        guards=[*span_guards, *log_guards],
        failure_log=failure_log,
    )
