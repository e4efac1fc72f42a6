"""The Grafana dashboard of the telemetry contract, built with grafana-foundation-sdk.

``otel-resilience dashboard`` prints it: the bare dashboard JSON (Dashboards > New > Import in
Grafana), its Prometheus data source picked by the ``datasource`` variable. Every query is
built from the contract's names (:mod:`otel_resilience.slo._promql`), and the e2e suite runs
each one against a real Prometheus that scraped our metrics.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from otel_resilience import semconv
from otel_resilience.slo._promql import DURATION, EVENTS, label, metric
from otel_resilience.slo._rules import BUDGET_RECORD

__all__ = ["PANELS", "Panel", "dashboard", "dashboard_json"]

# OpenTelemetry GenAI semantic conventions (the names of issue 10's LLM telemetry); not emitted
# by the core yet, so not in semconv.py: move them there when the GenAI instrumentation lands.
GEN_AI_TOKEN_USAGE = "gen_ai.client.token.usage"  # histogram, unit {token}
GEN_AI_TIME_TO_FIRST_CHUNK = "gen_ai.client.operation.time_to_first_chunk"  # histogram, s
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_TOKEN_TYPE = "gen_ai.token.type"

_PIPELINE = label(semconv.PIPELINE_NAME)
_BREAKER = label(semconv.CIRCUIT_BREAKER_NAME)
_STATE = label(semconv.CIRCUIT_BREAKER_STATE)
_BREAKER_GAUGE = metric(semconv.METRIC_CIRCUIT_BREAKER_STATE)
_MODEL = label(GEN_AI_REQUEST_MODEL)
_RATE = "$__rate_interval"
#: Decisions shown as "retries and rejections": a retry, or a call refused by a strategy.
_REFUSALS = (
    semconv.EVENT_RETRY,
    semconv.EVENT_CIRCUIT_REJECTED,
    semconv.EVENT_BULKHEAD_REJECTED,
    semconv.EVENT_RATE_LIMITED,
)


@dataclass(frozen=True, slots=True)
class Panel:
    """One panel: its kind, title, unit and ``(PromQL, legend)`` queries."""

    kind: str  # "state", "timeseries", "heatmap"
    title: str
    queries: tuple[tuple[str, str], ...]
    unit: str = "short"
    description: str = ""


def _state_value(state: str) -> str:
    return f"max by ({_BREAKER}) ({_BREAKER_GAUGE}{{{_STATE}={json.dumps(state)}}})"


#: The panels, top to bottom. A breaker's state is one number: 0 closed, 1 half-open, 2 open.
PANELS: tuple[Panel, ...] = (
    Panel(
        "state",
        "Circuit breaker states",
        (
            (
                f"{_state_value(semconv.CIRCUIT_STATE_HALF_OPEN)} + 2 * "
                f"{_state_value(semconv.CIRCUIT_STATE_OPEN)}",
                f"{{{{{_BREAKER}}}}}",
            ),
        ),
        description="Each breaker's state over time (resilience.circuit_breaker.state).",
    ),
    Panel(
        "timeseries",
        "Retries and rejections per pipeline",
        (
            (
                f"sum by ({_PIPELINE}, {label(semconv.EVENT)}) (rate({EVENTS}"
                f'{{{label(semconv.EVENT)}=~"{"|".join(_REFUSALS)}"}}[{_RATE}]))',
                f"{{{{{_PIPELINE}}}}} {{{{{label(semconv.EVENT)}}}}}",
            ),
        ),
        unit="ops",
        description="Retries scheduled and calls refused by a breaker, bulkhead or rate "
        "limiter, per second (resilience.events).",
    ),
    Panel(
        "heatmap",
        "Call latency",
        ((f"sum by (le) (rate({DURATION}_bucket[{_RATE}]))", "{{le}}"),),
        unit="s",
        description="Whole calls, retries included (resilience.pipeline.duration buckets).",
    ),
    Panel(
        "timeseries",
        "Error budget remaining",
        (
            (
                metric(semconv.METRIC_SLO_ERROR_BUDGET_REMAINING),
                f"{{{{{label(semconv.SLO_NAME)}}}}} (in process)",
            ),
            (BUDGET_RECORD, f"{{{{slo}}}} {{{{{_PIPELINE}}}}} (rules)"),
        ),
        unit="percentunit",
        description="Share of each SLO's error budget left: from in-process SLOs "
        "(resilience.slo.error_budget.remaining) and from `otel-resilience slo rules`.",
    ),
    Panel(
        "timeseries",
        "GenAI tokens per model",
        (
            (
                f"sum by ({_MODEL}, {label(GEN_AI_TOKEN_TYPE)}) "
                f"(rate({metric(GEN_AI_TOKEN_USAGE)}_sum[{_RATE}]))",
                f"{{{{{_MODEL}}}}} {{{{{label(GEN_AI_TOKEN_TYPE)}}}}}",
            ),
        ),
        unit="short",
        description="Tokens per second by model and type (gen_ai.client.token.usage).",
    ),
    Panel(
        "timeseries",
        "GenAI time to first chunk per model (p95)",
        (
            (
                f"histogram_quantile(0.95, sum by (le, {_MODEL}) "
                f"(rate({metric(GEN_AI_TIME_TO_FIRST_CHUNK, '_seconds')}_bucket[{_RATE}])))",
                f"{{{{{_MODEL}}}}}",
            ),
        ),
        unit="s",
        description="95th percentile of gen_ai.client.operation.time_to_first_chunk.",
    ),
)


def dashboard(title: str = "otel-resilience", uid: str = "otel-resilience") -> dict[str, Any]:
    """The dashboard as a JSON-ready dict (ImportError without grafana-foundation-sdk)."""
    from grafana_foundation_sdk.builders import dashboard as dash
    from grafana_foundation_sdk.builders import heatmap, prometheus, statetimeline, timeseries
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.models import dashboard as model
    from grafana_foundation_sdk.models.prometheus import PromQueryFormat

    source = model.DataSourceRef(type_val="prometheus", uid="${datasource}")
    builder = (
        dash.Dashboard(title)
        .uid(uid)
        .tags(["otel-resilience", "resilience", "slo"])
        .refresh("30s")
        .time("now-6h", "now")
        .with_variable(dash.DatasourceVariable("datasource").label("Prometheus").type("prometheus"))
    )
    states = model.ValueMap(
        {
            "0": model.ValueMappingResult(text="closed", color="green", index=0),
            "1": model.ValueMappingResult(text="half_open", color="yellow", index=1),
            "2": model.ValueMappingResult(text="open", color="red", index=2),
        }
    )
    for i, spec in enumerate(PANELS):
        panel: Any
        if spec.kind == "state":
            panel = statetimeline.Panel().mappings([states])
        elif spec.kind == "heatmap":
            panel = heatmap.Panel().calculate(False)
        else:
            panel = timeseries.Panel()
        panel = (
            panel.title(spec.title)
            .description(spec.description)
            .datasource(source)
            .unit(spec.unit)
            .grid_pos(model.GridPos(h=8, w=12, x=12 * (i % 2), y=8 * (i // 2)))
        )
        for j, (expr, legend) in enumerate(spec.queries):
            query = prometheus.Dataquery().expr(expr).legend_format(legend).ref_id("ABCD"[j])
            if spec.kind == "heatmap":
                query = query.format(PromQueryFormat.HEATMAP)
            panel = panel.with_target(query.range())
        builder = builder.with_panel(panel)
    built: dict[str, Any] = json.loads(json.dumps(builder.build(), cls=JSONEncoder))
    return built


def dashboard_json(title: str = "otel-resilience", uid: str = "otel-resilience") -> str:
    """The dashboard JSON text, or a ValueError saying how to install the library."""
    try:
        import grafana_foundation_sdk  # noqa: F401
    except ImportError as exc:
        raise ValueError(
            "the dashboard is built with grafana-foundation-sdk (Python 3.11+): "
            "pip install 'otel-resilience[dashboards]'"
        ) from exc
    return json.dumps(dashboard(title, uid), indent=2) + "\n"
