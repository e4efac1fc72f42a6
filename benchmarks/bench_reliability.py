"""Cost of the /reliability aggregation tap: off (the default) must leave the call path as it was.

Instruction counts, not timings: ``valgrind --tool=callgrind python benchmarks/bench_reliability.py
N [--enabled]`` runs N calls through a Retry + CircuitBreaker pipeline with no SDK; the difference
between two values of N, divided by their difference, is the cost of one call (imports and setup
cancel out). See benchmarks/README.md, "Reliability aggregation".
"""

from __future__ import annotations

import sys

from otel_resilience import CircuitBreaker, Pipeline, Retry


def main(argv: list[str]) -> None:
    """Run N calls, with the aggregation enabled when ``--enabled`` is given."""
    calls = int(argv[0])
    if "--enabled" in argv:
        from otel_resilience.health import reliability

        reliability.enable()
    pipeline = Pipeline("bench", Retry(max_attempts=3), CircuitBreaker())
    fn = int
    for _ in range(calls):
        pipeline.call(fn)


if __name__ == "__main__":
    main(sys.argv[1:])
