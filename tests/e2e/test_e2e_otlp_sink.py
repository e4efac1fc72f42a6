"""The raw OTLP payload of all three signals, received by oteltest's sink over gRPC and HTTP."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from e2e_support import kv, otlp_logs, otlp_metrics, otlp_spans, poll
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from otel_resilience import semconv

pytestmark = pytest.mark.e2e

SERVICE = "otel-resilience-e2e-sink"


def sink_env(sink: Any) -> dict[str, str]:
    """OTEL_* settings sending traces, metrics and logs to ``sink`` over its protocol.

    Compression stays at the exporters' default (none): oteltest's HTTP sink cannot read gzip.
    """
    return {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_LOGS_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": sink.endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc" if sink.protocol == "grpc" else "http/protobuf",
        "OTEL_EXPORTER_OTLP_INSECURE": "true",
        "E2E_SERVICE_NAME": SERVICE,
    }


def latest_points(metrics: list[tuple[dict[str, Any], Any, Any]], name: str) -> list[Any]:
    """Data points of the last export of metric ``name`` (cumulative: the final totals)."""
    found = [m for _, _, m in metrics if m.name == name]
    assert found, f"metric {name} never arrived; got {sorted({m.name for _, _, m in metrics})}"
    last = found[-1]
    kind = last.WhichOneof("data")
    return list(getattr(last, kind).data_points)


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_traces_metrics_and_logs_arrive_with_contract_names(
    protocol: str, otlp_sink: Any, run_app: Any, run_id: str
) -> None:
    """Spans, metrics and breaker log events reach an OTLP receiver with the contract's names."""
    sink = otlp_sink(protocol)
    result = run_app(["workload", run_id], sink_env(sink)).check()
    checkout, search, breaker = result["checkout"], result["search"], result["breaker"]
    tel = sink.telemetry

    # shutdown() returned, so everything is exported; tolerate the handler thread lagging.
    poll("spans, metrics and logs in the sink", lambda: otlp_spans(tel) and otlp_logs(tel), 10)

    # --- traces -----------------------------------------------------------------------------
    spans = otlp_spans(tel)
    names = Counter(span.name for _, _, span in spans)
    assert names[checkout] == 3, names
    assert names[search] == 1, names
    for resource, scope, span in spans:
        assert scope.name == semconv.SCOPE_NAME
        assert span.kind == trace_pb2.Span.SpanKind.SPAN_KIND_INTERNAL
        assert resource["service.name"] == SERVICE
        assert kv(span.attributes)[semconv.PIPELINE_NAME] == span.name
    opened_in = [
        span
        for _, _, span in spans
        if any(e.name == semconv.SPAN_EVENT_CIRCUIT_STATE_CHANGE for e in span.events)
    ]
    assert len(opened_in) == 1
    failed = [s for _, _, s in spans if kv(s.attributes)[semconv.OUTCOME] == "failure"]
    assert len(failed) == 2
    for span in failed:
        assert span.status.code == trace_pb2.Status.StatusCode.STATUS_CODE_ERROR
        assert kv(span.attributes)[semconv.ATTEMPTS] == 3

    # --- logs: one breaker transition, correlated with the span that opened it ---------------
    records = [
        (resource, scope, rec)
        for resource, scope, rec in otlp_logs(tel)
        if rec.event_name == semconv.LOG_EVENT_CIRCUIT_STATE_CHANGE
    ]
    assert len(records) == 1, [r.event_name for _, _, r in otlp_logs(tel)]
    resource, scope, record = records[0]
    assert scope.name == semconv.SCOPE_NAME
    assert resource["service.name"] == SERVICE
    attrs = kv(record.attributes)
    assert attrs[semconv.CIRCUIT_BREAKER_NAME] == breaker
    assert attrs[semconv.CIRCUIT_BREAKER_PREVIOUS_STATE] == "closed"
    assert attrs[semconv.CIRCUIT_BREAKER_STATE] == "open"
    assert record.trace_id == opened_in[0].trace_id, "log record carries the call's trace"
    assert record.span_id == opened_in[0].span_id

    # --- metrics ----------------------------------------------------------------------------
    metrics = otlp_metrics(tel)
    ours = [(scope, m) for _, scope, m in metrics if m.name.startswith("resilience.")]
    assert {m.name for _, m in ours} == {
        semconv.METRIC_PIPELINE_DURATION,
        semconv.METRIC_EVENTS,
        semconv.METRIC_CIRCUIT_BREAKER_STATE,
    }
    for scope, _metric in ours:
        assert scope.name == semconv.SCOPE_NAME

    by_name = {m.name: m for _, m in ours}
    duration = by_name[semconv.METRIC_PIPELINE_DURATION]
    assert duration.unit == "s"
    assert duration.WhichOneof("data") == "histogram"
    assert list(duration.histogram.data_points[0].explicit_bounds) == list(semconv.DURATION_BUCKETS)
    counts = Counter()
    for point in latest_points(metrics, semconv.METRIC_PIPELINE_DURATION):
        counts[kv(point.attributes)[semconv.PIPELINE_NAME]] += point.count
    assert counts[checkout] == 3
    assert counts[search] == 1

    events_metric = by_name[semconv.METRIC_EVENTS]
    assert events_metric.WhichOneof("data") == "sum"
    assert events_metric.sum.is_monotonic
    assert (
        events_metric.sum.aggregation_temporality
        == metrics_pb2.AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
    )
    events = Counter()
    for point in latest_points(metrics, semconv.METRIC_EVENTS):
        a = kv(point.attributes)
        events[(a[semconv.PIPELINE_NAME], a[semconv.STRATEGY], a[semconv.EVENT])] += point.as_int
    assert events[(checkout, semconv.STRATEGY_RETRY, semconv.EVENT_RETRY)] == 4
    assert events[(checkout, semconv.STRATEGY_RETRY, semconv.EVENT_RETRY_EXHAUSTED)] == 2
    opened = (checkout, semconv.STRATEGY_CIRCUIT_BREAKER, semconv.EVENT_CIRCUIT_OPENED)
    assert events[opened] == 1
    rejected = (checkout, semconv.STRATEGY_CIRCUIT_BREAKER, semconv.EVENT_CIRCUIT_REJECTED)
    assert events[rejected] == 1
    assert events[(search, semconv.STRATEGY_RETRY, semconv.EVENT_RETRY)] == 1

    state = by_name[semconv.METRIC_CIRCUIT_BREAKER_STATE]
    assert state.WhichOneof("data") == "gauge"
    values = {}
    for point in latest_points(metrics, semconv.METRIC_CIRCUIT_BREAKER_STATE):
        a = kv(point.attributes)
        if a[semconv.CIRCUIT_BREAKER_NAME] == breaker:
            values[a[semconv.CIRCUIT_BREAKER_STATE]] = point.as_int or point.as_double
    assert values["open"] == 1, values
    assert sum(values.values()) == 1, values
