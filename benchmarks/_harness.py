"""Timing harness for the benchmarks: interleaved rounds of fixed-size loops, medians per variant.

Each variant is one statement (``p.call(fn)``, ``await fn()``...) compiled into its own loop,
so a variant costs exactly its statement plus an identical loop step, with no extra Python
frame for a wrapper lambda. Variants take turns within every round; a burst of machine noise
then lands on all of them alike instead of on whichever happened to run during it, and the
median over many rounds discards the rounds it spoiled.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from itertools import repeat
from typing import Any

__all__ = ["Section", "Stats", "Variant", "run_section"]

_SYNC_LOOP = """
def _loop(_n, _repeat=_repeat, _now=_now):
    _t0 = _now()
    for _ in _repeat(None, _n):
        {stmt}
    return _now() - _t0
"""

_ASYNC_LOOP = """
async def _loop(_n, _repeat=_repeat, _now=_now):
    _t0 = _now()
    for _ in _repeat(None, _n):
        {stmt}
    return _now() - _t0
"""


@dataclass
class Variant:
    """One measured statement; ``namespace`` holds the names it uses (its globals)."""

    label: str
    stmt: str
    namespace: dict[str, Any]


@dataclass
class Section:
    """Variants measured together; the first one is the reference (usually the bare call)."""

    title: str
    variants: list[Variant]
    budget_s: float
    is_async: bool = False
    #: What the loops are timed with, in ns: wall time by default; ``time.thread_time_ns``
    #: counts only this thread's CPU time (waits on a server and descheduling left out).
    clock: Callable[[], int] = time.perf_counter_ns
    #: For async sections: awaited in the section's event loop before it closes (clients
    #: bound to that loop can only be closed there).
    cleanup: Callable[[], Awaitable[Any]] | None = None


@dataclass
class Stats:
    """Per-call times of one variant over all rounds, in nanoseconds."""

    median: float
    q1: float
    q3: float
    rounds: int

    @property
    def spread(self) -> float:
        """Half the interquartile range: a noise indicator printed next to the median."""
        return (self.q3 - self.q1) / 2


def _compile(variant: Variant, is_async: bool, clock: Callable[[], int]) -> Callable[..., Any]:
    namespace = dict(variant.namespace)
    namespace.update(_repeat=repeat, _now=clock)
    template = _ASYNC_LOOP if is_async else _SYNC_LOOP
    # Inline the statement into the loop body, as timeit does: no wrapper frame is measured.
    exec(template.format(stmt=variant.stmt), namespace)
    return namespace["_loop"]  # type: ignore[no-any-return]


def _runner(
    variant: Variant, is_async: bool, loop: asyncio.AbstractEventLoop, clock: Callable[[], int]
) -> Callable[[int], int]:
    compiled = _compile(variant, is_async, clock)
    if not is_async:
        return compiled  # type: ignore[no-any-return]
    # The coroutine times itself, so driving it through the event loop is not measured.
    return lambda n: loop.run_until_complete(compiled(n))  # type: ignore[no-any-return]


def _timed(run: Callable[[int], int], n: int) -> int:
    # GC off inside the timed loop: a collection triggered by one variant's garbage would
    # otherwise be billed to whichever variant happens to be running.
    gc.disable()
    try:
        return run(n)
    finally:
        gc.enable()


def run_section(
    section: Section,
    *,
    slot_ms: float = 2.0,
    min_rounds: int = 15,
    progress: Callable[[str], None] | None = None,
) -> tuple[dict[str, Stats], int, int]:
    """Measure every variant of ``section``; return stats per label, calls/round and rounds.

    Calls per round are chosen so the slowest variant's turn takes about ``slot_ms``, and
    rounds are repeated until ``section.budget_s`` is spent (at least ``min_rounds``).
    """
    loop = asyncio.new_event_loop()
    try:
        runners = [_runner(v, section.is_async, loop, section.clock) for v in section.variants]
        # Warm up (first-call resolution, caches, specialisation) then estimate per-call costs.
        for run in runners:
            _timed(run, 200)
        per_call = [max(_timed(run, 1000) / 1000, 1.0) for run in runners]
        n = max(100, int(slot_ms * 1e6 / max(per_call)))
        round_ns = sum(per_call) * n
        rounds = max(min_rounds, int(section.budget_s * 1e9 / round_ns))
        samples: list[list[float]] = [[] for _ in runners]
        order = list(range(len(runners)))
        deadline = time.monotonic() + section.budget_s * 1.5
        done = 0
        for r in range(rounds):
            # Rotate the starting variant each round so that none always runs right after
            # the same neighbour (caches, branch predictors, frequency scaling).
            shift = r % len(order)
            for i in order[shift:] + order[:shift]:
                samples[i].append(_timed(runners[i], n) / n)
            done = r + 1
            if done >= min_rounds and time.monotonic() > deadline:
                break  # the calibration underestimated; stay within the time promised
            if progress is not None and done % max(1, rounds // 4) == 0:
                progress(f"  {section.title}: {done}/{rounds} rounds")
    finally:
        try:
            if section.is_async and section.cleanup is not None:
                loop.run_until_complete(section.cleanup())
        finally:
            loop.close()
    stats = {}
    for variant, values in zip(section.variants, samples, strict=True):
        q1, med, q3 = statistics.quantiles(values, n=4, method="inclusive")
        stats[variant.label] = Stats(med, q1, q3, len(values))
    return stats, n, done


def bench_main(
    argv: list[str] | None,
    *,
    description: str,
    title: str,
    budgets: tuple[float, float],
    benches: Callable[[float], Any],
    report: Callable[[Any, dict[str, Stats]], bool],
    section_of: Callable[[Any], Section] = lambda bench: bench,
) -> int:
    """The command line every sectioned benchmark shares: ``--quick`` (the first of
    ``budgets``, seconds per section, else the second) and ``--check`` (exit 1 when a
    ``report`` says a target was missed); prints the ``title`` line, then each report."""
    import argparse
    import platform

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="short run")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    print(f"{title}: Python {platform.python_version()}")
    ok = True
    for bench in benches(budgets[0] if args.quick else budgets[1]):
        stats, _n, _rounds = run_section(section_of(bench))
        ok = report(bench, stats) and ok
    return 1 if args.check and not ok else 0
