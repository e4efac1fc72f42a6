"""DebugCollector: bounded ring, conditional capture of whole traces, request inspector."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Status, StatusCode
from otel_resilience_exporters import DebugCollector


def _providers(collector: DebugCollector) -> tuple[TracerProvider, LoggerProvider]:
    tp, lp = TracerProvider(), LoggerProvider()
    tp.add_span_processor(collector)
    lp.add_log_record_processor(collector)
    return tp, lp


def test_ring_is_bounded() -> None:
    """The ring keeps the newest max_spans spans and max_logs log records."""
    collector = DebugCollector(max_spans=3, max_logs=2)
    tp, lp = _providers(collector)
    tracer, logger = tp.get_tracer("t"), lp.get_logger("l")
    for i in range(10):
        with tracer.start_as_current_span(f"s{i}"):
            logger.emit(body=f"log {i}")
    assert [s.name for s in collector.spans()] == ["s7", "s8", "s9"]
    assert [r.log_record.body for r in collector.logs()] == ["log 8", "log 9"]


def test_capture_keeps_the_whole_trace() -> None:
    """A matching span keeps its trace: spans and logs already in the ring and those after,
    while other traces age out of the ring."""
    collector = DebugCollector(
        max_spans=4,
        capture=lambda s: (
            s.get("error.type") == "openai.RateLimitError" and s.get("resilience.attempts", 0) > 2
        ),
    )
    tp, lp = _providers(collector)
    tracer, logger = tp.get_tracer("t"), lp.get_logger("l")
    with tracer.start_as_current_span("request") as root:
        with tracer.start_as_current_span("db"):
            logger.emit(body="query ok")
        with tracer.start_as_current_span("llm") as llm:
            llm.set_attributes({"error.type": "openai.RateLimitError", "resilience.attempts": 3})
            llm.set_status(Status(StatusCode.ERROR))
        logger.emit(body="after the match")
    for i in range(10):
        with tracer.start_as_current_span(f"other{i}"):
            pass
    kept = collector.kept_traces()
    trace_id = format(root.get_span_context().trace_id, "032x")
    assert list(kept) == [trace_id]
    spans, logs = kept[trace_id]
    assert [s.name for s in spans] == ["db", "llm", "request"]
    assert [r.log_record.body for r in logs] == ["query ok", "after the match"]
    assert "request" not in [s.name for s in collector.spans()]


def test_raising_predicate_and_inactive_collector() -> None:
    """A predicate that raises matches nothing; an inactive collector keeps nothing."""

    def broken(_facts: object) -> bool:
        raise RuntimeError("bad predicate")

    collector = DebugCollector(capture=broken)
    idle = DebugCollector(active=False)
    tp = TracerProvider()
    tp.add_span_processor(collector)
    tp.add_span_processor(idle)
    with tp.get_tracer("t").start_as_current_span("x"):
        pass
    assert collector.kept_traces() == {}
    assert [s.name for s in collector.spans()] == ["x"]
    assert idle.spans() == []


def test_request_inspector_redacts_headers_and_content() -> None:
    """HTTP/LLM spans become inspector entries: method, URL, status, timings, sizes; secret
    headers masked, prompt content left out."""
    collector = DebugCollector()
    tp, _ = _providers(collector)
    with tp.get_tracer("t").start_as_current_span(
        "POST",
        attributes={
            "http.request.method": "POST",
            "url.full": "https://api.example.com/v1/chat?user=alice@example.com",
            "http.response.status_code": 429,
            "http.request.body.size": 120,
            "http.request.header.authorization": ("Bearer sk-proj-AbCdEfGhIjKlMnOpQrStUvWx",),
            "http.request.header.content-type": ("application/json",),
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.prompt.0.content": "my secret plans",
        },
    ):
        pass
    with tp.get_tracer("t").start_as_current_span("internal"):
        pass
    (entry,) = collector.requests()
    assert entry["method"] == "POST"
    assert entry["status"] == 429
    assert entry["url"] == "https://api.example.com/v1/chat?user=[REDACTED:email]"
    assert entry["request_size"] == 120
    assert entry["duration"] >= 0
    assert entry["headers"]["request.header.authorization"] == "[REDACTED]"
    assert list(entry["headers"]["request.header.content-type"]) == ["application/json"]
    assert entry["llm_model"] == "gpt-4o"
    assert "my secret plans" not in json.dumps(entry, default=str)


def test_configure_bridges_stdlib_logging(tmp_path: Path) -> None:
    """configure(bridge_logging=True) sends stdlib logging to OTel logs with the trace id."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["OTEL_RESILIENCE_JSONL_PATH"] = str(tmp_path / "t.jsonl")
    code = """
        import logging
        from opentelemetry import trace
        from otel_resilience_exporters import configure
        handle = configure("svc", exporter="jsonl", bridge_logging=True)
        with trace.get_tracer("t").start_as_current_span("work") as span:
            logging.getLogger("app").warning("payment failed for order 7")
            print(format(span.get_span_context().trace_id, "032x"))
        handle.shutdown()
    """
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = [json.loads(x) for x in (tmp_path / "t.jsonl").read_text().splitlines()]
    logs = [x for x in lines if x["signal"] == "log"]
    assert [x["body"] for x in logs] == ["payment failed for order 7"]
    assert logs[0]["trace_id"] == done.stdout.strip()


def test_breaker_transitions_become_breadcrumbs() -> None:
    """BreadcrumbLogProcessor turns resilience log events (a breaker opening) into
    breadcrumbs attached to the next tracked error."""
    from otel_resilience_exporters import BreadcrumbLogProcessor

    from otel_resilience import CircuitBreaker, CircuitOpenError, ErrorTracker, Pipeline

    lp = LoggerProvider()
    tracker = ErrorTracker(logger_provider=lp)
    lp.add_log_record_processor(BreadcrumbLogProcessor(tracker))
    breaker = CircuitBreaker(name="db", minimum_calls=2, window=2, window_type="count")
    pipeline = Pipeline("orders", tracker.strategy(), breaker, logger_provider=lp)

    def down() -> None:
        raise ConnectionError("db down")

    for _ in range(2):
        with pytest.raises(ConnectionError):
            pipeline.call(down)
    with pytest.raises(CircuitOpenError):
        pipeline.call(down)
    crumbs = tracker.breadcrumbs()
    change = [c for c in crumbs if c.message == "resilience.circuit_breaker.state_change"]
    assert [c.data["resilience.circuit_breaker.state"] for c in change] == ["open"]
    assert crumbs[-1].message.startswith("orders: circuit breaker 'db' is open")
    assert not any(c.message == "resilience.error" for c in crumbs)
