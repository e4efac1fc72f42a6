"""Settings of the one-call set-up: arguments first, then ``OTEL_*`` and ``OTEL_RESILIENCE_*``."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final, TypeVar

from opentelemetry.sdk.trace.sampling import Sampler

from ._env import parse_bool, raw
from ._redaction import DEFAULT_SECRET_KEYS, RedactionOptions

__all__ = ["EXPORTER_SIGNALS", "SIGNALS", "TelemetrySettings"]

# Names of the variables read here (all listed in _env.ENV and docs/exporters.md).
ENV_EXPORTER: Final = "OTEL_RESILIENCE_EXPORTER"
ENV_JSONL_PATH: Final = "OTEL_RESILIENCE_JSONL_PATH"
ENV_REDACT: Final = "OTEL_RESILIENCE_REDACT"
ENV_REDACT_KEYS: Final = "OTEL_RESILIENCE_REDACT_KEYS"
ENV_SHUTDOWN_TIMEOUT: Final = "OTEL_RESILIENCE_SHUTDOWN_TIMEOUT"
ENV_EXPORT_TIMEOUT: Final = "OTEL_RESILIENCE_EXPORT_TIMEOUT"
ENV_MAX_QUEUE_SIZE: Final = "OTEL_RESILIENCE_MAX_QUEUE_SIZE"
ENV_MIRROR_EVENTS: Final = "OTEL_RESILIENCE_MIRROR_EVENTS"
ENV_CAPTURE_CONTENT: Final = "OTEL_RESILIENCE_CAPTURE_CONTENT"
ENV_PROMETHEUS_PORT: Final = "OTEL_EXPORTER_PROMETHEUS_PORT"
ENV_PROMETHEUS_HOST: Final = "OTEL_EXPORTER_PROMETHEUS_HOST"
ENV_GRAFANA_CLOUD_ENDPOINT: Final = "OTEL_RESILIENCE_GRAFANA_CLOUD_ENDPOINT"
ENV_GRAFANA_CLOUD_INSTANCE_ID: Final = "OTEL_RESILIENCE_GRAFANA_CLOUD_INSTANCE_ID"
ENV_GRAFANA_CLOUD_TOKEN: Final = "OTEL_RESILIENCE_GRAFANA_CLOUD_TOKEN"

DEFAULT_JSONL_PATH: Final = "telemetry.jsonl"
DEFAULT_SHUTDOWN_TIMEOUT: Final = 5.0
DEFAULT_EXPORT_TIMEOUT: Final = 3.0
DEFAULT_MAX_QUEUE_SIZE: Final = 2048
DEFAULT_PROMETHEUS_HOST: Final = "127.0.0.1"
DEFAULT_PROMETHEUS_PORT: Final = 9464
#: Upper bound of every timeout (seconds): larger values are capped, since thread waits and
#: millisecond conversions overflow long before ``inf``.
MAX_TIMEOUT: Final = 3600.0

SIGNALS: Final = ("traces", "metrics", "logs")
_ALL: Final = frozenset(SIGNALS)
#: Every exporter name and the signals it exports.
EXPORTER_SIGNALS: Final[Mapping[str, frozenset[str]]] = {
    "none": _ALL,
    "console": _ALL,
    "pretty": frozenset({"traces"}),
    "otlp": _ALL,
    "otlp_proto_grpc": _ALL,
    "otlp_proto_http": _ALL,
    "jsonl": _ALL,
    "prometheus": frozenset({"metrics"}),
    "jaeger": frozenset({"traces"}),
    "tempo": frozenset({"traces"}),
    "alloy": _ALL,
    "grafana-cloud": _ALL,
}
#: Presets whose backend stores traces only: log events are mirrored onto spans by default.
TRACE_ONLY_PRESETS: Final = frozenset({"jaeger", "tempo"})

_log = logging.getLogger(__name__)
_N = TypeVar("_N", int, float)


def env_bool(name: str, default: bool | None) -> bool | None:
    """``name`` as a boolean (``auto`` or unset: ``default``); ValueError naming it otherwise."""
    text = raw(name)
    if not text or text.lower() == "auto":
        return default
    return parse_bool(name, text)


def optional_bool(name: str, value: Any) -> bool | None:
    """An argument that may be left ``None``, else parsed strictly (see :func:`parse_bool`)."""
    return None if value is None else parse_bool(name, value)


def _env_number(name: str, default: _N, parse: Callable[[str], _N], expected: str) -> _N:
    text = raw(name)
    try:
        return parse(text) if text else default
    except ValueError:
        raise ValueError(f"{name}: expected {expected}, got {text!r}") from None


def check_timeout(name: str, value: float) -> float:
    """``value`` capped at :data:`MAX_TIMEOUT`; ValueError naming ``name`` unless it is a
    finite number > 0."""
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name}: expected a finite number of seconds > 0, got {value!r}")
    if value > MAX_TIMEOUT:
        _log.warning("%s: %r s capped at %g s", name, value, MAX_TIMEOUT)
        return MAX_TIMEOUT
    return float(value)


def env_timeout(name: str, default: float) -> float:
    """``name`` as seconds > 0, capped at :data:`MAX_TIMEOUT`; ValueError naming it otherwise."""
    return check_timeout(name, _env_number(name, default, float, "a number"))


def env_int(name: str, default: int, low: int | None = None, high: int | None = None) -> int:
    """``name`` as an integer within [low, high]; ValueError naming it otherwise."""
    value = _env_number(name, default, int, "an integer")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f">= {low}" if high is None else f"within [{low}, {high}]"
        raise ValueError(f"{name}: expected an integer {bounds}, got {value!r}")
    return value


def jsonl_path_from_env() -> str:
    """``OTEL_RESILIENCE_JSONL_PATH`` or ``telemetry.jsonl``."""
    return raw(ENV_JSONL_PATH) or DEFAULT_JSONL_PATH


def check_directory(name: str, path: str) -> None:
    """ValueError naming ``name`` unless the directory that would hold ``path`` exists."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"{name}: directory {folder!r} of {path!r} does not exist")


def split_names(value: str | Sequence[str]) -> tuple[str, ...]:
    """``"a, b"`` or ``["a", "b"]`` -> ``("a", "b")``, lower-cased, blanks removed."""
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(n.strip().lower() for n in items if n and n.strip())


def _check_known(names: Sequence[str], source: str) -> None:
    for name in names:
        if name not in EXPORTER_SIGNALS:
            known = ", ".join(sorted(EXPORTER_SIGNALS))
            raise ValueError(f"{source}: unknown exporter {name!r}; known: {known}")


def resolve_exporters(exporter: str | Sequence[str] | None) -> dict[str, tuple[str, ...]]:
    """Exporter names per signal.

    ``exporter`` (the argument) sets all three signals; otherwise ``OTEL_<SIGNAL>_EXPORTER``,
    then ``OTEL_RESILIENCE_EXPORTER``, then ``otlp``. A name given for all signals applies to
    those it supports (``prometheus`` -> metrics only); a name given for one signal that does
    not support it is an error.
    """
    out: dict[str, tuple[str, ...]] = {}
    if exporter is not None:
        names = split_names(exporter)
        _check_known(names, "exporter")
        for signal in SIGNALS:
            out[signal] = tuple(n for n in names if n != "none" and signal in EXPORTER_SIGNALS[n])
        return out
    general = raw(ENV_EXPORTER)
    _check_known(split_names(general), ENV_EXPORTER)
    for signal in SIGNALS:
        var = f"OTEL_{signal.upper()}_EXPORTER"
        specific = raw(var)
        names = split_names(specific or general or "otlp")
        _check_known(names, var if specific else ENV_EXPORTER)
        for name in names:
            if specific and signal not in EXPORTER_SIGNALS[name]:
                raise ValueError(f"{var}: exporter {name!r} does not export {signal}")
        out[signal] = tuple(n for n in names if n != "none" and signal in EXPORTER_SIGNALS[n])
    return out


@dataclass(frozen=True)
class TelemetrySettings:
    """Everything :func:`~otel_resilience_exporters.build` sets up, validated at construction."""

    traces_exporters: tuple[str, ...] = ("otlp",)
    metrics_exporters: tuple[str, ...] = ("otlp",)
    logs_exporters: tuple[str, ...] = ("otlp",)
    service_name: str | None = None
    resource_attributes: Mapping[str, Any] = field(default_factory=dict)
    #: ``None`` switches redaction off.
    redaction: RedactionOptions | None = field(default_factory=RedactionOptions)
    #: ``None``: OTEL_TRACES_SAMPLER or the SDK default (parent-based always-on).
    sampler: Sampler | None = None
    mirror_events: bool = False
    shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT
    export_timeout: float = DEFAULT_EXPORT_TIMEOUT
    max_queue_size: int = DEFAULT_MAX_QUEUE_SIZE
    jsonl_path: str = DEFAULT_JSONL_PATH
    prometheus_host: str = DEFAULT_PROMETHEUS_HOST
    prometheus_port: int = DEFAULT_PROMETHEUS_PORT

    def __post_init__(self) -> None:
        for signal in SIGNALS:
            attr = f"{signal}_exporters"
            names = getattr(self, attr)
            _check_known(names, attr)
            bad = [n for n in names if signal not in EXPORTER_SIGNALS[n]]
            if bad:
                raise ValueError(f"{attr}: {bad} cannot export {signal}")
        if self.service_name is not None and not self.service_name.strip():
            raise ValueError("service_name: must not be blank")
        # Frozen: capped values are written back through object.__setattr__.
        for attr in ("shutdown_timeout", "export_timeout"):
            object.__setattr__(self, attr, check_timeout(attr, getattr(self, attr)))
        if self.max_queue_size < 1:
            raise ValueError(f"max_queue_size: must be >= 1, got {self.max_queue_size!r}")
        object.__setattr__(self, "mirror_events", parse_bool("mirror_events", self.mirror_events))
        if not self.jsonl_path:
            raise ValueError("jsonl_path: must not be empty")
        if any("jsonl" in getattr(self, f"{sig}_exporters") for sig in SIGNALS):
            check_directory("jsonl_path", self.jsonl_path)
        if not 0 <= self.prometheus_port <= 65535:
            raise ValueError(f"prometheus_port: out of range: {self.prometheus_port!r}")
        if self.sampler is not None and not isinstance(self.sampler, Sampler):
            raise ValueError(f"sampler: must be a Sampler, got {type(self.sampler).__name__}")

    @classmethod
    def from_env(
        cls,
        *,
        service_name: str | None = None,
        exporter: str | Sequence[str] | None = None,
        redact: bool | RedactionOptions | None = None,
        sampler: Sampler | None = None,
        mirror_events: bool | None = None,
        shutdown_timeout: float | None = None,
        resource_attributes: Mapping[str, Any] | None = None,
        capture_content: bool | None = None,
    ) -> TelemetrySettings:
        """Arguments that are not ``None`` win; the rest come from the environment.

        Every value read from a variable is checked here, so an error names the variable.
        """
        exporters = resolve_exporters(exporter)
        if not isinstance(redact, RedactionOptions):
            redact = optional_bool("redact", redact)
        capture_content = optional_bool("capture_content", capture_content)
        mirror_events = optional_bool("mirror_events", mirror_events)
        if redact is None:
            redact = bool(env_bool(ENV_REDACT, True))
        if capture_content is None:
            capture_content = env_bool(ENV_CAPTURE_CONTENT, None)
        redaction: RedactionOptions | None
        if isinstance(redact, RedactionOptions):
            redaction = redact
            if capture_content is not None:
                redaction = replace(redaction, capture_content=capture_content)
        elif redact:
            extra = split_names(raw(ENV_REDACT_KEYS))
            redaction = RedactionOptions(
                secret_keys=(*DEFAULT_SECRET_KEYS, *extra),
                capture_content=bool(capture_content),
            )
        else:
            redaction = None
        if shutdown_timeout is None:
            shutdown_timeout = env_timeout(ENV_SHUTDOWN_TIMEOUT, DEFAULT_SHUTDOWN_TIMEOUT)
        if mirror_events is None:
            auto = any(n in TRACE_ONLY_PRESETS for n in exporters["traces"])
            mirror_events = bool(env_bool(ENV_MIRROR_EVENTS, auto))
        jsonl_path = jsonl_path_from_env()
        if raw(ENV_JSONL_PATH) and any("jsonl" in names for names in exporters.values()):
            check_directory(ENV_JSONL_PATH, jsonl_path)
        return cls(
            traces_exporters=exporters["traces"],
            metrics_exporters=exporters["metrics"],
            logs_exporters=exporters["logs"],
            service_name=service_name,
            resource_attributes=dict(resource_attributes or {}),
            redaction=redaction,
            sampler=sampler,
            mirror_events=mirror_events,
            shutdown_timeout=shutdown_timeout,
            export_timeout=env_timeout(ENV_EXPORT_TIMEOUT, DEFAULT_EXPORT_TIMEOUT),
            max_queue_size=env_int(ENV_MAX_QUEUE_SIZE, DEFAULT_MAX_QUEUE_SIZE, low=1),
            jsonl_path=jsonl_path,
            prometheus_host=raw(ENV_PROMETHEUS_HOST) or DEFAULT_PROMETHEUS_HOST,
            prometheus_port=env_int(ENV_PROMETHEUS_PORT, DEFAULT_PROMETHEUS_PORT, 0, 65535),
        )
