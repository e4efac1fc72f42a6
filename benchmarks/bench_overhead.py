"""Success-path overhead of ``Pipeline("bench", Retry(), CircuitBreaker())`` against its peers.

Run with ``make bench`` (full, a few minutes) or ``python benchmarks/bench_overhead.py --quick``.
``--check`` makes a missed target exit 1. See benchmarks/README.md for what each variant is.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import backoff
import circuitbreaker
import pybreaker
import stamina
import tenacity
from _harness import Section, Stats, Variant, run_section
from opentelemetry import metrics, trace
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)

from otel_resilience import CircuitBreaker, Pipeline, Retry, semconv

NAME = "bench"
OURS = "otel-resilience Pipeline.call"
OURS_DECORATED = "otel-resilience @pipeline"
OURS_ASYNC = "otel-resilience Pipeline.acall"
BARE = "bare call"
BASELINE = "baseline: 1 span + 1 histogram"
HAND = "hand stack: tenacity>pybreaker>span"
TARGET_OFF = 0.9
TARGET_SDK = 1.2


def fn() -> int:
    """The protected function: as cheap as a call gets, so only the wrapping is measured."""
    return 42


async def afn() -> int:
    """Async twin of :func:`fn`; never suspends, so no event-loop scheduling is measured."""
    return 42


class NullSpanExporter(SpanExporter):
    """Accepts spans and drops them: the SDK's full recording cost with no I/O behind it."""

    def export(self, spans: Any) -> SpanExportResult:
        """Report success without doing anything."""
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """Nothing to release."""


# -- variants --------------------------------------------------------------------------------


def _tenacity_retry() -> Any:
    return tenacity.retry(
        stop=tenacity.stop_after_attempt(3), wait=tenacity.wait_exponential(), reraise=True
    )


def _hand_stack(tracer: Any, meter: Any) -> Any:
    """What a user writes today: tenacity around pybreaker around a span and a histogram."""
    breaker = pybreaker.CircuitBreaker(fail_max=5)
    hist = meter.create_histogram(
        semconv.METRIC_PIPELINE_DURATION,
        unit="s",
        explicit_bucket_boundaries_advisory=list(semconv.DURATION_BUCKETS),
    )
    success_attrs = {semconv.PIPELINE_NAME: NAME, semconv.OUTCOME: semconv.OUTCOME_SUCCESS}

    @_tenacity_retry()
    def call_with_span() -> int:
        started = time.monotonic()
        with tracer.start_as_current_span(NAME, attributes={semconv.PIPELINE_NAME: NAME}) as span:
            result = breaker.call(fn)
            span.set_attribute(semconv.OUTCOME, semconv.OUTCOME_SUCCESS)
            span.set_attribute(semconv.ATTEMPTS, call_with_span.statistics["attempt_number"])
        hist.record(time.monotonic() - started, success_attrs)
        return result

    return call_with_span


def _baseline(tracer: Any, meter: Any) -> Any:
    """The contract's telemetry written by hand: one span and one histogram record per call."""
    hist = meter.create_histogram(
        semconv.METRIC_PIPELINE_DURATION,
        unit="s",
        explicit_bucket_boundaries_advisory=list(semconv.DURATION_BUCKETS),
    )
    success_attrs = {semconv.PIPELINE_NAME: NAME, semconv.OUTCOME: semconv.OUTCOME_SUCCESS}

    def baseline() -> int:
        started = time.monotonic()
        with tracer.start_as_current_span(NAME, attributes={semconv.PIPELINE_NAME: NAME}) as span:
            result = fn()
            span.set_attribute(semconv.OUTCOME, semconv.OUTCOME_SUCCESS)
            span.set_attribute(semconv.ATTEMPTS, 1)
        hist.record(time.monotonic() - started, success_attrs)
        return result

    return baseline


def off_sync_section(budget: float) -> Section:
    """Telemetry off: API only, the default global providers."""
    pipeline = Pipeline(NAME, Retry(), CircuitBreaker())
    breaker = pybreaker.CircuitBreaker(fail_max=5)
    ns = {
        "fn": fn,
        "p": pipeline,
        "decorated": pipeline(fn),
        "ten": _tenacity_retry()(fn),
        "sta": stamina.retry(on=Exception, attempts=3)(fn),
        "bko": backoff.on_exception(backoff.expo, Exception, max_tries=3)(fn),
        "pyb": breaker,
        "cbk": circuitbreaker.CircuitBreaker(failure_threshold=5, name="bench-sync")(fn),
        "hand": _hand_stack(trace.get_tracer("bench"), metrics.get_meter("bench")),
    }
    return Section(
        "Telemetry off (API only, no SDK) - sync",
        [
            Variant(BARE, "fn()", ns),
            Variant(OURS, "p.call(fn)", ns),
            Variant(OURS_DECORATED, "decorated()", ns),
            Variant("tenacity @retry(3, wait_exponential)", "ten()", ns),
            Variant("stamina.retry(on=Exception, attempts=3)", "sta()", ns),
            Variant("backoff.on_exception(expo, max_tries=3)", "bko()", ns),
            Variant("pybreaker CircuitBreaker(fail_max=5)", "pyb.call(fn)", ns),
            Variant("circuitbreaker @CircuitBreaker", "cbk()", ns),
            Variant(HAND, "hand()", ns),
        ],
        budget,
    )


def off_async_section(budget: float) -> Section:
    """Telemetry off, async: ``acall`` against an awaited bare coroutine function."""
    pipeline = Pipeline(NAME, Retry(), CircuitBreaker())
    ns = {
        "afn": afn,
        "p": pipeline,
        "decorated": pipeline(afn),
        "ten": _tenacity_retry()(afn),
        "sta": stamina.retry(on=Exception, attempts=3)(afn),
        "bko": backoff.on_exception(backoff.expo, Exception, max_tries=3)(afn),
        "cbk": circuitbreaker.CircuitBreaker(failure_threshold=5, name="bench-async")(afn),
    }
    return Section(
        "Telemetry off (API only, no SDK) - async",
        [
            Variant("bare await", "await afn()", ns),
            Variant(OURS_ASYNC, "await p.acall(afn)", ns),
            Variant("otel-resilience @pipeline (async)", "await decorated()", ns),
            Variant("tenacity @retry (async)", "await ten()", ns),
            Variant("stamina.retry (async)", "await sta()", ns),
            Variant("backoff.on_exception (async)", "await bko()", ns),
            Variant("circuitbreaker @CircuitBreaker (async)", "await cbk()", ns),
        ],
        budget,
        is_async=True,
    )


def sdk_providers(batch: bool) -> tuple[TracerProvider, MeterProvider, LoggerProvider]:
    """Explicit SDK providers; spans go to a null exporter, metrics are never collected."""
    tracer_provider = TracerProvider()
    exporter = NullSpanExporter()
    processor = BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
    tracer_provider.add_span_processor(processor)
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    return tracer_provider, meter_provider, LoggerProvider()


def sdk_section(title: str, providers: tuple[Any, Any, Any], budget: float) -> Section:
    """SDK recording: ours against the hand-written contract telemetry and the hand stack."""
    tp, mp, lp = providers
    pipeline = Pipeline(
        NAME, Retry(), CircuitBreaker(), tracer_provider=tp, meter_provider=mp, logger_provider=lp
    )
    tracer, meter = tp.get_tracer("bench"), mp.get_meter("bench")
    ns = {
        "fn": fn,
        "p": pipeline,
        "decorated": pipeline(fn),
        "baseline": _baseline(tracer, meter),
        "hand": _hand_stack(tracer, meter),
    }
    return Section(
        title,
        [
            Variant(BARE, "fn()", ns),
            Variant(BASELINE, "baseline()", ns),
            Variant(OURS, "p.call(fn)", ns),
            Variant(OURS_DECORATED, "decorated()", ns),
            Variant(HAND, "hand()", ns),
        ],
        budget,
    )


def attempt_section(providers: tuple[Any, Any, Any], budget: float) -> Section:
    """One attempt recorded as a span event on the call's span vs as a child span of it."""
    tracer = providers[0].get_tracer("bench")
    ns = {
        "tracer": tracer,
        "in_ctx": trace.set_span_in_context,
        "EV": semconv.SPAN_EVENT_ATTEMPT,
        "N": semconv.ATTEMPT_NUMBER,
        "D": semconv.ATTEMPT_DURATION,
        "O": semconv.ATTEMPT_OUTCOME,
    }
    attrs = "{N: 1, D: 0.0012, O: 'success'}"
    return Section(
        "Attempt as span event vs child span (SDK, SimpleSpanProcessor -> null exporter)",
        [
            Variant("parent span only", "tracer.start_span('bench').end()", ns),
            Variant(
                "parent + 1 attempt span event",
                f"s = tracer.start_span('bench'); s.add_event(EV, {attrs}); s.end()",
                ns,
            ),
            Variant(
                "parent + 1 attempt child span",
                "s = tracer.start_span('bench'); "
                f"tracer.start_span('bench attempt', in_ctx(s), attributes={attrs}).end(); "
                "s.end()",
                ns,
            ),
        ],
        budget,
    )


# -- reporting -------------------------------------------------------------------------------


def print_table(section: Section, stats: dict[str, Stats], n: int, rounds: int, ours: str) -> None:
    """ns/call (median of rounds), overhead over the first variant, ratios to it and to ours."""
    ref = stats[section.variants[0].label].median
    ours_over = stats[ours].median - ref if ours in stats else None
    print(f"\n== {section.title}  ({n} calls/round x {rounds} rounds, median) ==")
    print(f"{'variant':<42}{'ns/call':>9}{'+-':>7}{'overhead':>10}{'x ref':>8}{'ovh/ours':>10}")
    for variant in section.variants:
        s = stats[variant.label]
        over = s.median - ref
        is_ref = variant is section.variants[0]
        rel = f"{over / ours_over:.2f}" if ours_over and not is_ref else "-"
        print(
            f"{variant.label:<42}{s.median:>9.0f}{s.spread:>7.0f}{over:>10.0f}"
            f"{s.median / ref:>8.2f}{rel:>10}"
        )


def check_line(ok: bool, text: str) -> bool:
    """Print one PASS/FAIL line; return ``ok``."""
    print(f"{'PASS' if ok else 'FAIL'} {text}")
    return ok


def main(argv: list[str] | None = None) -> int:
    """Run every section; print tables and target lines; with ``--check`` a FAIL exits 1."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (under a minute)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    # stamina switches itself off under test runners and can be switched off globally.
    stamina.set_active(True)
    stamina.set_testing(False)
    scale = 0.16 if args.quick else 1.0

    def progress(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    print(
        f"otel-resilience overhead benchmark: Python {platform.python_version()} "
        f"({platform.python_implementation()}), {os.cpu_count()} CPUs, "
        f"{'quick' if args.quick else 'full'} run"
    )
    # Case 1 runs first, while the API globals are still the defaults: nothing below sets
    # them (the SDK cases pass explicit providers), but check rather than trust.
    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        print("WARNING: a global TracerProvider is set; 'telemetry off' is not what it says")
    results = []
    off = off_sync_section(50 * scale)
    off_stats, n, rounds = run_section(off, progress=progress)
    print_table(off, off_stats, n, rounds, OURS)
    aoff = off_async_section(25 * scale)
    aoff_stats, n, rounds = run_section(aoff, progress=progress)
    print_table(aoff, aoff_stats, n, rounds, OURS_ASYNC)

    simple = sdk_providers(batch=False)
    sdk = sdk_section("SDK recording - SimpleSpanProcessor -> null exporter", simple, 40 * scale)
    sdk_stats, n, rounds = run_section(sdk, progress=progress)
    print_table(sdk, sdk_stats, n, rounds, OURS)

    batch = sdk_providers(batch=True)
    bsdk = sdk_section("SDK recording - BatchSpanProcessor -> null exporter", batch, 30 * scale)
    bsdk_stats, n, rounds = run_section(bsdk, progress=progress)
    print_table(bsdk, bsdk_stats, n, rounds, OURS)
    batch[0].shutdown()

    att = attempt_section(simple, 15 * scale)
    att_stats, n, rounds = run_section(att, progress=progress)
    print_table(att, att_stats, n, rounds, "parent + 1 attempt span event")
    parent = att_stats["parent span only"].median
    event = att_stats["parent + 1 attempt span event"].median - parent
    child = att_stats["parent + 1 attempt child span"].median - parent
    print(
        f"per attempt: span event {event:.0f} ns, child span {child:.0f} ns "
        f"(child span costs {child / event:.1f}x an event)"
    )

    print("\n== Targets ==")
    bare = off_stats[BARE].median
    ours = off_stats[OURS].median - bare
    bko = off_stats["backoff.on_exception(expo, max_tries=3)"].median - bare
    cbk = off_stats["circuitbreaker @CircuitBreaker"].median - bare
    limit = TARGET_OFF * (bko + cbk)
    results.append(
        check_line(
            ours <= limit,
            f"(a) telemetry off: ours overhead {ours:.0f} ns <= {TARGET_OFF} x (backoff {bko:.0f}"
            f" + circuitbreaker {cbk:.0f}) = {limit:.0f} ns  [ratio {ours / (bko + cbk):.2f}]",
        )
    )
    ours_total = sdk_stats[OURS].median
    base_total = sdk_stats[BASELINE].median
    results.append(
        check_line(
            ours_total <= TARGET_SDK * base_total,
            f"(b) SDK recording (sync, null exporter): ours {ours_total:.0f} ns <= {TARGET_SDK} x "
            f"baseline {base_total:.0f} = {TARGET_SDK * base_total:.0f} ns  "
            f"[ratio {ours_total / base_total:.2f}]",
        )
    )
    print(
        f"info: BatchSpanProcessor ratio ours/baseline = "
        f"{bsdk_stats[OURS].median / bsdk_stats[BASELINE].median:.2f}"
    )
    return 1 if args.check and not all(results) else 0


if __name__ == "__main__":
    sys.exit(main())
