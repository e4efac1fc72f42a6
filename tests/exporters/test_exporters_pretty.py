"""The ``pretty`` console exporter: one line per pipeline call, coloured only on a terminal."""

from __future__ import annotations

import io
import re
from importlib import metadata

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from otel_resilience_exporters import PrettySpanExporter, build

from otel_resilience import CircuitBreaker, Pipeline, Retry, semconv
from otel_resilience.testing import FakeClock

CLOCK = r"\d\d:\d\d:\d\d\.\d{3}"
T0 = 1_700_000_000_000_000_000


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _emit(stream: io.StringIO, **exporter_options: object) -> None:
    """A failed call with two retries, a breaker opening, then a rejected and a good call."""
    provider = TracerProvider()
    exporter = PrettySpanExporter(stream, **exporter_options)  # type: ignore[arg-type]
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    failed = tracer.start_span(
        "payments.charge", start_time=T0, attributes={semconv.PIPELINE_NAME: "payments.charge"}
    )
    cause = {semconv.ERROR_TYPE: "TimeoutError", semconv.ERROR_CATEGORY: "timeout"}
    for number, delay in ((1, 0.2), (2, 0.4)):
        failed.add_event(
            semconv.SPAN_EVENT_RETRY,
            {semconv.ATTEMPT_NUMBER: number, semconv.RETRY_DELAY: delay, **cause},
        )
    failed.add_event(semconv.SPAN_EVENT_RETRY_EXHAUSTED, {semconv.ATTEMPT_NUMBER: 3, **cause})
    failed.add_event(
        semconv.SPAN_EVENT_CIRCUIT_STATE_CHANGE,
        {
            semconv.CIRCUIT_BREAKER_NAME: "db",
            semconv.CIRCUIT_BREAKER_PREVIOUS_STATE: "closed",
            semconv.CIRCUIT_BREAKER_STATE: "open",
        },
    )
    failed.set_attributes(
        {semconv.OUTCOME: "failure", semconv.ATTEMPTS: 3, **cause},
    )
    failed.end(end_time=T0 + 1_234_000_000)
    rejected = tracer.start_span("payments.charge", start_time=T0)
    rejected.add_event(
        semconv.SPAN_EVENT_CIRCUIT_REJECTED,
        {semconv.CIRCUIT_BREAKER_NAME: "db", semconv.CIRCUIT_BREAKER_RETRY_AFTER: 29.5},
    )
    rejected.set_attributes({semconv.OUTCOME: "rejected", semconv.ATTEMPTS: 0})
    rejected.end(end_time=T0 + 50_000)
    good = tracer.start_span("payments.charge", start_time=T0)
    good.set_attributes({semconv.OUTCOME: "success", semconv.ATTEMPTS: 1})
    good.end(end_time=T0 + 3_000_000)
    tracer.start_span("GET /users", start_time=T0).end(end_time=T0 + 12_000_000)


def test_one_plain_line_per_call_off_a_terminal() -> None:
    """Outcome, attempts, duration, retries with delays and causes, breaker transitions,
    rejection; no escape codes when the stream is not a terminal."""
    out = io.StringIO()
    _emit(out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 4
    assert re.fullmatch(
        rf"{CLOCK} payments\.charge failure 3 attempts 1\.23s"
        r" \| retry 1 in 0\.20s after TimeoutError \(timeout\)"
        r" \| retry 2 in 0\.40s after TimeoutError \(timeout\)"
        r" \| gave up \| breaker db: closed -> open \| error TimeoutError \(timeout\)",
        lines[0],
    ), lines[0]
    assert re.fullmatch(
        rf"{CLOCK} payments\.charge rejected 0 attempts 0\.1ms"
        r" \| rejected by breaker db \(retry after 29\.50s\)",
        lines[1],
    ), lines[1]
    assert re.fullmatch(rf"{CLOCK} payments\.charge success 1 attempt 3\.0ms", lines[2])
    assert re.fullmatch(rf"{CLOCK} GET /users 12\.0ms", lines[3])
    assert "\033" not in out.getvalue()


def test_coloured_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a terminal the outcome and breaker states are coloured; NO_COLOR switches it off."""
    out = _Terminal()
    _emit(out)
    text = out.getvalue()
    assert "\033[31mfailure\033[0m" in text
    assert "\033[32mclosed\033[0m -> \033[31mopen\033[0m" in text
    assert "\033[32msuccess\033[0m" in text
    assert "\033[1mpayments.charge\033[0m" in text
    monkeypatch.setenv("NO_COLOR", "1")
    plain = _Terminal()
    _emit(plain)
    assert "\033" not in plain.getvalue()
    forced = io.StringIO()
    _emit(forced, colour=True)
    assert "\033[31mfailure" in forced.getvalue()


def test_a_broken_stream_never_raises() -> None:
    """Writing to a closed stream makes the export fail (counted), never raise."""
    stream = io.StringIO()
    stream.close()
    exporter = PrettySpanExporter(stream)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    provider.get_tracer("t").start_span("s").end()  # does not raise


def test_selected_by_name_and_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """exporter="pretty" and OTEL_TRACES_EXPORTER=pretty select it (traces only), and a real
    pipeline call with retries prints its line to stderr."""
    handle = build(exporter="pretty")
    assert handle.settings.traces_exporters == ("pretty",)
    assert handle.settings.metrics_exporters == handle.settings.logs_exporters == ()
    clock = FakeClock()
    pipeline = Pipeline(
        "inventory.get",
        Retry(max_attempts=3, base_delay=0.5, jitter=False),
        CircuitBreaker(name="inventory"),
        clock=clock,
        tracer_provider=handle.tracer_provider,
    )
    outcomes = iter([ConnectionError("down"), ConnectionError("down"), None])

    def flaky() -> str:
        error = next(outcomes)
        if error is not None:
            raise error
        return "ok"

    assert pipeline.call(flaky) == "ok"
    assert handle.flush()
    handle.shutdown()
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert re.match(rf"{CLOCK} inventory\.get success 3 attempts ", line), line
    assert "retry 1 in 0.50s after ConnectionError" in line
    assert "retry 2 in 1.00s after ConnectionError" in line
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "pretty")
    other = build()
    assert other.settings.traces_exporters == ("pretty",)
    other.shutdown(timeout=1)


def test_registered_for_the_stock_configurator() -> None:
    """``pretty`` is an opentelemetry_traces_exporter entry point; ``console`` stays the SDK's."""
    found = {ep.name: ep for ep in metadata.entry_points(group="opentelemetry_traces_exporter")}
    assert found["pretty"].load() is PrettySpanExporter
    assert found["console"].load() is not PrettySpanExporter
