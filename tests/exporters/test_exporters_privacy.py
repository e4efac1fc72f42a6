"""Redaction across the whole pipeline: resource, scope, events, GenAI content, processors
added the SDK way, and metrics through jsonl and a real Prometheus scrape."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from exporters_support import closed_port
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from otel_resilience_exporters import build

SECRETS = ("alice@example.com", "bob@example.com", "carol@example.com", "hunter2", "s3cr3t")


def _jsonl(path: Path) -> dict[str, list[dict[str, Any]]]:
    by_signal: dict[str, list[dict[str, Any]]] = {}
    for line in path.read_text().splitlines():
        obj = json.loads(line)
        by_signal.setdefault(obj["signal"], []).append(obj)
    return by_signal


def test_resource_and_scope_attributes_are_scrubbed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Resource (arguments and OTEL_RESOURCE_ATTRIBUTES) and scope attributes are scrubbed."""
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "owner.email=alice@example.com")
    spans, logs = InMemorySpanExporter(), InMemoryLogRecordExporter()
    handle = build(
        "svc",
        exporter="none",
        resource_attributes={"deploy.api_key": "s3cr3t"},
        span_exporters=[spans],
        log_exporters=[logs],
    )
    assert handle.tracer_provider.resource.attributes["owner.email"] == "[REDACTED:email]"
    scope_attrs = {"scope.owner": "bob@example.com", "api_key": "hunter2"}
    tracer = handle.tracer_provider.get_tracer("lib", attributes=scope_attrs)
    with tracer.start_as_current_span("s"):
        pass
    handle.logger_provider.get_logger("lib", attributes=scope_attrs).emit(body="hi")
    assert handle.flush()
    (span,) = spans.get_finished_spans()
    (record,) = logs.get_finished_logs()
    for resource, scope in (
        (span.resource, span.instrumentation_scope),
        (record.resource, record.instrumentation_scope),
    ):
        assert resource.attributes["owner.email"] == "[REDACTED:email]"
        assert resource.attributes["deploy.api_key"] == "[REDACTED]"
        assert resource.attributes["service.name"] == "svc"
        assert scope is not None
        assert dict(scope.attributes or {}) == {
            "scope.owner": "[REDACTED:email]",
            "api_key": "[REDACTED]",
        }
    handle.shutdown()


def test_log_event_name_and_bytes_body_are_scrubbed() -> None:
    """A log record's event name and a bytes body are scrubbed too."""
    logs = InMemoryLogRecordExporter()
    handle = build(exporter="none", log_exporters=[logs])
    handle.logger_provider.get_logger("l").emit(
        event_name="user carol@example.com",
        body=b"bob@example.com 4111 1111 1111 1111",
        attributes={"blob": b"alice@example.com", "pwd": "hunter2"},
    )
    assert handle.flush()
    (record,) = (r.log_record for r in logs.get_finished_logs())
    assert record.event_name == "user [REDACTED:email]"
    assert record.body == "[REDACTED:email] [REDACTED:credit_card]"
    assert (record.attributes or {})["blob"] == "[REDACTED:email]"
    assert (record.attributes or {})["pwd"] == "[REDACTED]"
    handle.shutdown()


def _genai_telemetry(**kw: Any) -> tuple[dict[str, Any], Any]:
    spans, logs = InMemorySpanExporter(), InMemoryLogRecordExporter()
    handle = build(exporter="none", span_exporters=[spans], log_exporters=[logs], **kw)
    attrs = {
        "gen_ai.prompt.0.content": "my prompt",
        "gen_ai.completion.0.content": "the answer",
        "gen_ai.input.messages": '[{"role": "user"}]',
        "gen_ai.output.messages": "[]",
        "gen_ai.system_instructions": "be nice",
        "gen_ai.usage.input_tokens": 12,
    }
    with handle.tracer_provider.get_tracer("t").start_as_current_span("chat", attributes=attrs):
        handle.logger_provider.get_logger("l").emit(
            event_name="gen_ai.user.message", body={"content": "my prompt"}
        )
    assert handle.flush()
    span_attrs = dict(spans.get_finished_spans()[0].attributes or {})
    body = logs.get_finished_logs()[0].log_record.body
    handle.shutdown()
    return span_attrs, body


def test_genai_content_is_dropped_by_default() -> None:
    """Prompt/response attributes and gen_ai.* event bodies are dropped unless opted in."""
    span_attrs, body = _genai_telemetry()
    assert span_attrs == {"gen_ai.usage.input_tokens": 12}
    assert body is None


@pytest.mark.parametrize("via_env", [False, True])
def test_genai_content_kept_when_opted_in(monkeypatch: pytest.MonkeyPatch, via_env: bool) -> None:
    """capture_content=True or OTEL_RESILIENCE_CAPTURE_CONTENT=true keeps the content."""
    if via_env:
        monkeypatch.setenv("OTEL_RESILIENCE_CAPTURE_CONTENT", "true")
    span_attrs, body = _genai_telemetry(**({} if via_env else {"capture_content": True}))
    assert span_attrs["gen_ai.prompt.0.content"] == "my prompt"
    assert span_attrs["gen_ai.system_instructions"] == "be nice"
    assert body == {"content": "my prompt"}


def test_processors_added_the_sdk_way_see_scrubbed_data() -> None:
    """tracer_provider/logger_provider.add_*_processor run behind redaction."""
    handle = build(exporter="none")
    spans, logs = InMemorySpanExporter(), InMemoryLogRecordExporter()
    handle.tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    handle.logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    tracer = handle.tracer_provider.get_tracer("t")
    with tracer.start_as_current_span("s", attributes={"user.email": "alice@example.com"}):
        handle.logger_provider.get_logger("l").emit(body="mail bob@example.com")
    (span,) = spans.get_finished_spans()
    assert dict(span.attributes or {}) == {"user.email": "[REDACTED:email]"}
    assert logs.get_finished_logs()[0].log_record.body == "mail [REDACTED:email]"
    handle.shutdown()


def test_jsonl_metrics_are_scrubbed_and_merged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Metric, resource attributes are scrubbed; series that collapse are merged, not doubled."""
    path = tmp_path / "m.jsonl"
    monkeypatch.setenv("OTEL_RESILIENCE_JSONL_PATH", str(path))
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "owner.email=alice@example.com")
    handle = build(
        "svc",
        exporter="jsonl",
        views=[View(instrument_name="size", aggregation=ExponentialBucketHistogramAggregation())],
    )
    meter = handle.meter_provider.get_meter("m")
    counter = meter.create_counter("logins")
    counter.add(2, {"user.email": "alice@example.com", "session_token": "hunter2"})
    counter.add(3, {"user.email": "bob@example.com", "session_token": "s3cr3t"})
    counter.add(1, {"route": "/a"})
    meter.create_gauge("temp").set(5, {"host": "carol@example.com"})
    duration = meter.create_histogram("http.server.request.duration", unit="s")
    duration.record(0.02, {"user": "alice@example.com"})
    duration.record(2.0, {"user": "bob@example.com"})
    size = meter.create_histogram("size")
    size.record(10, {"user": "alice@example.com"})
    size.record(1000, {"user": "bob@example.com"})
    assert handle.shutdown()
    text = path.read_text()
    for secret in SECRETS:
        assert secret not in text
    points: dict[str, list[dict[str, Any]]] = {}
    for p in _jsonl(path)["metric"]:
        points.setdefault(p["name"], []).append(p)
    logins = {json.dumps(p["attributes"], sort_keys=True): p["value"] for p in points["logins"]}
    masked = {"session_token": "[REDACTED]", "user.email": "[REDACTED:email]"}
    assert logins == {json.dumps(masked, sort_keys=True): 5, '{"route": "/a"}': 1}
    (hist,) = points["http.server.request.duration"]
    assert (hist["count"], hist["sum"], hist["min"], hist["max"]) == (2, 2.02, 0.02, 2.0)
    (exp,) = points["size"]
    assert (exp["count"], exp["sum"]) == (2, 1010)
    assert points["temp"][0]["attributes"] == {"host": "[REDACTED:email]"}
    assert points["logins"][0]["resource"]["owner.email"] == "[REDACTED:email]"


def test_prometheus_scrape_is_scrubbed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real scrape endpoint serves scrubbed labels, scope labels and target_info."""
    port = closed_port()
    monkeypatch.setenv("OTEL_EXPORTER_PROMETHEUS_PORT", str(port))
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "owner.email=alice@example.com")
    handle = build("svc", exporter="prometheus")
    meter = handle.meter_provider.get_meter("m", attributes={"team.lead": "carol@example.com"})
    counter = meter.create_counter("logins")
    counter.add(2, {"user.email": "alice@example.com", "api_key": "hunter2"})
    counter.add(3, {"user.email": "bob@example.com", "api_key": "s3cr3t"})
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        body = resp.read().decode()
    handle.shutdown()
    for secret in SECRETS:
        assert secret not in body
    samples = [line for line in body.splitlines() if line.startswith("logins_total{")]
    assert len(samples) == 1, samples  # merged: one series, not two identical label sets
    assert 'user_email="[REDACTED:email]"' in samples[0]
    assert 'api_key="[REDACTED]"' in samples[0]
    assert 'otel_scope_team_lead="[REDACTED:email]"' in samples[0]
    assert samples[0].endswith(" 5.0")
    assert 'owner_email="[REDACTED:email]"' in body  # target_info
