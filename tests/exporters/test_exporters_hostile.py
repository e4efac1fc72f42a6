"""Hostile input and faults: linear redaction, the length cap, no scrubbing in span.end(), and
samplers and processors that never raise into the caller."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest
from opentelemetry.context import Context
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes
from otel_resilience_exporters import (
    EventMirrorProcessor,
    RedactionOptions,
    Redactor,
    RuleBasedSampler,
    SamplingRule,
    build,
    rate_limited_sampler,
)
from otel_resilience_exporters._redaction import DEFAULT_MAX_VALUE_LENGTH

# Repeated units that made a pattern rescan the rest of the run from every position.
HOSTILE_UNITS = [
    "a.", "a-", "eyJ-", "sk-", "xoxb-", "github_pat_", "x@", "%40a", "a://b:", "1 ", ":1", "1=",
    "bearer ", "a%40b.", "AKIA", "0-",
]  # fmt: skip


@pytest.mark.parametrize("unit", HOSTILE_UNITS)
def test_every_pattern_is_linear_on_hostile_runs(unit: str) -> None:
    """Scrubbing 64 KB of a repeated hostile unit, uncapped, takes well under a second."""
    redactor = Redactor(RedactionOptions(max_value_length=1 << 20))
    text = (unit * (65536 // len(unit) + 1))[:65536]
    started = time.perf_counter()
    redactor.scrub_text(text)
    # Quadratic patterns took 6 to 15 s here; linear ones take a few milliseconds.
    assert time.perf_counter() - started < 1.0


def test_long_values_are_cut_and_marked() -> None:
    """A value longer than max_value_length is cut there and ends with the documented mark."""
    text = "word " * 10_000
    out = Redactor().scrub_text(text)
    assert out.endswith(f"...[TRUNCATED:{len(text)} chars]")
    assert out.startswith("word word")
    assert len(out) <= DEFAULT_MAX_VALUE_LENGTH + 40
    short = Redactor(RedactionOptions(max_value_length=300)).scrub_text("x" * 1000)
    assert short == "x" * 300 + "...[TRUNCATED:1000 chars]"


def test_a_secret_straddling_the_cut_goes_whole() -> None:
    """A secret that starts before the cut and ends after it is replaced whole, not cut."""
    limit = 1000
    head = "a " * ((limit - 6) // 2)  # the address starts a few characters before the cut
    text = head + "jane.doe.smith@example.com trailing words " * 50
    out = Redactor(RedactionOptions(max_value_length=limit)).scrub_text(text)
    assert "jane" not in out
    assert out.startswith(head + "[REDACTED:email]")
    assert "TRUNCATED" in out


def test_max_value_length_is_validated() -> None:
    """max_value_length must be an integer of at least 256."""
    for bad in (0, 255, 1.5, "4096", True):
        with pytest.raises(ValueError, match="max_value_length"):
            RedactionOptions(max_value_length=bad)  # type: ignore[arg-type]


def test_span_redaction_runs_off_the_callers_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """span.end() only queues: the span's text is scrubbed on the export thread, and exported
    scrubbed."""
    threads: list[str] = []
    original = Redactor.scrub_text

    def recording(self: Redactor, text: str) -> str:
        if "jane" in text:
            threads.append(threading.current_thread().name)
        return original(self, text)

    monkeypatch.setattr(Redactor, "scrub_text", recording)
    spans = InMemorySpanExporter()
    handle = build(exporter="none", span_exporters=[spans])
    with handle.tracer_provider.get_tracer("t").start_as_current_span("mail jane@example.com"):
        pass
    caller = threading.current_thread().name
    assert handle.flush()
    assert threads
    assert caller not in threads
    assert spans.get_finished_spans()[0].name == "mail [REDACTED:email]"
    handle.shutdown()


def test_huge_exception_message_is_exported_truncated() -> None:
    """A 10 MB exception message is exported cut to the limit (message and stack trace)."""
    spans = InMemorySpanExporter()
    handle = build(exporter="none", span_exporters=[spans])
    try:
        with handle.tracer_provider.get_tracer("t").start_as_current_span("call"):
            raise RuntimeError("x." * 5_000_000)
    except RuntimeError:
        pass
    assert handle.flush()
    (span,) = spans.get_finished_spans()
    event = next(e for e in span.events if e.name == "exception")
    for key in ("exception.message", "exception.stacktrace"):
        value = str((event.attributes or {})[key])
        assert len(value) < DEFAULT_MAX_VALUE_LENGTH + 100
        assert "[TRUNCATED:" in value
    handle.shutdown()


def test_huge_log_body_is_exported_truncated() -> None:
    """Log bodies are capped as well."""
    logs = InMemoryLogRecordExporter()
    handle = build(exporter="none", log_exporters=[logs])
    handle.logger_provider.get_logger("l").emit(body="a-" * 1_000_000)
    assert handle.flush()
    (record,) = logs.get_finished_logs()
    assert str(record.log_record.body).endswith("...[TRUNCATED:2000000 chars]")
    handle.shutdown()


class _Raising(Sampler):
    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        raise RuntimeError("broken sampler")

    def get_description(self) -> str:
        return "Raising"


def _start_and_end(sampler: Sampler) -> list[ReadableSpan]:
    spans = InMemorySpanExporter()
    handle = build(exporter="none", sampler=sampler, span_exporters=[spans])
    with handle.tracer_provider.get_tracer("t").start_as_current_span("s"):
        pass
    handle.flush()
    handle.shutdown()
    return list(spans.get_finished_spans())


def test_rule_sampler_with_a_raising_rule_never_raises() -> None:
    """A rule whose sampler raises falls back to the parent's decision (root: sample)."""
    rule_based = RuleBasedSampler([SamplingRule(_Raising(), name="s")], fallback=ALWAYS_ON)
    assert [s.name for s in _start_and_end(rule_based)] == ["s"]


def test_rate_limiter_with_a_raising_clock_never_raises() -> None:
    """A clock that raises inside the rate-limiting sampler does not fail span start."""
    calls = iter([0.0])

    def clock() -> float:
        return next(calls)  # StopIteration after construction

    assert [s.name for s in _start_and_end(rate_limited_sampler(5, clock=clock))] == ["s"]


class _RaisingProcessor(SpanProcessor):
    def on_start(self, span: Any, parent_context: Context | None = None) -> None:
        raise RuntimeError("on_start")

    def on_end(self, span: ReadableSpan) -> None:
        raise RuntimeError("on_end")


def test_a_raising_processor_behind_redaction_never_fails_the_call() -> None:
    """A processor added the SDK way that raises in on_start/on_end does not fail the span,
    and the other processors still export it."""
    spans = InMemorySpanExporter()
    handle = build(exporter="none", span_exporters=[spans])
    handle.tracer_provider.add_span_processor(_RaisingProcessor())
    with handle.tracer_provider.get_tracer("t").start_as_current_span("s"):
        pass
    assert handle.flush()
    assert [s.name for s in spans.get_finished_spans()] == ["s"]
    handle.shutdown()


class _BrokenTracerProvider(TracerProvider):
    def get_tracer(self, *args: Any, **kwargs: Any) -> Any:
        class Tracer:
            def start_span(self, *args: Any, **kwargs: Any) -> Any:
                raise RuntimeError("no spans today")

        return Tracer()


def test_event_mirror_never_raises_into_emit() -> None:
    """A log event whose mirroring fails (the tracer raises) is still emitted and exported."""
    logs = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(EventMirrorProcessor(_BrokenTracerProvider()))
    provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    provider.get_logger("l").emit(event_name="resilience.test", attributes={"a": 1})
    assert [r.log_record.event_name for r in logs.get_finished_logs()] == ["resilience.test"]


def test_a_span_that_cannot_be_scrubbed_is_dropped_and_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When scrubbing a span raises on the export thread, that span is never exported
    unscrubbed: it is dropped and counted as redaction_failed; the others are exported."""
    original = Redactor.scrub_attributes

    def failing(self: Redactor, attributes: Any) -> Any:
        if attributes and "poison" in attributes:
            raise RuntimeError("cannot scrub")
        return original(self, attributes)

    monkeypatch.setattr(Redactor, "scrub_attributes", failing)
    spans = InMemorySpanExporter()
    handle = build(exporter="none", span_exporters=[spans])
    tracer = handle.tracer_provider.get_tracer("t")
    with tracer.start_as_current_span("bad", attributes={"poison": "jane@example.com"}):
        pass
    with tracer.start_as_current_span("good"):
        pass
    assert handle.flush()
    assert [s.name for s in spans.get_finished_spans()] == ["good"]
    assert handle.dropped_by_reason() == {("traces", "redaction_failed"): 1}
    handle.shutdown()
