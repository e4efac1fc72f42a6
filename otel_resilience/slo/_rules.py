"""Prometheus recording and alerting rules for SLOs, from the telemetry contract's names.

One rule group per SLO: the error ratio over each burn-rate window and over the SLO's window
(recording rules ``resilience:slo_error_ratio:rate<W>``), the error budget left
(``resilience:slo_error_budget:remaining``), and the two alerts of the SRE workbook's
multi-window multi-burn-rate scheme, ``ResilienceErrorBudgetBurnFast`` (severity ``page``) and
``ResilienceErrorBudgetBurnSlow`` (severity ``ticket``). Every series keeps the
``resilience_pipeline_name`` label and gets ``slo``: an SLO over every pipeline alerts per
pipeline.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from otel_resilience import semconv
from otel_resilience.slo._promql import BAD_OUTCOMES, DURATION, label, le_value, quote
from otel_resilience.slo.options import BURN_ALERTS, BURN_WINDOWS, SLOOptions, format_window

__all__ = [
    "ALERT_FAST",
    "ALERT_SLOW",
    "DEFAULT_SLO",
    "rules",
    "rules_text",
]

ALERT_FAST = "ResilienceErrorBudgetBurnFast"
ALERT_SLOW = "ResilienceErrorBudgetBurnSlow"
#: With no SLO declared: 99.9 % of every pipeline's calls succeed over 30 days.
DEFAULT_SLO = SLOOptions(name="availability")
_PIPELINE = label(semconv.PIPELINE_NAME)
_OUTCOME = label(semconv.OUTCOME)
_FOR = {"page": "2m", "ticket": "15m"}


def ratio_record(window: str) -> str:
    """The recording rule holding the error ratio over ``window``."""
    return f"resilience:slo_error_ratio:rate{window}"


BUDGET_RECORD = "resilience:slo_error_budget:remaining"


def _selector(slo: SLOOptions, *extra: str) -> str:
    matchers = list(extra)
    if slo.pipeline is not None:
        matchers.insert(0, f"{_PIPELINE}={quote(slo.pipeline)}")
    return "{" + ", ".join(matchers) + "}" if matchers else ""


def error_ratio(slo: SLOOptions, window: str) -> str:
    """PromQL: the share of bad calls over ``window``, per pipeline (0 with no bad call)."""
    by = f"sum by ({_PIPELINE})"
    total = f"{by} (rate({DURATION}_count{_selector(slo)}[{window}]))"
    if slo.latency_threshold is None:
        bad_outcomes = "|".join(BAD_OUTCOMES)
        bad_sel = _selector(slo, f'{_OUTCOME}=~"{bad_outcomes}"')
        bad = f"{by} (rate({DURATION}_count{bad_sel}[{window}]))"
        return f"({bad} or {total} * 0) / {total}"
    bucket_sel = _selector(slo, f'le="{le_value(slo.latency_threshold)}"')
    fast = f"{by} (rate({DURATION}_bucket{bucket_sel}[{window}]))"
    return f"1 - {fast} / {total}"


def _check(slo: SLOOptions) -> None:
    threshold = slo.latency_threshold
    if threshold is not None and float(threshold) not in semconv.DURATION_BUCKETS:
        bounds = ", ".join(f"{b:g}" for b in semconv.DURATION_BUCKETS)
        raise ValueError(
            f"latency_threshold must be a bucket bound of {semconv.METRIC_PIPELINE_DURATION} "
            f"for Prometheus rules ({bounds}), got {threshold!r} (SLO {slo.name!r})"
        )


def _literal(text: str) -> str:
    """``text`` as a Go template that renders it verbatim (alert labels are templates)."""
    return f"{{{{ {quote(text)} }}}}" if "{{" in text else text


def _group(slo: SLOOptions) -> dict[str, Any]:
    _check(slo)
    labels = {"slo": slo.name}
    budget = f"(1 - {slo.objective!r})"
    long_window = format_window(slo.window)
    records: list[dict[str, Any]] = [
        {"record": ratio_record(w), "expr": error_ratio(slo, w), "labels": labels}
        for w in dict.fromkeys((*BURN_WINDOWS, long_window))
    ]
    records.append(
        {
            "record": BUDGET_RECORD,
            "expr": f"1 - {ratio_record(long_window)}{{slo={quote(slo.name)}}} / {budget}",
            "labels": labels,
        }
    )
    alerts = []
    for name, severity in ((ALERT_FAST, "page"), (ALERT_SLOW, "ticket")):
        pairs = [a for a in BURN_ALERTS if a.severity == severity]
        sel = f"{{slo={quote(slo.name)}}}"
        expr = " or ".join(
            f"({ratio_record(a.long)}{sel} > ({a.factor!r} * {budget}) and "
            f"{ratio_record(a.short)}{sel} > ({a.factor!r} * {budget}))"
            for a in pairs
        )
        windows = ", ".join(f"{a.long}/{a.short} over {a.factor:g}x" for a in pairs)
        alerts.append(
            {
                "alert": name,
                "expr": expr,
                "for": _FOR[severity],
                "labels": {"slo": _literal(slo.name), "severity": severity},
                "annotations": {
                    # The label, not the name: annotations are Go templates, and a name
                    # holding "{{" would be parsed as one.
                    "summary": "SLO {{ $labels.slo }} is burning its error budget "
                    f"{'fast' if severity == 'page' else 'slowly'}",
                    "description": f"Objective {slo.objective * 100:g} % over {long_window}; "
                    f"burn rate {windows} (multi-window, multi-burn-rate).",
                },
            }
        )
    return {"name": f"resilience-slo-{slo.name}", "rules": [*records, *alerts]}


def rules(slos: Iterable[SLOOptions] = ()) -> dict[str, Any]:
    """The rule file (as a dict) for ``slos``; the default availability SLO when empty.

    Raises ValueError for a latency threshold that is not a bucket bound of the histogram.
    """
    chosen: Sequence[SLOOptions] = list(slos) or [DEFAULT_SLO]
    return {"groups": [_group(slo) for slo in chosen]}


def rules_text(slos: Iterable[SLOOptions] = ()) -> str:
    """The rule file as YAML (every scalar double-quoted, so no expression needs escaping)."""
    return "".join(_yaml(rules(slos), 0)) + "\n"


def _yaml(value: Any, indent: int) -> Iterable[str]:
    pad = "  " * indent
    if isinstance(value, dict):
        for i, (key, item) in enumerate(value.items()):
            sep = "\n" if i or indent else ""
            if isinstance(item, (dict, list)):
                yield f"{sep}{pad}{key}:"
                yield from _yaml(item, indent + 1)
            else:
                text = quote(item) if isinstance(item, str) else json.dumps(item)
                yield f"{sep}{pad}{key}: {text}"
    else:
        for item in value:
            inner = "".join(_yaml(item, indent + 1)).lstrip("\n")
            yield f"\n{pad}- {inner.lstrip()}"
