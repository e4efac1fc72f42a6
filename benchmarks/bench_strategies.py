"""Success-path cost (telemetry off) of RateLimiter, Timeout, Fallback and the whole stack vs peers.

A strategy's overhead is what ``Pipeline("p", Strategy(...))`` costs over ``Pipeline("e")``; a
peer's is what its wrapper costs over the bare call. Peers: ``aiolimiter`` and
``pyrate-limiter`` (rate limiter), ``asyncio.wait_for`` and ``pyresilience`` (timeout),
``pyresilience`` and a hand-written ``try``/``except`` (fallback), and for the whole stack
(Timeout + Retry + CircuitBreaker + Bulkhead + Fallback) ``pyresilience``'s ``@resilient`` with
the same patterns configured, compared as totals. Target: each overhead is at most 1.5x the
closest peer's (the one named in the target line). Run with ``make bench`` or
``python benchmarks/bench_strategies.py --quick``; ``--check`` makes a missed target exit 1.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pyresilience as pr
from _harness import Section, Stats, Variant, bench_main
from aiolimiter import AsyncLimiter
from pyrate_limiter import Duration, InMemoryBucket, Limiter, Rate

from otel_resilience import CircuitBreaker, Pipeline, Retry
from otel_resilience.bulkhead import Bulkhead
from otel_resilience.fallback import Fallback
from otel_resilience.rate_limiter import RateLimiter
from otel_resilience.timeout import Timeout

TARGET = 1.5
STACK = "Timeout+Retry+CircuitBreaker+Bulkhead+Fallback"
#: ``asyncio.timeout`` (3.11+) is the cheapest stdlib timeout; measured when it exists.
HAS_TIMEOUT_CM = hasattr(asyncio, "timeout")
TIMEOUT_CM = "async with asyncio.timeout + await"
HUGE_RATE = 1_000_000_000  # never empties during a run: only the success path is measured


def fn() -> int:
    """The protected call: as cheap as possible, so the overhead is what is measured."""
    return 1


async def afn() -> int:
    """Async twin of fn."""
    return 1


@dataclass
class Check:
    """A target line: our variant's overhead vs the peer's, both over their own reference."""

    what: str
    ours: str
    ours_ref: str
    peer: str
    peer_ref: str


@dataclass
class Bench:
    """A section and the target lines printed under its table."""

    section: Section
    checks: list[Check]


def _pyresilience_stack() -> dict[str, Any]:
    return {
        "timeout": pr.TimeoutConfig(seconds=2.0),
        "retry": pr.RetryConfig(max_attempts=3),
        "circuit_breaker": pr.CircuitBreakerConfig(failure_threshold=5),
        "bulkhead": pr.BulkheadConfig(max_concurrent=10),
        "fallback": pr.FallbackConfig(handler=lambda exc: 0),
    }


def _our_stack(timeout: Timeout) -> Pipeline:
    # The recommended order: Fallback outermost, the attempt timeout innermost.
    return Pipeline(
        "stack",
        Fallback(value=0),
        Retry(max_attempts=3),
        CircuitBreaker(),
        Bulkhead(max_concurrent=10),
        timeout,
    )


def _sync_namespace() -> dict[str, Any]:
    pyrate = Limiter(InMemoryBucket([Rate(HUGE_RATE, Duration.SECOND)]))

    def pyrate_call() -> int:
        pyrate.try_acquire("bench", blocking=False)
        return fn()

    def try_except() -> int:
        try:
            return fn()
        except Exception:
            return 0

    return {
        "fn": fn,
        "empty": Pipeline("empty"),
        "rl": Pipeline("rl", RateLimiter(rate=HUGE_RATE, burst=HUGE_RATE)),
        "pyrate": pyrate_call,
        "to": Pipeline("to", Timeout(seconds=2.0)),
        "to_thread": Pipeline("to", Timeout(seconds=2.0, mode="thread")),
        "pr_to": pr.resilient(timeout=pr.TimeoutConfig(seconds=2.0))(fn),
        "fb": Pipeline("fb", Fallback(value=0)),
        "hand_fb": try_except,
        "pr_fb": pr.resilient(fallback=pr.FallbackConfig(handler=lambda exc: 0))(fn),
        "stack": _our_stack(Timeout(seconds=2.0)),
        "stack_thread": _our_stack(Timeout(seconds=2.0, mode="thread")),
        "pr_stack": pr.resilient(**_pyresilience_stack())(fn),
    }


def _async_namespace(sync_ns: dict[str, Any]) -> dict[str, Any]:
    # Built outside any event loop: the harness runs each section on a loop of its own.
    aio = AsyncLimiter(HUGE_RATE, 1)
    pyrate = Limiter(InMemoryBucket([Rate(HUGE_RATE, Duration.SECOND)]))

    async def aiolimiter_call() -> int:
        async with aio:
            return await afn()

    async def pyrate_call() -> int:
        await pyrate.try_acquire_async("bench", blocking=False)
        return await afn()

    async def try_except() -> int:
        try:
            return await afn()
        except Exception:
            return 0

    async def timeout_call() -> int:
        async with asyncio.timeout(2.0):  # type: ignore[attr-defined,unused-ignore]
            return await afn()

    ns = dict(sync_ns)
    ns.update(
        atimeout=timeout_call,
        afn=afn,
        wait_for=asyncio.wait_for,
        aiolim=aiolimiter_call,
        apyrate=pyrate_call,
        ahand_fb=try_except,
        apr_to=pr.resilient(timeout=pr.TimeoutConfig(seconds=2.0))(afn),
        apr_fb=pr.resilient(fallback=pr.FallbackConfig(handler=lambda exc: 0))(afn),
        apr_stack=pr.resilient(**_pyresilience_stack())(afn),
    )
    return ns


def _benches(budget: float) -> list[Bench]:
    s = _sync_namespace()
    a = _async_namespace(s)
    bare, abare, empty, aempty = "bare call", "bare await", "Pipeline()", "Pipeline()"
    return [
        Bench(
            Section(
                "RateLimiter, telemetry off - sync",
                [
                    Variant(bare, "fn()", s),
                    Variant("pyrate-limiter try_acquire + call", "pyrate()", s),
                    Variant(empty, "empty.call(fn)", s),
                    Variant("Pipeline(RateLimiter)", "rl.call(fn)", s),
                ],
                budget,
            ),
            [
                Check(
                    "rate limiter",
                    "Pipeline(RateLimiter)",
                    empty,
                    "pyrate-limiter try_acquire + call",
                    bare,
                )
            ],
        ),
        Bench(
            Section(
                "RateLimiter, telemetry off - async",
                [
                    Variant(abare, "await afn()", a),
                    Variant("aiolimiter + await", "await aiolim()", a),
                    Variant("pyrate-limiter try_acquire_async", "await apyrate()", a),
                    Variant(aempty, "await empty.acall(afn)", a),
                    Variant("Pipeline(RateLimiter)", "await rl.acall(afn)", a),
                ],
                budget,
                is_async=True,
            ),
            [
                Check("rate limiter", "Pipeline(RateLimiter)", aempty, "aiolimiter + await", abare),
                Check(
                    "rate limiter",
                    "Pipeline(RateLimiter)",
                    aempty,
                    "pyrate-limiter try_acquire_async",
                    abare,
                ),
            ],
        ),
        Bench(
            Section(
                "Timeout, telemetry off - sync",
                [
                    Variant(bare, "fn()", s),
                    Variant("pyresilience timeout (thread pool)", "pr_to()", s),
                    Variant(empty, "empty.call(fn)", s),
                    Variant("Pipeline(Timeout) publish", "to.call(fn)", s),
                    Variant("Pipeline(Timeout) mode=thread", "to_thread.call(fn)", s),
                ],
                budget,
            ),
            [
                Check(
                    "timeout (thread)",
                    "Pipeline(Timeout) mode=thread",
                    empty,
                    "pyresilience timeout (thread pool)",
                    bare,
                )
            ],
        ),
        Bench(
            Section(
                "Timeout, telemetry off - async",
                [
                    Variant(abare, "await afn()", a),
                    Variant("asyncio.wait_for", "await wait_for(afn(), 2.0)", a),
                    *([Variant(TIMEOUT_CM, "await atimeout()", a)] if HAS_TIMEOUT_CM else []),
                    Variant("pyresilience timeout", "await apr_to()", a),
                    Variant(aempty, "await empty.acall(afn)", a),
                    Variant("Pipeline(Timeout)", "await to.acall(afn)", a),
                ],
                budget,
                is_async=True,
            ),
            [
                Check("timeout", "Pipeline(Timeout)", aempty, "asyncio.wait_for", abare),
                *(
                    [Check("timeout", "Pipeline(Timeout)", aempty, TIMEOUT_CM, abare)]
                    if HAS_TIMEOUT_CM
                    else []
                ),
            ],
        ),
        Bench(
            Section(
                "Fallback, telemetry off - sync",
                [
                    Variant(bare, "fn()", s),
                    Variant("try/except around the call", "hand_fb()", s),
                    Variant("pyresilience fallback", "pr_fb()", s),
                    Variant(empty, "empty.call(fn)", s),
                    Variant("Pipeline(Fallback)", "fb.call(fn)", s),
                ],
                budget,
            ),
            [Check("fallback", "Pipeline(Fallback)", empty, "pyresilience fallback", bare)],
        ),
        Bench(
            Section(
                "Fallback, telemetry off - async",
                [
                    Variant(abare, "await afn()", a),
                    Variant("try/except around the await", "await ahand_fb()", a),
                    Variant("pyresilience fallback", "await apr_fb()", a),
                    Variant(aempty, "await empty.acall(afn)", a),
                    Variant("Pipeline(Fallback)", "await fb.acall(afn)", a),
                ],
                budget,
                is_async=True,
            ),
            [Check("fallback", "Pipeline(Fallback)", aempty, "pyresilience fallback", abare)],
        ),
        Bench(
            Section(
                f"Whole stack ({STACK}), telemetry off - sync",
                [
                    Variant(bare, "fn()", s),
                    Variant("pyresilience @resilient (thread pool)", "pr_stack()", s),
                    Variant("Pipeline stack, Timeout publish", "stack.call(fn)", s),
                    Variant("Pipeline stack, Timeout mode=thread", "stack_thread.call(fn)", s),
                ],
                budget,
            ),
            [
                Check(
                    "whole stack (thread timeouts)",
                    "Pipeline stack, Timeout mode=thread",
                    bare,
                    "pyresilience @resilient (thread pool)",
                    bare,
                )
            ],
        ),
        Bench(
            Section(
                f"Whole stack ({STACK}), telemetry off - async",
                [
                    Variant(abare, "await afn()", a),
                    Variant("pyresilience @resilient", "await apr_stack()", a),
                    Variant("Pipeline stack", "await stack.acall(afn)", a),
                ],
                budget,
                is_async=True,
            ),
            [Check("whole stack", "Pipeline stack", abare, "pyresilience @resilient", abare)],
        ),
    ]


def _report(bench: Bench, stats: dict[str, Stats]) -> bool:
    ref = bench.section.variants[0].label
    print(f"\n== {bench.section.title} ==")
    print(f"{'variant':<42}{'ns/call':>9}{'+-':>6}{'overhead':>10}")
    for v in bench.section.variants:
        st = stats[v.label]
        over = st.median - stats[ref].median
        print(f"{v.label:<42}{st.median:>9.0f}{st.spread:>6.0f}{over:>10.0f}")
    ok = True
    for c in bench.checks:
        ours = stats[c.ours].median - stats[c.ours_ref].median
        peer = stats[c.peer].median - stats[c.peer_ref].median
        ratio = ours / peer if peer > 0 else float("inf")
        passed = ratio <= TARGET
        ok = ok and passed
        print(
            f"{'PASS' if passed else 'FAIL'} {c.what} overhead {ours:.0f} ns vs {c.peer} "
            f"{peer:.0f} ns: {ratio:.2f}x (target <= {TARGET}x)"
        )
    return ok


def main(argv: list[str] | None = None) -> int:
    """Measure every section; print the tables and the target lines."""
    code = bench_main(
        argv,
        description=__doc__.splitlines()[0],
        title="otel-resilience strategies benchmark",
        budgets=(1.5, 10.0),
        benches=_benches,
        report=_report,
        section_of=lambda bench: bench.section,
    )
    pr.shutdown(wait=False)
    return code


if __name__ == "__main__":
    sys.exit(main())
