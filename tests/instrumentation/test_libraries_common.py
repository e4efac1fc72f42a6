"""What the four library instrumentors share: zero-code loading, names, options, requirements."""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
from libs_support import instrumented
from opentelemetry.instrumentation.dependencies import get_dependency_conflicts
from otel_resilience_instrumentation.backoff import ResilienceBackoffInstrumentor
from otel_resilience_instrumentation.pybreaker import ResiliencePybreakerInstrumentor
from otel_resilience_instrumentation.stamina import ResilienceStaminaInstrumentor
from otel_resilience_instrumentation.tenacity import ResilienceTenacityInstrumentor

from otel_resilience import semconv
from otel_resilience.classify import ClassificationRule, ErrorCategory, ErrorClassifier

APP = Path(__file__).resolve().parents[2] / "examples" / "resilience_libraries_app.py"


def test_unmodified_script_reports_its_libraries_decisions(tmp_path: Path):
    """tenacity, backoff and stamina retries and a pybreaker opening reach the jsonl exporter."""
    launcher = Path(sys.executable).with_name("opentelemetry-instrument")
    assert "opentelemetry" not in APP.read_text().split('"""', 2)[2], "no telemetry code in app"
    out = tmp_path / "telemetry.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env |= {
        "OTEL_PYTHON_DISTRO": "otel_resilience",
        "OTEL_PYTHON_CONFIGURATOR": "otel_resilience",
        "OTEL_TRACES_EXPORTER": "jsonl",
        "OTEL_METRICS_EXPORTER": "jsonl",
        "OTEL_LOGS_EXPORTER": "jsonl",
        "OTEL_RESILIENCE_JSONL_PATH": str(out),
    }
    run = subprocess.run(
        [str(launcher), sys.executable, str(APP)],
        env=env,
        check=False,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["rates ok quotes ok users ok", "database breaker open"]
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    counts = {
        (
            r["attributes"][semconv.PIPELINE_NAME],
            r["attributes"][semconv.STRATEGY],
            r["attributes"][semconv.EVENT],
        ): r["value"]
        for r in lines
        if r["signal"] == "metric" and r["name"] == semconv.METRIC_EVENTS
    }
    assert counts == {
        ("__main__.fetch_rates", semconv.STRATEGY_TENACITY, semconv.EVENT_RETRY): 2,
        ("__main__.fetch_quotes", semconv.STRATEGY_BACKOFF, semconv.EVENT_RETRY): 2,
        ("__main__.fetch_users", semconv.STRATEGY_STAMINA, semconv.EVENT_RETRY): 2,
        ("database", semconv.STRATEGY_PYBREAKER, semconv.EVENT_CIRCUIT_OPENED): 1,
    }
    changes = [
        r["attributes"]
        for r in lines
        if r["signal"] == "log" and r["event_name"] == semconv.LOG_EVENT_CIRCUIT_STATE_CHANGE
    ]
    assert changes == [
        {
            semconv.CIRCUIT_BREAKER_NAME: "database",
            semconv.CIRCUIT_BREAKER_PREVIOUS_STATE: semconv.CIRCUIT_STATE_CLOSED,
            semconv.CIRCUIT_BREAKER_STATE: semconv.CIRCUIT_STATE_OPEN,
        }
    ]
    gauge = {
        r["attributes"][semconv.CIRCUIT_BREAKER_STATE]: r["value"]
        for r in lines
        if r["signal"] == "metric" and r["name"] == semconv.METRIC_CIRCUIT_BREAKER_STATE
    }
    assert gauge == {"closed": 0, "open": 1, "half_open": 0}


def test_every_name_emitted_is_a_semconv_constant(otel_capture):
    """The four instrumentors emit only names (and enumerated values) from semconv."""
    enumerated = {
        semconv.STRATEGY,
        semconv.EVENT,
        semconv.RETRY_REASON,
        semconv.CIRCUIT_BREAKER_STATE,
        semconv.CIRCUIT_BREAKER_PREVIOUS_STATE,
    }
    tracer = otel_capture.tracer_provider.get_tracer("test")
    with (
        instrumented(ResilienceTenacityInstrumentor(), otel_capture),
        instrumented(ResilienceBackoffInstrumentor(), otel_capture),
        instrumented(ResilienceStaminaInstrumentor(), otel_capture),
        instrumented(ResiliencePybreakerInstrumentor(), otel_capture),
        tracer.start_as_current_span("caller"),
    ):
        runpy.run_path(str(APP), run_name="__main__")
    names: set[str] = set()
    attribute_sets = [dict(e.attributes) for e in otel_capture.span("caller").events]
    names |= {e.name for e in otel_capture.span("caller").events}
    for record in otel_capture.logs():
        names.add(record.log_record.event_name)
        attribute_sets.append(dict(record.log_record.attributes))
    for metric, points in otel_capture.metrics().items():
        names.add(metric)
        attribute_sets += [dict(p.attributes) for p in points]
    for attributes in attribute_sets:
        names |= set(attributes)
        names |= {str(v) for k, v in attributes.items() if k in enumerated}
    constants = {v for k, v in vars(semconv).items() if k.isupper() and isinstance(v, str)}
    assert semconv.SPAN_EVENT_RETRY in names
    assert semconv.LOG_EVENT_CIRCUIT_STATE_CHANGE in names
    assert names - constants == set()


@pytest.mark.parametrize(
    "instrumentor",
    [
        ResilienceTenacityInstrumentor,
        ResilienceBackoffInstrumentor,
        ResilienceStaminaInstrumentor,
        ResiliencePybreakerInstrumentor,
    ],
)
def test_dependencies_name_the_installed_libraries(instrumentor):
    """Each instrumentor's requirement names its library and accepts the installed version."""
    (requirement,) = instrumentor().instrumentation_dependencies()
    assert requirement.split()[0] == instrumentor.__module__.rsplit(".", 1)[1]
    assert get_dependency_conflicts([requirement]) is None


RETRY_INSTRUMENTORS = [
    ResilienceTenacityInstrumentor,
    ResilienceBackoffInstrumentor,
    ResilienceStaminaInstrumentor,
]


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"classifier": "default"}, "classifier"),
        ({"meter_provider": object()}, "meter_provider"),
        ({"tracer_provider": "global"}, "tracer_provider"),
    ],
)
@pytest.mark.parametrize("instrumentor", RETRY_INSTRUMENTORS)
def test_invalid_options_fail_fast_and_patch_nothing(instrumentor, options, field):
    """A bad option is a ValueError naming it; the instrumentor stays un-instrumented."""
    inst = instrumentor()
    with pytest.raises(ValueError, match=field):
        inst.instrument(**options)
    assert not inst.is_instrumented_by_opentelemetry


def test_pybreaker_invalid_provider_fails_fast():
    """The pybreaker instrumentor validates its providers too, before patching anything."""
    import pybreaker

    original = pybreaker.CircuitBreaker.__dict__["_create_new_state"]
    inst = ResiliencePybreakerInstrumentor()
    with pytest.raises(ValueError, match="logger_provider"):
        inst.instrument(logger_provider=42)
    assert not inst.is_instrumented_by_opentelemetry
    assert pybreaker.CircuitBreaker.__dict__["_create_new_state"] is original


def test_a_custom_classifier_names_the_category(otel_capture):
    """instrument(classifier=...) decides resilience.error.category, as a Retry's would."""
    import tenacity

    classifier = ErrorClassifier(
        [ClassificationRule(category=ErrorCategory.OVERLOADED, types=(ConnectionError,))]
    )
    calls: list[int] = []

    @tenacity.retry(sleep=lambda _s: None)
    def fetch() -> str:
        calls.append(1)
        if len(calls) < 2:
            raise ConnectionError("busy")
        return "ok"

    tracer = otel_capture.tracer_provider.get_tracer("test")
    with (
        instrumented(ResilienceTenacityInstrumentor(), otel_capture, classifier=classifier),
        tracer.start_as_current_span("caller"),
    ):
        assert fetch() == "ok"
    (event,) = otel_capture.span("caller").events
    assert event.attributes[semconv.ERROR_CATEGORY] == "overloaded"
