"""profile()/@profiled: phases as child spans, percentiles across runs; the profile CLI."""

from __future__ import annotations

import asyncio
import io
import sys
from pathlib import Path

import pytest

from otel_resilience import profile, profiled, semconv
from otel_resilience.policies.cli import main
from otel_resilience.profiling import Profiler, parse_importtime


def test_phases_are_child_spans_with_cpu_and_memory(fake_clock, otel_capture) -> None:
    """Each run is a span; each phase a child span with CPU and memory attributes."""
    prof = Profiler("startup", clock=fake_clock, tracer_provider=otel_capture.tracer_provider)
    with prof:
        with prof.phase("load"):
            fake_clock.advance(0.2)
        with prof.phase("warm"):
            fake_clock.advance(0.05)
    run = otel_capture.span("startup")
    load = otel_capture.span("startup load")
    assert load.parent is not None
    assert load.parent.span_id == run.context.span_id
    assert load.attributes[semconv.PROFILE_PHASE] == "load"
    assert load.attributes[semconv.PROFILE_NAME] == "startup"
    assert load.attributes[semconv.PROFILE_CPU] >= 0
    assert semconv.PROFILE_MEMORY in load.attributes


def test_report_percentiles_and_slowest_phase(fake_clock) -> None:
    """The report has nearest-rank p50/p95/p99 per phase across runs and the slowest phase."""
    prof = Profiler("job", clock=fake_clock)
    for i in range(1, 101):
        with prof:
            with prof.phase("fetch"):
                fake_clock.advance(i / 1000)
            with prof.phase("parse"):
                fake_clock.advance(0.001)
    report = prof.report()
    fetch = report.phases["fetch"]
    assert fetch.count == 100
    assert (fetch.p50, fetch.p95, fetch.p99) == pytest.approx((0.05, 0.095, 0.099))
    assert report.phases["total"].count == 100
    assert report.slowest == "total"
    text = str(report)
    assert "fetch" in text
    assert "slowest phase: total" in text


def test_profiled_decorator_sync_and_async() -> None:
    """@profiled records each call of a def or async def as one run of its profile."""

    @profiled
    def work() -> int:
        with profile("tests.profiled.sync").phase("inner"):
            return 1

    @profiled(name="tests.profiled.async")
    async def awork() -> int:
        await asyncio.sleep(0)
        return 2

    assert work() == 1
    assert work() == 1
    assert asyncio.run(awork()) == 2
    name = work.__qualname__
    assert profile(name).report().phases["total"].count == 2
    assert profile("tests.profiled.sync").report().phases["inner"].count == 2
    assert profile("tests.profiled.async").report().phases["total"].count == 1


def test_parse_importtime() -> None:
    """The -X importtime lines are parsed; other stderr lines are kept as they were."""
    stderr = (
        "import time: self [us] | cumulative | imported package\n"
        "import time:       120 |        120 |   _io\n"
        "import time:      3000 |       3120 | json\n"
        "Traceback: not an import line\n"
    )
    entries, rest = parse_importtime(stderr)
    assert [(e.module, e.self_us, e.cumulative_us, e.depth) for e in entries] == [
        ("_io", 120, 120, 1),
        ("json", 3000, 3120, 0),
    ]
    assert rest == "Traceback: not an import line\n"


def test_profile_cli_reports_slowest_imports(tmp_path: Path) -> None:
    """`otel-resilience profile -- python script.py` lists the script's imports, slowest
    first, and returns the script's exit status."""
    script = tmp_path / "app.py"
    script.write_text("import json\nraise SystemExit(3)\n")
    out = io.StringIO()
    status = main(["profile", "--top", "50", "--", sys.executable, str(script)], out=out)
    assert status == 3
    text = out.getvalue()
    assert " json\n" in text
    assert "slowest import" in text


def test_profile_cli_needs_a_command() -> None:
    """Without a command the CLI fails with a message (exit 1)."""
    assert main(["profile"], out=io.StringIO()) == 1


def test_invalid_names() -> None:
    """Empty profile or phase names raise ValueError."""
    with pytest.raises(ValueError, match="name"):
        Profiler("")
    with pytest.raises(ValueError, match="phase"):
        Profiler("x").phase("")
