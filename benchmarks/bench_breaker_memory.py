"""Memory held by an idle keyed circuit breaker (from ``CircuitBreakerRegistry.get``, never called).

``tracemalloc`` traces the allocations still alive after ``registry.get(key)`` for ``--keys``
distinct keys (built beforehand, so the keys themselves are not counted) in a registry large
enough to keep them all; the figure is that total divided by the number of keys, so it includes
the registry's own bookkeeping per key. Each ``--window-type`` is measured in turn. The target is
at most 400 bytes per breaker (10,000 idle tenants or hosts then hold under 4 MB).

    uv run --frozen python benchmarks/bench_breaker_memory.py [--keys 10000] [--check]
"""

from __future__ import annotations

import argparse
import gc
import platform
import sys
import tracemalloc

from otel_resilience import CircuitBreakerRegistry

TARGET_BYTES = 400


def bytes_per_idle_breaker(keys: int, **defaults: object) -> float:
    """Bytes still allocated per key after ``registry.get(key)`` for ``keys`` fresh keys."""
    registry = CircuitBreakerRegistry(name="bench", max_size=keys, **defaults)
    names = [f"tenant-{i:06d}" for i in range(keys)]
    registry.get("warm-up")  # first-use caches (classifier, telemetry) are not per breaker
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for key in names:
            registry.get(key)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    if len(registry) != keys:
        raise RuntimeError(f"registry kept {len(registry)} breakers, expected {keys}")
    return (after - before) / keys


def main(argv: list[str] | None = None) -> int:
    """Print bytes per idle breaker for each window type; ``--check`` exits 1 over target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=10_000, help="distinct keys (breakers)")
    parser.add_argument("--check", action="store_true", help=f"exit 1 over {TARGET_BYTES} B")
    args = parser.parse_args(argv)
    if args.keys < 1:
        parser.error("--keys must be >= 1")

    print(f"idle keyed breaker memory: Python {platform.python_version()}, {args.keys} keys")
    results = []
    for window_type in ("time", "count"):
        per = bytes_per_idle_breaker(args.keys, window_type=window_type)
        ok = per <= TARGET_BYTES
        results.append(ok)
        print(
            f"{'PASS' if ok else 'FAIL'} window_type={window_type!r}: {per:,.0f} B per idle "
            f"breaker <= {TARGET_BYTES} B  ({per * args.keys / 1e6:.1f} MB for {args.keys} keys)"
        )
    return 1 if args.check and not all(results) else 0


if __name__ == "__main__":
    sys.exit(main())
