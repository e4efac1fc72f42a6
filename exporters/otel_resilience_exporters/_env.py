"""Every environment variable the package reads, in one table, and strict value parsing.

Nothing else in the package reads ``os.environ`` (a test checks it): a variable is added here,
read through :func:`raw`, and documented in docs/exporters.md (a test checks that too).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["ENV", "EnvVar", "environment", "parse_bool", "raw", "set_default"]


@dataclass(frozen=True)
class EnvVar:
    """One variable: its default (as the text it would hold) and what it means."""

    default: str
    meaning: str


def _otlp(suffix: str, meaning: str) -> dict[str, EnvVar]:
    out = {f"OTEL_EXPORTER_OTLP_{suffix}": EnvVar("", meaning)}
    for signal in ("TRACES", "METRICS", "LOGS"):
        out[f"OTEL_EXPORTER_OTLP_{signal}_{suffix}"] = EnvVar("", f"{meaning} ({signal.lower()})")
    return out


#: Variable name -> default and meaning. The standard ``OTEL_*`` ones the SDK also reads are
#: listed when this package reads them itself (to validate or to choose an exporter).
ENV: Final[Mapping[str, EnvVar]] = {
    "OTEL_RESILIENCE_EXPORTER": EnvVar("otlp", "exporter(s) for signals without their own"),
    "OTEL_TRACES_EXPORTER": EnvVar("", "span exporter(s)"),
    "OTEL_METRICS_EXPORTER": EnvVar("", "metric exporter(s)"),
    "OTEL_LOGS_EXPORTER": EnvVar("", "log record exporter(s)"),
    "OTEL_RESILIENCE_JSONL_PATH": EnvVar("telemetry.jsonl", "file the jsonl exporters append to"),
    "OTEL_RESILIENCE_REDACT": EnvVar("true", "redaction on or off"),
    "OTEL_RESILIENCE_REDACT_KEYS": EnvVar("", "extra secret key words"),
    "OTEL_RESILIENCE_CAPTURE_CONTENT": EnvVar("false", "keep GenAI prompts and responses"),
    "OTEL_RESILIENCE_SHUTDOWN_TIMEOUT": EnvVar("5", "seconds shutdown() may take in total"),
    "OTEL_RESILIENCE_EXPORT_TIMEOUT": EnvVar("3", "seconds per export request"),
    "OTEL_RESILIENCE_MAX_QUEUE_SIZE": EnvVar("2048", "items buffered per exporter"),
    "OTEL_RESILIENCE_MIRROR_EVENTS": EnvVar("auto", "mirror log events as span events"),
    "OTEL_RESILIENCE_GRAFANA_CLOUD_ENDPOINT": EnvVar("", "Grafana Cloud OTLP gateway URL"),
    "OTEL_RESILIENCE_GRAFANA_CLOUD_INSTANCE_ID": EnvVar("", "Grafana Cloud instance id"),
    "OTEL_RESILIENCE_GRAFANA_CLOUD_TOKEN": EnvVar("", "Grafana Cloud access token"),
    "OTEL_EXPORTER_PROMETHEUS_HOST": EnvVar("127.0.0.1", "Prometheus scrape address"),
    "OTEL_EXPORTER_PROMETHEUS_PORT": EnvVar("9464", "Prometheus scrape port"),
    "OTEL_TRACES_SAMPLER": EnvVar("", "sampler name"),
    "OTEL_TRACES_SAMPLER_ARG": EnvVar("", "sampler argument"),
    "OTEL_PYTHON_CONFIGURATOR": EnvVar("", "configurator; our distro sets otel_resilience"),
    "NO_COLOR": EnvVar("", "any value: the pretty exporter writes no colours"),
    "OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED": EnvVar(
        "false", "configure() also bridges stdlib logging"
    ),
    **_otlp("PROTOCOL", "OTLP protocol, grpc or http/protobuf"),
    **_otlp("ENDPOINT", "OTLP endpoint URL"),
    **_otlp("TIMEOUT", "OTLP export timeout"),
}

_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off"})


def raw(name: str) -> str:
    """The stripped value of ``name``, ``""`` when unset; ``name`` must be in :data:`ENV`."""
    if name not in ENV:  # a programming error: every variable read is listed
        raise KeyError(f"{name} is not in the environment table")
    return os.environ.get(name, "").strip()


def environment() -> dict[str, str]:
    """A copy of the whole environment, for debug bundles (which mask the values)."""
    return dict(os.environ)


def set_default(name: str, value: str) -> None:
    """Set ``name`` (listed in :data:`ENV`) to ``value`` unless it is already set."""
    raw(name)  # checks the table
    os.environ.setdefault(name, value)


def parse_bool(name: str, value: Any) -> bool:
    """``value`` as a boolean: a bool, 0/1, or true/false, 1/0, yes/no, on/off in any case.

    Anything else raises ValueError naming ``name``: ``bool("false")`` is True, so a string is
    never taken for its truth value.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise ValueError(f"{name}: expected true/false, 1/0, yes/no or on/off, got {value!r}")
