"""Traces reach a real OTLP backend (Arize Phoenix) over gRPC and HTTP, and read back intact."""

from __future__ import annotations

from typing import Any

import pytest
from e2e_support import poll

from otel_resilience import semconv

pytestmark = pytest.mark.e2e


def attrs(span: dict[str, Any]) -> dict[str, Any]:
    """A Phoenix span's attributes as a flat dict."""
    raw = span.get("attributes") or {}
    if isinstance(raw, list):  # key/value list shape
        return {a["key"]: _value(a["value"]) for a in raw}
    return dict(raw)


def _value(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        ((kind, inner),) = value.items()
        if kind.endswith("_value") or kind.endswith("Value"):
            return float(inner) if kind.startswith("double") else inner
    return value


def events(span: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """Events called ``name`` on a span, with their attributes flattened."""
    return [
        {**ev, "attributes": attrs(ev)} for ev in span.get("events") or [] if ev.get("name") == name
    ]


def exporter_env(protocol: str, phoenix: Any) -> dict[str, str]:
    """OTEL_* settings for configure(): traces over OTLP ``protocol`` to Phoenix, nothing else."""
    env = {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
        "OTEL_BSP_SCHEDULE_DELAY": "200",
    }
    if protocol == "grpc":
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://127.0.0.1:{phoenix.grpc_port}"
        env["OTEL_EXPORTER_OTLP_INSECURE"] = "true"
    else:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = phoenix.base_url
    return env


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_retries_and_breaker_opening_reach_phoenix(
    protocol: str, phoenix: Any, run_app: Any, run_id: str
) -> None:
    """Pipeline spans with retry and breaker-transition events arrive in Phoenix via OTLP."""
    result = run_app(["workload", run_id], exporter_env(protocol, phoenix)).check()
    assert result["checkout_outcomes"] == ["DependencyDown", "DependencyDown", "CircuitOpenError"]
    assert result["search_result"] == "results"

    checkout = result["checkout"]
    spans = poll(
        f"3 {checkout} spans in Phoenix",
        lambda: (s := phoenix.spans(name=checkout, limit=100)) and len(s) >= 3 and s,
        deadline_s=30,
    )
    assert len(spans) == 3
    for span in spans:
        assert span["name"] == checkout
        assert span.get("parent_id") in (None, ""), "each pipeline call is a root span"
        a = attrs(span)
        assert a[semconv.PIPELINE_NAME] == checkout
        assert a[semconv.OUTCOME] in (semconv.OUTCOME_FAILURE, semconv.OUTCOME_REJECTED)

    by_outcome: dict[str, list[dict[str, Any]]] = {}
    for span in spans:
        by_outcome.setdefault(attrs(span)[semconv.OUTCOME], []).append(span)
    failed = by_outcome.get(semconv.OUTCOME_FAILURE, [])
    rejected = by_outcome.get(semconv.OUTCOME_REJECTED, [])
    assert len(failed) == 2, [attrs(s) for s in spans]
    assert len(rejected) == 1, [attrs(s) for s in spans]

    for span in failed:
        a = attrs(span)
        assert int(a[semconv.ATTEMPTS]) == 3
        assert "DependencyDown" in str(a[semconv.ERROR_TYPE])
        assert span["status_code"] == "ERROR"
        retries = events(span, semconv.SPAN_EVENT_RETRY)
        assert len(retries) == 2, span.get("events")
        numbers = sorted(int(e["attributes"][semconv.ATTEMPT_NUMBER]) for e in retries)
        assert len(set(numbers)) == 2
        assert numbers[0] >= 1
        delays = sorted(float(e["attributes"][semconv.RETRY_DELAY]) for e in retries)
        assert delays == pytest.approx([0.5, 1.0]), "exponential from 0.5 s, no jitter"
        for ev in retries:
            assert "DependencyDown" in str(ev["attributes"][semconv.ERROR_TYPE])
        assert len(events(span, semconv.SPAN_EVENT_ATTEMPT)) == 3

    # Exactly one transition in the run: closed -> open, on the second failing call's span.
    changes = [ev for span in spans for ev in events(span, semconv.SPAN_EVENT_CIRCUIT_STATE_CHANGE)]
    assert len(changes) == 1, [s.get("events") for s in spans]
    change = changes[0]["attributes"]
    assert change[semconv.CIRCUIT_BREAKER_NAME] == result["breaker"]
    assert change[semconv.CIRCUIT_BREAKER_PREVIOUS_STATE] == "closed"
    assert change[semconv.CIRCUIT_BREAKER_STATE] == "open"
    assert int(attrs(rejected[0])[semconv.ATTEMPTS]) <= 1

    # The flaky pipeline: one retry, then success, status not ERROR.
    (search,) = poll(
        "the search span in Phoenix",
        lambda: phoenix.spans(name=result["search"], limit=10),
        deadline_s=30,
    )
    a = attrs(search)
    assert a[semconv.OUTCOME] == semconv.OUTCOME_SUCCESS
    assert int(a[semconv.ATTEMPTS]) == 2
    assert search["status_code"] != "ERROR"
    assert len(events(search, semconv.SPAN_EVENT_RETRY)) == 1
    assert semconv.ERROR_TYPE not in a


def test_attribute_filter_finds_pipeline_spans(phoenix: Any, run_app: Any, run_id: str) -> None:
    """Phoenix's attribute filter finds spans by resilience.pipeline.name sent over gRPC."""
    result = run_app(["workload", run_id], exporter_env("grpc", phoenix)).check()
    spans = poll(
        "spans filtered by pipeline-name attribute",
        lambda: phoenix.spans(attribute=f"{semconv.PIPELINE_NAME}:{result['search']}", limit=10),
        deadline_s=30,
    )
    assert {s["name"] for s in spans} == {result["search"]}


def test_async_calls_reach_phoenix(phoenix: Any, run_app: Any, run_id: str) -> None:
    """Spans of ``await pipeline.acall(...)``, sequential and concurrent, arrive intact."""
    result = run_app(["async-workload", run_id], exporter_env("http/protobuf", phoenix)).check()
    assert result["checkout_outcomes"] == ["DependencyDown", "DependencyDown", "CircuitOpenError"]
    assert result["search_result"] == "results"
    assert result["sleeps"] == [0.5, 1.0, 0.5, 1.0, 0.5], "retries slept on the clock's asleep"
    fanout = len(result["fanout_results"])
    assert result["fanout_results"] == list(range(fanout))

    checkout = poll(
        "3 async checkout spans in Phoenix",
        lambda: (s := phoenix.spans(name=result["checkout"], limit=100)) and len(s) >= 3 and s,
        deadline_s=30,
    )
    outcomes = sorted(attrs(span)[semconv.OUTCOME] for span in checkout)
    assert outcomes == [semconv.OUTCOME_FAILURE] * 2 + [semconv.OUTCOME_REJECTED]
    for span in checkout:
        if attrs(span)[semconv.OUTCOME] == semconv.OUTCOME_FAILURE:
            assert int(attrs(span)[semconv.ATTEMPTS]) == 3
            delays = sorted(
                float(e["attributes"][semconv.RETRY_DELAY])
                for e in events(span, semconv.SPAN_EVENT_RETRY)
            )
            assert delays == pytest.approx([0.5, 1.0])
    # The transition is recorded on the span of the awaited call that opened the breaker.
    changes = [
        (span, ev)
        for span in checkout
        for ev in events(span, semconv.SPAN_EVENT_CIRCUIT_STATE_CHANGE)
    ]
    assert len(changes) == 1, [s.get("events") for s in checkout]
    opened_in, change = changes[0]
    assert attrs(opened_in)[semconv.OUTCOME] == semconv.OUTCOME_FAILURE
    assert change["attributes"][semconv.CIRCUIT_BREAKER_STATE] == "open"

    (search,) = poll(
        "the async search span in Phoenix",
        lambda: phoenix.spans(name=result["search"], limit=10),
        deadline_s=30,
    )
    assert attrs(search)[semconv.OUTCOME] == semconv.OUTCOME_SUCCESS
    assert int(attrs(search)[semconv.ATTEMPTS]) == 2

    # Concurrent calls on one event loop: each is its own root span, none leaks into another.
    fanned = poll(
        f"{fanout} concurrent fanout spans in Phoenix",
        lambda: (s := phoenix.spans(name=result["fanout"], limit=100)) and len(s) >= fanout and s,
        deadline_s=30,
    )
    assert len(fanned) == fanout
    assert all(span.get("parent_id") in (None, "") for span in fanned)
    assert len({span["context"]["trace_id"] for span in fanned}) == fanout
    assert all(attrs(s)[semconv.OUTCOME] == semconv.OUTCOME_SUCCESS for s in fanned)
