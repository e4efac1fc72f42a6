"""Success-path cost (telemetry off) of ``Retry(budget=RetryBudget())`` against ``Retry()``.

Target (issue 8): a Retry with a budget costs at most 1.1x a Retry without, whole call
through ``Pipeline.call`` / ``acall`` compared. The percent kind is printed for information
(it reads the clock and takes a lock per first attempt). Run with ``make bench`` or
``python benchmarks/bench_budget.py --quick``; ``--check`` makes a missed target exit 1.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import Section, Stats, Variant, bench_main

from otel_resilience import Pipeline, Retry
from otel_resilience.retry_budget import RetryBudget

TARGET = 1.1
PLAIN = "Pipeline(Retry())"
TOKENS = "Pipeline(Retry(budget=RetryBudget()))"
PERCENT = "Pipeline(Retry(budget=RetryBudget.percent()))"


def fn() -> int:
    """The protected call: as cheap as possible, so the wrapping is what is measured."""
    return 1


async def afn() -> int:
    """Async twin of fn; never suspends."""
    return 1


def _namespace() -> dict[str, Any]:
    return {
        "fn": fn,
        "afn": afn,
        "plain": Pipeline("plain", Retry()),
        "tokens": Pipeline("tokens", Retry(budget=RetryBudget())),
        "percent": Pipeline("percent", Retry(budget=RetryBudget.percent())),
    }


def _sections(budget: float) -> list[Section]:
    ns = _namespace()
    return [
        Section(
            "RetryBudget, telemetry off - sync",
            [
                Variant("bare call", "fn()", ns),
                Variant(PLAIN, "plain.call(fn)", ns),
                Variant(TOKENS, "tokens.call(fn)", ns),
                Variant(PERCENT, "percent.call(fn)", ns),
            ],
            budget,
        ),
        Section(
            "RetryBudget, telemetry off - async",
            [
                Variant("bare await", "await afn()", ns),
                Variant(PLAIN, "await plain.acall(afn)", ns),
                Variant(TOKENS, "await tokens.acall(afn)", ns),
                Variant(PERCENT, "await percent.acall(afn)", ns),
            ],
            budget,
            is_async=True,
        ),
    ]


def _report(section: Section, stats: dict[str, Stats]) -> bool:
    print(f"\n== {section.title} ==")
    print(f"{'variant':<48}{'ns/call':>9}{'+-':>6}{'vs Retry()':>12}")
    plain = stats[PLAIN].median
    for v in section.variants:
        st = stats[v.label]
        print(f"{v.label:<48}{st.median:>9.0f}{st.spread:>6.0f}{st.median / plain:>11.2f}x")
    ratio = stats[TOKENS].median / plain
    passed = ratio <= TARGET
    print(
        f"{'PASS' if passed else 'FAIL'} Retry with a token budget: {ratio:.3f}x Retry without "
        f"(target <= {TARGET}x)"
    )
    return passed


def main(argv: list[str] | None = None) -> int:
    """Measure both sections; print the tables and the target lines."""
    code = bench_main(
        argv,
        description=__doc__.splitlines()[0],
        title="otel-resilience retry budget benchmark",
        budgets=(2.0, 10.0),
        benches=_sections,
        report=_report,
    )
    return code


if __name__ == "__main__":
    sys.exit(main())
