"""Success-path cost (telemetry off) of the issue 11 strategies against ``Pipeline(Retry())``.

``TrackErrors`` (innermost, and both ends) and ``Budget`` (wall time only; with CPU time,
which is a system call per read) are measured through ``Pipeline.call`` / ``acall``, and
``ErrorTracker.capture`` of a raised exception on its own. Informational: no target (the
strategies are opt-in; pipelines without them run no code of theirs). Run with
``python benchmarks/bench_ops.py --quick``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import Section, Stats, Variant, bench_main

from otel_resilience import Budget, ErrorTracker, Pipeline, Retry

PLAIN = "Pipeline(Retry())"


def fn() -> int:
    """The protected call: as cheap as possible, so the wrapping is what is measured."""
    return 1


async def afn() -> int:
    """Async twin of fn; never suspends."""
    return 1


def _raised() -> BaseException:
    try:
        raise LookupError("user 42 not found")
    except LookupError as exc:
        return exc


def _namespace() -> dict[str, Any]:
    tracker = ErrorTracker()
    return {
        "fn": fn,
        "afn": afn,
        "exc": _raised(),
        "tracker": tracker,
        "plain": Pipeline("plain", Retry()),
        "inner": Pipeline("inner", Retry(), tracker.strategy()),
        "both": Pipeline("both", tracker.strategy(), Retry(), tracker.strategy()),
        "wall": Pipeline("wall", Budget(max_duration=60), Retry()),
        "cpu": Pipeline("cpu", Budget(max_duration=60, max_cpu=60), Retry()),
    }


def _sections(budget: float) -> list[Section]:
    ns = _namespace()
    variants = [
        ("Retry() + TrackErrors innermost", "inner"),
        ("TrackErrors + Retry() + TrackErrors", "both"),
        ("Budget(max_duration) + Retry()", "wall"),
        ("Budget(max_duration, max_cpu) + Retry()", "cpu"),
    ]
    return [
        Section(
            "issue 11 strategies, telemetry off - sync",
            [Variant("bare call", "fn()", ns), Variant(PLAIN, "plain.call(fn)", ns)]
            + [Variant(label, f"{name}.call(fn)", ns) for label, name in variants]
            + [Variant("ErrorTracker.capture(exc)", "tracker.capture(exc)", ns)],
            budget,
        ),
        Section(
            "issue 11 strategies, telemetry off - async",
            [Variant("bare await", "await afn()", ns), Variant(PLAIN, "await plain.acall(afn)", ns)]
            + [Variant(label, f"await {name}.acall(afn)", ns) for label, name in variants],
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
    return True


def main(argv: list[str] | None = None) -> int:
    """Measure both sections; print the tables."""
    return bench_main(
        argv,
        description=__doc__.splitlines()[0],
        title="otel-resilience issue 11 strategies benchmark",
        budgets=(2.0, 10.0),
        benches=_sections,
        report=_report,
    )


if __name__ == "__main__":
    sys.exit(main())
