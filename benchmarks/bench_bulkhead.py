"""Success-path cost of a Bulkhead (telemetry off) against the semaphores it stands in for.

The bulkhead's overhead is what ``Pipeline("b", Bulkhead(...))`` costs over ``Pipeline("e")``;
a semaphore's is what ``with sem: fn()`` costs over ``fn()``. Target: the bulkhead's overhead
is at most 1.5x the semaphore's (``threading.BoundedSemaphore`` for sync calls,
``asyncio.Semaphore`` for async ones). Run with ``make bench`` or
``python benchmarks/bench_bulkhead.py --quick``; ``--check`` makes a missed target exit 1.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import Section, Stats, Variant, bench_main

from otel_resilience import Pipeline
from otel_resilience.bulkhead import Bulkhead

TARGET = 1.5


def fn() -> int:
    """The protected call: as cheap as possible, so the overhead is what is measured."""
    return 1


async def afn() -> int:
    """Async twin of fn."""
    return 1


def _sections(budget: float) -> tuple[Section, Section]:
    bounded = threading.BoundedSemaphore(10)

    def with_bounded() -> int:
        with bounded:
            return fn()

    ns = {
        "fn": fn,
        "afn": afn,
        "sem": with_bounded,
        "empty": Pipeline("empty"),
        "bh": Pipeline("bulkhead", Bulkhead(max_concurrent=10)),
    }
    sync = Section(
        "Bulkhead, telemetry off - sync",
        [
            Variant("bare call", "fn()", ns),
            Variant("threading.BoundedSemaphore + call", "sem()", ns),
            Variant("Pipeline() (no strategy)", "empty.call(fn)", ns),
            Variant("Pipeline(Bulkhead)", "bh.call(fn)", ns),
        ],
        budget,
    )
    ans = dict(ns)
    ans["asem"] = _async_semaphore_call()
    asynchronous = Section(
        "Bulkhead, telemetry off - async",
        [
            Variant("bare await", "await afn()", ans),
            Variant("asyncio.Semaphore + await", "await asem()", ans),
            Variant("Pipeline() (no strategy)", "await empty.acall(afn)", ans),
            Variant("Pipeline(Bulkhead)", "await bh.acall(afn)", ans),
        ],
        budget,
        is_async=True,
    )
    return sync, asynchronous


def _async_semaphore_call() -> object:
    sem = asyncio.Semaphore(10)

    async def with_semaphore() -> int:
        async with sem:
            return await afn()

    return with_semaphore


def _report(section: Section, stats: dict[str, Stats]) -> bool:
    labels = [v.label for v in section.variants]
    med = [stats[label].median for label in labels]
    print(f"\n== {section.title} (median ns/call) ==")
    for label, value in zip(labels, med, strict=True):
        print(f"{label:<40}{value:>9.0f}")
    peer = med[1] - med[0]
    ours = med[3] - med[2]
    ratio = ours / peer if peer > 0 else float("inf")
    ok = ratio <= TARGET
    print(
        f"{'PASS' if ok else 'FAIL'} bulkhead overhead {ours:.0f} ns vs semaphore {peer:.0f} ns: "
        f"{ratio:.2f}x (target <= {TARGET}x)"
    )
    return ok


def main(argv: list[str] | None = None) -> int:
    """Measure both sections; print figures and the target lines."""
    code = bench_main(
        argv,
        description=__doc__.splitlines()[0],
        title="otel-resilience bulkhead benchmark",
        budgets=(2.0, 12.0),
        benches=_sections,
        report=_report,
    )
    return code


if __name__ == "__main__":
    sys.exit(main())
