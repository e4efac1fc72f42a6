"""Samplers (fake clock), sampler specs and env, and events surviving sampling."""

from __future__ import annotations

import pytest
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, Decision, ParentBased
from otel_resilience_exporters import (
    RateLimitingSampler,
    RuleBasedSampler,
    SamplingRule,
    build,
    parse_sampler,
    rate_limited_sampler,
)

from otel_resilience import semconv


class FakeClock:
    """Monotonic seconds that only move when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _decide(sampler: object, name: str = "span", attrs: dict[str, object] | None = None) -> bool:
    result = sampler.should_sample(None, 1, name, attributes=attrs)  # type: ignore[attr-defined]
    return bool(result.decision is Decision.RECORD_AND_SAMPLE)


def test_rate_limit_allows_n_per_second() -> None:
    """At most N spans per second; tokens refill with (fake) time."""
    clock = FakeClock()
    sampler = RateLimitingSampler(2, clock=clock)
    assert [_decide(sampler) for _ in range(4)] == [True, True, False, False]
    clock.now += 0.5
    assert [_decide(sampler) for _ in range(2)] == [True, False]
    clock.now += 10  # a long pause does not build a burst larger than one second
    assert sum(_decide(sampler) for _ in range(10)) == 2


def test_rate_limit_zero_samples_nothing_and_validates() -> None:
    """0/s never samples; a negative rate raises ValueError naming the field."""
    assert not _decide(RateLimitingSampler(0, clock=FakeClock()))
    with pytest.raises(ValueError, match="max_per_second"):
        RateLimitingSampler(-1)


def test_rate_limited_sampler_limits_traces_not_spans() -> None:
    """Children follow their sampled parent even when the budget is spent."""
    clock = FakeClock()
    spans = InMemorySpanExporter()
    handle = build(exporter="none", sampler=rate_limited_sampler(1, clock), span_exporters=[spans])
    tracer = handle.tracer_provider.get_tracer("t")
    with tracer.start_as_current_span("root1"), tracer.start_as_current_span("child"):
        pass
    with tracer.start_as_current_span("root2"):
        pass
    handle.flush()
    assert sorted(s.name for s in spans.get_finished_spans()) == ["child", "root1"]
    handle.shutdown()


def test_rules_first_match_wins_then_fallback() -> None:
    """Rules match by name glob and attributes; the first match decides, else the fallback."""
    sampler = RuleBasedSampler(
        [
            SamplingRule(ALWAYS_OFF, name="GET /health*"),
            SamplingRule(ALWAYS_ON, attributes={"tenant": "vip"}),
            SamplingRule(ALWAYS_OFF, attributes={"tenant": "vip", "debug": True}),
        ],
        fallback=ALWAYS_OFF,
    )
    assert not _decide(sampler, "GET /healthz", {"tenant": "vip"})
    assert _decide(sampler, "POST /pay", {"tenant": "vip", "debug": True})
    assert not _decide(sampler, "POST /pay", {"tenant": "free"})
    assert "GET /health*" in sampler.get_description()


def test_rule_validation() -> None:
    """A rule needs a real Sampler and a non-empty glob."""
    with pytest.raises(ValueError, match="sampler"):
        SamplingRule("always_on")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="name"):
        SamplingRule(ALWAYS_ON, name="")


@pytest.mark.parametrize(
    ("spec", "description"),
    [
        ("always_off", "AlwaysOffSampler"),
        ("parentbased_traceidratio:0.25", "TraceIdRatioBased{0.25}"),
        ("ratio:0.5", "TraceIdRatioBased{0.5}"),
        ("ratelimit:10", "RateLimitingSampler{10/s}"),
    ],
)
def test_parse_sampler_specs(spec: str, description: str) -> None:
    """String specs build the named sampler with their argument."""
    assert description in parse_sampler(spec).get_description()


def test_parse_sampler_errors() -> None:
    """Unknown names and bad arguments raise ValueError naming them."""
    with pytest.raises(ValueError, match="'coinflip'"):
        parse_sampler("coinflip")
    with pytest.raises(ValueError, match="'lots'"):
        parse_sampler("ratio:lots")
    with pytest.raises(ValueError, match="ratelimit"):
        parse_sampler("ratelimit")


def test_env_sampler_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    """OTEL_TRACES_SAMPLER/_ARG choose the sampler when none is passed."""
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "resilience_ratelimit")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "7")
    handle = build(exporter="none")
    sampler = handle.tracer_provider.sampler
    assert isinstance(sampler, ParentBased)
    assert "RateLimitingSampler{7/s}" in sampler.get_description()
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "nope")
    with pytest.raises(ValueError, match="OTEL_TRACES_SAMPLER"):
        build(exporter="none")


def test_breaker_event_survives_sampling() -> None:
    """With every trace sampled out, a log event is still exported, and mirrored as a span."""
    spans, logs = InMemorySpanExporter(), InMemoryLogRecordExporter()
    handle = build(
        exporter="none",
        sampler="always_off",
        mirror_events=True,
        span_exporters=[spans],
        log_exporters=[logs],
    )
    tracer = handle.tracer_provider.get_tracer("t")
    with tracer.start_as_current_span("unsampled request"):
        handle.logger_provider.get_logger(semconv.SCOPE_NAME).emit(
            event_name=semconv.LOG_EVENT_CIRCUIT_STATE_CHANGE,
            attributes={semconv.CIRCUIT_BREAKER_STATE: "open"},
        )
    handle.flush()
    assert [r.log_record.event_name for r in logs.get_finished_logs()] == [
        semconv.LOG_EVENT_CIRCUIT_STATE_CHANGE
    ]
    (mirror,) = spans.get_finished_spans()
    assert mirror.name == semconv.LOG_EVENT_CIRCUIT_STATE_CHANGE
    assert mirror.attributes is not None
    assert mirror.attributes[semconv.MIRRORED_EVENT] is True
    assert mirror.parent is None  # a root span ...
    assert len(mirror.links) == 1  # ... linked to the unsampled request
    assert [e.name for e in mirror.events] == [semconv.LOG_EVENT_CIRCUIT_STATE_CHANGE]
    handle.shutdown()


def test_mirror_adds_event_to_recording_span_once() -> None:
    """Inside a recording span the event is added to it, and not twice if already there."""
    spans = InMemorySpanExporter()
    handle = build(exporter="none", mirror_events=True, span_exporters=[spans])
    tracer = handle.tracer_provider.get_tracer("t")
    logger = handle.logger_provider.get_logger(semconv.SCOPE_NAME)
    attrs = {semconv.CIRCUIT_BREAKER_STATE: "open"}
    with tracer.start_as_current_span("request") as span:
        span.add_event(semconv.SPAN_EVENT_CIRCUIT_STATE_CHANGE, attrs)  # as the core may do
        logger.emit(event_name=semconv.LOG_EVENT_CIRCUIT_STATE_CHANGE, attributes=attrs)
        logger.emit(event_name="resilience.circuit_breaker.rejected", attributes={"n": 1})
        logger.emit(event_name="app.other", attributes={"n": 2})  # not ours: not mirrored
    handle.flush()
    (request,) = spans.get_finished_spans()
    assert [e.name for e in request.events] == [
        semconv.SPAN_EVENT_CIRCUIT_STATE_CHANGE,
        "resilience.circuit_breaker.rejected",
    ]
    handle.shutdown()


def test_rules_do_not_sample_children_of_a_dropped_root() -> None:
    """A child matching an always-on rule follows its unsampled root: no orphan spans."""
    spans = InMemorySpanExporter()
    sampler = RuleBasedSampler(
        [SamplingRule(ALWAYS_ON, attributes={"tenant": "vip"})], fallback=ALWAYS_OFF
    )
    handle = build(exporter="none", sampler=sampler, span_exporters=[spans])
    tracer = handle.tracer_provider.get_tracer("t")
    with tracer.start_as_current_span("root") as root:
        with tracer.start_as_current_span("child", attributes={"tenant": "vip"}) as child:
            assert not child.get_span_context().trace_flags.sampled
        assert not root.get_span_context().trace_flags.sampled
    handle.flush()
    assert spans.get_finished_spans() == ()
    handle.shutdown()


def test_rules_do_not_drop_children_of_a_sampled_root() -> None:
    """A child matching an always-off rule follows its sampled root: no holes in the trace."""
    spans = InMemorySpanExporter()
    sampler = RuleBasedSampler([SamplingRule(ALWAYS_OFF, name="db*")], fallback=ALWAYS_ON)
    handle = build(exporter="none", sampler=sampler, span_exporters=[spans])
    tracer = handle.tracer_provider.get_tracer("t")
    with (
        tracer.start_as_current_span("root"),
        tracer.start_as_current_span("db.query"),
        tracer.start_as_current_span("grandchild"),
    ):
        pass
    with tracer.start_as_current_span("db.root"):  # a root: the rule applies
        pass
    handle.flush()
    assert sorted(s.name for s in spans.get_finished_spans()) == [
        "db.query",
        "grandchild",
        "root",
    ]
    handle.shutdown()
