"""Prometheus names of the telemetry contract, as the OpenTelemetry Prometheus exporter writes them.

Dots become underscores, a counter gets ``_total``, a unit adds its suffix (``s`` ->
``_seconds``), a histogram gives ``_bucket``/``_count``/``_sum``; attribute keys become labels
the same way. Rules and dashboards are built from these, never from hand-typed names.
"""

from __future__ import annotations

import json

from otel_resilience import semconv

__all__ = [
    "BAD_OUTCOMES",
    "DURATION",
    "EVENTS",
    "label",
    "le_value",
    "metric",
    "quote",
]


def metric(name: str, suffix: str = "") -> str:
    """The Prometheus name of metric ``name`` (``suffix``: ``_seconds``, ``_total``...)."""
    return name.replace(".", "_") + suffix


def label(key: str) -> str:
    """The Prometheus label of attribute ``key``."""
    return key.replace(".", "_")


def quote(text: str) -> str:
    """``text`` as a double-quoted string both PromQL and YAML read back unchanged.

    JSON quoting, except that characters beyond the BMP stay as they are: JSON would write
    them as surrogate pairs (``\\ud83d\\ude00``), which Go's PromQL and YAML parsers refuse.
    Other non-ASCII characters keep their ``\\uXXXX`` escape (a raw U+2028 or U+0085 would be a
    line break to YAML).
    """
    quoted = json.dumps(text, ensure_ascii=False)
    return "".join(c if " " <= c <= "~" or ord(c) > 0xFFFF else f"\\u{ord(c):04x}" for c in quoted)


def le_value(seconds: float) -> str:
    """The ``le`` label of a bucket bound as the exporter writes it (``0.5``, ``1.0``)."""
    return repr(float(seconds))


#: ``resilience.pipeline.duration`` (histogram, unit ``s``): its series name stem.
DURATION = metric(semconv.METRIC_PIPELINE_DURATION, "_seconds")
#: ``resilience.events`` (counter).
EVENTS = metric(semconv.METRIC_EVENTS, "_total")
#: Outcomes that spend an availability SLO's budget.
BAD_OUTCOMES = (semconv.OUTCOME_FAILURE, semconv.OUTCOME_REJECTED)
