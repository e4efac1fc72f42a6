"""Cache-hit cost of ``Pipeline("bench", ResponseCache())`` against cachetools and lru_cache.

Run with ``python benchmarks/bench_cache.py`` (``--quick`` for a short run, ``--check`` to exit 1
when the target is missed). Telemetry off (API only): the success path every call pays.
Target: a hit costs no more than 2x ``cachetools.cached`` (with a lock, as ours is
thread-safe; the lock-free figure is printed too).
"""

from __future__ import annotations

import argparse
import functools
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cachetools
from _harness import Section, Variant, run_section
from bench_overhead import check_line, print_table

from otel_resilience import Pipeline
from otel_resilience.cache import ResponseCache

OURS = "otel-resilience ResponseCache hit"
LOCKED = "cachetools.cached(LRUCache, lock)"
TARGET = 2.0


def fn(x: int) -> int:
    """The protected function: as cheap as a call gets."""
    return x


def hit_section(budget: float) -> Section:
    """Every variant answers ``(1,)`` from a warm cache."""
    pipeline = Pipeline("bench", ResponseCache())
    keyed = Pipeline("bench-keyed", ResponseCache(key=lambda x: x))
    ns = {
        "fn": fn,
        "p": pipeline,
        "pk": keyed,
        "decorated": pipeline(fn),
        "lru": functools.lru_cache(maxsize=1000)(fn),
        "ct": cachetools.cached(cachetools.LRUCache(1000))(fn),
        "ctl": cachetools.cached(cachetools.LRUCache(1000), lock=threading.Lock())(fn),
    }
    for name in ("lru", "ct", "ctl", "decorated"):
        ns[name](1)  # type: ignore[operator]
    pipeline.call(fn, 1)
    keyed.call(fn, 1)
    return Section(
        "Cache hit, telemetry off - sync",
        [
            Variant("bare call", "fn(1)", ns),
            Variant("functools.lru_cache", "lru(1)", ns),
            Variant("cachetools.cached(LRUCache)", "ct(1)", ns),
            Variant(LOCKED, "ctl(1)", ns),
            Variant(OURS, "p.call(fn, 1)", ns),
            Variant("otel-resilience @pipeline (cache hit)", "decorated(1)", ns),
            Variant("otel-resilience hit, key=lambda x: x", "pk.call(fn, 1)", ns),
        ],
        budget,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the section, print the table and the target line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    section = hit_section(20 * (0.16 if args.quick else 1.0))
    stats, n, rounds = run_section(section, progress=lambda m: print(m, file=sys.stderr))
    print_table(section, stats, n, rounds, OURS)
    ours, peer = stats[OURS].median, stats[LOCKED].median
    plain = stats["cachetools.cached(LRUCache)"].median
    ok = check_line(
        ours <= TARGET * peer,
        f"cache hit: ours {ours:.0f} ns <= {TARGET} x cachetools.cached with lock {peer:.0f} ns"
        f"  [ratio {ours / peer:.2f}; {ours / plain:.2f} against the lock-free one]",
    )
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
