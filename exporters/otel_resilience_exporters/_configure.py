"""``configure()``: :func:`build` once per process, installed as the global providers."""

from __future__ import annotations

import atexit
import dataclasses
import inspect
import logging
import threading
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry import _logs, metrics, trace
from opentelemetry.sdk.trace.sampling import Sampler

from ._env import parse_bool, raw
from ._redaction import RedactionOptions
from ._sampling import parse_sampler
from ._settings import TelemetrySettings
from ._setup import Telemetry, build

__all__ = ["IgnoredConfigurationWarning", "configure"]

#: The SDK's own switch for sending stdlib logging to OpenTelemetry; the default of
#: ``configure(bridge_logging=...)``.
_BRIDGE_ENV = "OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED"

_log = logging.getLogger("otel_resilience_exporters")


class IgnoredConfigurationWarning(UserWarning):
    """``configure()`` was called again with arguments that differ from the first call's: they
    are ignored, the first configuration stays in effect."""


# The settings field(s) each argument of configure() decides.
_FIELDS: Mapping[str, tuple[str, ...]] = {
    "service_name": ("service_name",),
    "exporter": ("traces_exporters", "metrics_exporters", "logs_exporters"),
    "redact": ("redaction",),
    "sampler": ("sampler",),
    "mirror_events": ("mirror_events",),
    "shutdown_timeout": ("shutdown_timeout",),
    "resource_attributes": ("resource_attributes",),
    "capture_content": ("redaction",),
}
# Arguments that add parts rather than settings: any value on a later call is ignored.
_PARTS = ("span_exporters", "log_exporters", "metric_readers", "views")

_configured: Telemetry | None = None
_configure_lock = threading.Lock()
_warned: set[str] = set()


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Sampler) and isinstance(b, Sampler):
        return a is b or a.get_description() == b.get_description()
    return bool(a == b)


def _ignored(first: TelemetrySettings, args: dict[str, Any]) -> list[str]:
    """The arguments of a repeated call that ask for something else than ``first``; raises
    ValueError/TypeError when they are invalid, as the first call would have."""
    inspect.signature(build).bind(**args)  # unknown or misplaced arguments: TypeError
    given = {k: v for k, v in args.items() if v is not None and k not in _PARTS}
    if isinstance(given.get("sampler"), str):
        given["sampler"] = parse_sampler(given["sampler"])
    settings = given.pop("settings", None)
    if settings is not None and not isinstance(settings, TelemetrySettings):
        raise ValueError(f"settings: must be TelemetrySettings, got {type(settings).__name__}")
    new = settings or TelemetrySettings.from_env(**given)
    names = [k for k in _PARTS if args.get(k)]
    fields = [f.name for f in dataclasses.fields(TelemetrySettings)]
    chosen = {"settings": tuple(fields)} if settings is not None else _FIELDS
    for name, attrs in chosen.items():
        if (name == "settings" or name in given) and not all(
            _same(getattr(first, a), getattr(new, a)) for a in attrs
        ):
            names.append(name)
    return names


def _warn_ignored(names: Sequence[str]) -> None:
    fresh = [n for n in names if n not in _warned]
    if not fresh:
        return
    _warned.update(fresh)
    message = (
        f"configure() was already called; these arguments differ and are ignored: "
        f"{', '.join(fresh)}. The first configuration stays in effect (use build() for "
        f"another set of providers)."
    )
    _log.warning("%s", message)
    warnings.warn(message, IgnoredConfigurationWarning, stacklevel=3)


def configure(
    service_name: str | None = None,
    exporter: str | Sequence[str] | None = None,
    redact: bool | RedactionOptions | None = None,
    sampler: Sampler | str | None = None,
    *,
    bridge_logging: bool | None = None,
    **options: Any,
) -> Telemetry:
    """Set up tracing, metrics and logs in one call and install them as the global providers.

    ``service_name``: wins over OTEL_SERVICE_NAME. ``exporter``: a name or comma list for all
    signals (else OTEL_TRACES/METRICS/LOGS_EXPORTER, then OTEL_RESILIENCE_EXPORTER, then
    ``otlp``); unknown names raise ValueError. ``redact``: on unless ``False`` or
    OTEL_RESILIENCE_REDACT=false; a :class:`RedactionOptions` customises it. ``sampler``: a
    Sampler or a spec such as ``"ratio:0.1"`` or ``"ratelimit:50"`` (else OTEL_TRACES_SAMPLER).
    ``options`` are those of :func:`build`. ``bridge_logging``: also send stdlib ``logging``
    records (root logger, at its level) to the logger provider, correlated with the current
    span, through the SDK's ``LoggingHandler`` (else OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_
    ENABLED; off by default).

    The first call wins: later calls return the same handle and install nothing. Their
    arguments are still validated (invalid ones raise), and arguments that differ from the
    first call's are named once in a warning (a log record and an
    :class:`IgnoredConfigurationWarning`). The handle's :meth:`Telemetry.shutdown` also runs
    at interpreter exit, bounded like an explicit call.
    """
    global _configured
    with _configure_lock:
        if _configured is not None:
            args = {
                "service_name": service_name,
                "exporter": exporter,
                "redact": redact,
                "sampler": sampler,
                **options,
            }
            _warn_ignored(_ignored(_configured.settings, args))
            return _configured
        given = bridge_logging if bridge_logging is not None else raw(_BRIDGE_ENV)
        bridge = parse_bool("bridge_logging", given or False)
        handle = build(service_name, exporter, redact, sampler, **options)
        trace.set_tracer_provider(handle.tracer_provider)
        metrics.set_meter_provider(handle.meter_provider)
        _logs.set_logger_provider(handle.logger_provider)
        if trace.get_tracer_provider() is not handle.tracer_provider:
            _log.warning("a global TracerProvider was already set; otel_resilience's is unused")
        if bridge:
            _bridge(handle)
        atexit.register(handle.shutdown)
        _configured = handle
        return handle


def _bridge(handle: Telemetry) -> None:
    """Route the root logger's records to ``handle``'s logger provider (the SDK's handler)."""
    from opentelemetry.sdk._logs import LoggingHandler

    root = logging.getLogger()
    if not any(isinstance(h, LoggingHandler) for h in root.handlers):
        root.addHandler(LoggingHandler(logger_provider=handle.logger_provider))
