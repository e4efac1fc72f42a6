"""Ready-made pipelines for common dependencies: ``http``, ``llm``, ``database``, ``queue``.

Each preset is a list of strategies, outermost first, written as a policies file would write
them; docs/configuration.md gives the reasoning behind every number. Use one from a file
(``preset = "http"``) or from code (:func:`preset`), overriding options key by key.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

__all__ = ["PRESETS", "preset"]

_Spec = tuple[Mapping[str, Mapping[str, Any]], ...]

_PRESETS: dict[str, _Spec] = {
    # Idempotent HTTP requests: a few quick retries that honour Retry-After, within a total
    # deadline a user still waits for; a breaker per pipeline (one pipeline per host); and a
    # per-attempt timeout above a healthy API's p99.
    "http": (
        {
            "retry": {
                "max_attempts": 3,
                "backoff": "exponential",
                "base_delay": 0.2,
                "max_delay": 5.0,
                "deadline": 30.0,
                "respect_retry_after": True,
            }
        },
        {
            "circuit_breaker": {
                "failure_ratio": 0.5,
                "minimum_calls": 20,
                "window": 30.0,
                "break_duration": 15.0,
            }
        },
        {"timeout": {"seconds": 10.0}},
    ),
    # LLM APIs: 429s and 529s are the common failure and come with Retry-After, so waits are
    # long and attempts many; a breaker per model (one pipeline per model) that only opens on a
    # sustained outage; generations are slow, so the attempt timeout is generous and the whole
    # call has a deadline.
    "llm": (
        {
            "retry": {
                "max_attempts": 6,
                "backoff": "exponential",
                "base_delay": 1.0,
                "max_delay": 60.0,
                "deadline": 300.0,
                "respect_retry_after": True,
            }
        },
        {
            "circuit_breaker": {
                "failure_ratio": 0.5,
                "minimum_calls": 10,
                "window": 120.0,
                "break_duration": 30.0,
            }
        },
        {"timeout": {"seconds": 120.0}},
    ),
    # Databases: only connection errors are safe to retry blindly (a statement may have run);
    # retries are fast because a pool reconnects in milliseconds; timeouts are short so a slow
    # database sheds load instead of piling up connections.
    "database": (
        {
            "retry": {
                "max_attempts": 3,
                "backoff": "exponential",
                "base_delay": 0.05,
                "max_delay": 0.5,
                "retry_on": ["connection"],
            }
        },
        {
            "circuit_breaker": {
                "failure_ratio": 0.5,
                "minimum_calls": 20,
                "window": 10.0,
                "break_duration": 5.0,
            }
        },
        {"timeout": {"seconds": 2.0}},
    ),
    # Message queues (publish/ack): brokers fail over in seconds, so retries spread out with
    # decorrelated jitter over up to a minute; the breaker waits for the fail-over to finish.
    "queue": (
        {
            "retry": {
                "max_attempts": 5,
                "backoff": "decorrelated",
                "base_delay": 0.1,
                "max_delay": 10.0,
                "deadline": 60.0,
            }
        },
        {
            "circuit_breaker": {
                "failure_ratio": 0.5,
                "minimum_calls": 10,
                "window": 30.0,
                "break_duration": 10.0,
            }
        },
        {"timeout": {"seconds": 5.0}},
    ),
}

#: Preset name -> its strategies, outermost first, as ``{kind: options}`` tables (read-only).
PRESETS: Mapping[str, _Spec] = MappingProxyType(_PRESETS)


def preset(
    kind: str,
    name: str,
    *,
    clock: Any = None,
    tracer_provider: Any = None,
    meter_provider: Any = None,
    logger_provider: Any = None,
    **overrides: Mapping[str, Any],
) -> Any:
    """A :class:`~otel_resilience.Pipeline` named ``name`` built from preset ``kind``.

    ``overrides`` merge into the preset's strategies key by key:
    ``preset("http", "github", retry={"max_attempts": 5})`` keeps every other retry option.
    Invalid values raise the same ValueError a policies file would (naming the key).
    """
    from otel_resilience.policies._build import build

    table: dict[str, Any] = {"preset": kind}
    for key, value in overrides.items():
        table[key] = dict(value) if isinstance(value, Mapping) else value
    kwargs = {
        "clock": clock,
        "tracer_provider": tracer_provider,
        "meter_provider": meter_provider,
        "logger_provider": logger_provider,
    }
    built = build(
        {"pipelines": {name: table}}, previous={}, pipeline_kwargs=kwargs, presets=PRESETS
    )
    return built.pipelines[name]
