"""Per-call cost (telemetry off) of Shadow, Rollout and ABTest against an empty Pipeline.

Informational (issue 13 sets no target): the calls a Shadow does not sample, a Rollout
routing everything to the primary or everything to a candidate as cheap as the primary, and
an ABTest assigning at random or by a key. Run ``python benchmarks/bench_safe_change.py
--quick``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import Section, Stats, Variant, bench_main

from otel_resilience import ABTest, Pipeline, Rollout, Shadow

EMPTY = "Pipeline()"


def fn(user: str = "u") -> int:
    """The protected call (and the candidates): as cheap as possible."""
    return 1


def _namespace() -> dict[str, Any]:
    return {
        "fn": fn,
        "empty": Pipeline("empty"),
        "shadow0": Pipeline("s", Shadow(candidate=fn, percent=0)),
        "primary": Pipeline("r0", Rollout(candidate=fn, schedule=[(0, 0.0)])),
        "candidate": Pipeline("r1", Rollout(candidate=fn, schedule=[(0, 1.0)])),
        "ab": Pipeline("ab", ABTest(variants={"b": fn})),
        "ab_key": Pipeline("abk", ABTest(variants={"b": fn}, key=lambda user="u": user)),
    }


def _sections(budget: float) -> list[Section]:
    ns = _namespace()
    return [
        Section(
            "Safe change, telemetry off - sync",
            [
                Variant("bare call", "fn()", ns),
                Variant(EMPTY, "empty.call(fn)", ns),
                Variant("Shadow(percent=0)", "shadow0.call(fn)", ns),
                Variant("Rollout, share 0 (primary)", "primary.call(fn)", ns),
                Variant("Rollout, share 1 (candidate)", "candidate.call(fn)", ns),
                Variant("ABTest, random", "ab.call(fn)", ns),
                Variant("ABTest, key", "ab_key.call(fn, 'user-1')", ns),
            ],
            budget,
        ),
    ]


def _report(section: Section, stats: dict[str, Stats]) -> bool:
    print(f"\n== {section.title} ==")
    print(f"{'variant':<36}{'ns/call':>9}{'+-':>6}{'vs Pipeline()':>15}")
    empty = stats[EMPTY].median
    for v in section.variants:
        st = stats[v.label]
        print(f"{v.label:<36}{st.median:>9.0f}{st.spread:>6.0f}{st.median / empty:>14.2f}x")
    return True


def main(argv: list[str] | None = None) -> int:
    """Measure the section; print the table."""
    return bench_main(
        argv,
        description=__doc__.splitlines()[0],
        title="otel-resilience safe change benchmark",
        budgets=(2.0, 10.0),
        benches=_sections,
        report=_report,
    )


if __name__ == "__main__":
    sys.exit(main())
