"""Worst-case cost of redaction: hostile messages, names and attributes.

Section 1: each case runs a failing (or succeeding) ``Pipeline.call`` under ``build()`` with
redaction on and with it off, both exporting to a null exporter, and prints the median extra
time per call that redaction adds on the caller's thread. Section 2: the time the export thread
spends scrubbing that call's span (``redact_span``). Run with ``make bench`` or
``python benchmarks/bench_redaction.py`` (``--reps N``, ``--only TEXT`` for some cases).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from otel_resilience_exporters import Redactor, build, redact_span

from otel_resilience import Pipeline


class NullSpanExporter(SpanExporter):
    """Accepts spans and keeps the last one."""

    last: ReadableSpan | None = None

    def export(self, spans: Any) -> SpanExportResult:
        """Report success, keeping the last span."""
        if spans:
            self.last = spans[-1]
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """Nothing to release."""


def _repeat_to(unit: str, size: int) -> str:
    return (unit * (size // len(unit) + 1))[:size]


_PROSE = "Error in module app.db.pool for host db-01.internal: connection refused by peer; "
KB, MB = 1024, 1024 * 1024

#: name -> (span name, exception message or None for a succeeding call, attributes per span)
CASES: dict[str, tuple[str, str | None, dict[str, Any]]] = {
    "10 MB exception message (prose)": ("bench", _repeat_to(_PROSE, 10 * MB), {}),
    "100 KB dotted span name": (_repeat_to("a.", 100 * KB), None, {}),
    "100 KB dotted exception message": ("bench", _repeat_to("a.", 100 * KB), {}),
    "100 KB dashed exception message": ("bench", _repeat_to("a-", 100 * KB), {}),
    "100 KB 'eyJ-' run": ("bench", _repeat_to("eyJ-", 100 * KB), {}),
    "100 KB 'sk-' run": ("bench", _repeat_to("sk-", 100 * KB), {}),
    "100 KB 'x@' run": ("bench", _repeat_to("x@", 100 * KB), {}),
    "100 KB 'a://b:' run": ("bench", _repeat_to("a://b:", 100 * KB), {}),
    "100 KB digits and spaces": ("bench", _repeat_to("1 ", 100 * KB), {}),
    "120 attributes of 100 KB dotted text": (
        "bench",
        None,
        {f"attr.{i}": _repeat_to("a.", 100 * KB) for i in range(120)},
    ),
}


def _call(
    name: str,
    message: str | None,
    attrs: dict[str, Any],
    redact: bool,
    keep: list[Any] | None = None,
) -> float:
    """Seconds one call through a pipeline takes, span end (and its redaction) included."""
    sink = NullSpanExporter()
    handle = build(exporter="none", redact=redact, span_exporters=[sink])
    pipeline = Pipeline(name, tracer_provider=handle.tracer_provider)

    def work() -> None:
        if attrs:
            from opentelemetry import trace

            trace.get_current_span().set_attributes(attrs)
        if message is not None:
            raise RuntimeError(message)

    try:
        started = time.perf_counter()
        with contextlib.suppress(RuntimeError):
            pipeline.call(work)
        return time.perf_counter() - started
    finally:
        handle.shutdown(timeout=5)
        if keep is not None:
            keep.append(sink.last)


def export_side(case: str, reps: int) -> float:
    """Median seconds ``redact_span`` takes on the span of one call (the export thread's work)."""
    name, message, attrs = CASES[case]
    raw: list[Any] = []
    _call(name, message, attrs, redact=False, keep=raw)
    redactor = Redactor()
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        redact_span(raw[0], redactor)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(case: str, reps: int) -> tuple[float, float]:
    """Median seconds per call with redaction off and on."""
    name, message, attrs = CASES[case]
    off, on = [], []
    for _ in range(reps):
        off.append(_call(name, message, attrs, redact=False))
        on.append(_call(name, message, attrs, redact=True))
    return statistics.median(off), statistics.median(on)


def main(argv: list[str] | None = None) -> int:
    """Print one line per case: time per call without and with redaction, and the difference."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--only", default=None, help="run only cases containing this text")
    args = parser.parse_args(argv)
    out: Callable[[str], None] = print
    out("## Redaction on the caller's thread (worst cases, median per call)")
    out(f"{'case':42} {'off ms':>10} {'on ms':>10} {'added ms':>10}")
    worst = 0.0
    for case in CASES:
        if args.only and args.only not in case:
            continue
        off, on = measure(case, args.reps)
        worst = max(worst, on - off)
        out(f"{case:42} {off * 1e3:10.2f} {on * 1e3:10.2f} {(on - off) * 1e3:10.2f}")
        sys.stdout.flush()
    out(f"worst added cost: {worst * 1e3:.1f} ms per call")
    out("")
    out("## Scrubbing one call's span on the export thread (median)")
    out(f"{'case':42} {'ms':>10}")
    for case in CASES:
        if args.only and args.only not in case:
            continue
        out(f"{case:42} {export_side(case, args.reps) * 1e3:10.2f}")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
