"""Shared state on Redis (issue 12): the cost of a RedisStateStore next to the memory store.

Two sections, each against a redis-server this script starts on a free 127.0.0.1 port (and
stops by PID):

* A breaker's success path: ``CircuitBreaker(store=RedisStateStore(...))`` against the same
  breaker on the in-memory store (target <= 1.1x: no round trip per call; the store's sync
  thread runs meanwhile, every 0.1 s, as in production).
* A rate-limit acquisition: ``RateLimiter(store=...)`` (one GCRA Lua call per call; and with
  ``prefetch=100``) next to a plain ``INCR`` round trip on the same server, and the local
  limiter. Informational: this path pays a round trip by design.
* A cache hit: ``ResponseCache(store=...)`` answering from its local L1, and from Redis (L2:
  an L1 miss, ``max_size=1`` and two alternating keys) next to a plain ``GET``.
* The breaker sync round (``_store_sync.py``): an idle round's time and Redis commands at 10,
  1,000 and 5,000 breakers, and the delay from an opening in one process to the rejection in
  another at 1,000 breakers.

Run with ``make bench`` or ``python benchmarks/bench_store.py --quick``.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _store_sync
from _harness import Section, Stats, Variant, bench_main

from otel_resilience import CircuitBreaker, Pipeline, RateLimiter, ResponseCache
from otel_resilience.store import MemoryStateStore, RedisStateStore

TARGET = 1.1
MEMORY = "CircuitBreaker(store=memory)"
REDIS = "CircuitBreaker(store=redis)"
INCR = "redis INCR (one round trip)"
GET = "redis GET (one round trip)"


def fn() -> int:
    """The protected call: as cheap as possible, so the wrapping is what is measured."""
    return 1


def lookup(x: int) -> dict[str, int]:
    """The cached call: a small JSON value."""
    return {"id": x, "score": 42}


async def afn() -> int:
    """Async twin of fn; never suspends."""
    return 1


def _start_redis() -> tuple[subprocess.Popen[bytes], int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = shutil.which("redis-server") or "/usr/bin/redis-server"
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(port=port)
    end = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.RedisError:
            if time.monotonic() > end:
                raise
            time.sleep(0.01)
    client.close()
    return proc, port


def _namespace(port: int) -> dict[str, Any]:
    import redis

    url = f"redis://127.0.0.1:{port}/0"
    store = RedisStateStore(url, prefix="bench")
    memory = MemoryStateStore()
    return {
        "fn": fn,
        "afn": afn,
        "memory": Pipeline("memory", CircuitBreaker(name="bench-mem", store=memory)),
        "shared": Pipeline("shared", CircuitBreaker(name="bench-shared", store=store)),
        "local_rl": Pipeline("local_rl", RateLimiter(rate=1e9, store=memory)),
        "fleet_rl": Pipeline("fleet_rl", RateLimiter(name="bench-rl", rate=1e9, store=store)),
        "batch_rl": Pipeline(
            "batch_rl", RateLimiter(name="bench-batch", rate=1e9, store=store, prefetch=100)
        ),
        "client": redis.Redis.from_url(url),
        # The store's socket timeouts make redis-py poll before each read: the fair reference.
        "bounded": redis.Redis.from_url(url, **store.options.client_kwargs()),
        "lookup": lookup,
        "flip": itertools.cycle((0, 1)).__next__,
        "l1": Pipeline("l1", ResponseCache(name="bench-l1", store=store)),
        "l2": Pipeline("l2", ResponseCache(name="bench-l2", store=store, max_size=1)),
    }


def _sections(budget: float, port: int) -> list[Section]:
    ns = _namespace(port)
    ns["client"].set("bench:get", b'{"id":1,"score":42}')
    for x in (0, 1):  # both keys in Redis: every l2 call below is an L1 miss and an L2 hit
        ns["l2"].call(lookup, x)
    return [
        Section(
            "Breaker success path, telemetry off - sync",
            [
                Variant("bare call", "fn()", ns),
                Variant(MEMORY, "memory.call(fn)", ns),
                Variant(REDIS, "shared.call(fn)", ns),
            ],
            budget,
        ),
        Section(
            "Breaker success path, telemetry off - async",
            [
                Variant("bare await", "await afn()", ns),
                Variant(MEMORY, "await memory.acall(afn)", ns),
                Variant(REDIS, "await shared.acall(afn)", ns),
            ],
            budget,
            is_async=True,
        ),
        Section(
            "Rate-limit acquisition - sync",
            [
                Variant(INCR, "client.incr('bench:incr')", ns),
                Variant("RateLimiter(store=memory)", "local_rl.call(fn)", ns),
                Variant("RateLimiter(store=redis)", "fleet_rl.call(fn)", ns),
                Variant("RateLimiter(store=redis, prefetch=100)", "batch_rl.call(fn)", ns),
            ],
            budget,
        ),
        Section(
            "Cache hit - sync",
            [
                Variant(GET, "client.get('bench:get')", ns),
                Variant("redis GET, the store's timeouts", "bounded.get('bench:get')", ns),
                Variant("ResponseCache(store=redis), L1 hit", "l1.call(lookup, 1)", ns),
                Variant("ResponseCache(store=redis), L2 hit", "l2.call(lookup, flip())", ns),
            ],
            budget,
        ),
    ]


def _report(section: Section, stats: dict[str, Stats]) -> bool:
    print(f"\n== {section.title} ==")
    first = section.variants[0].label
    ref = stats[MEMORY].median if MEMORY in stats else stats[first].median
    ref_label = "vs memory" if MEMORY in stats else "vs " + first.split(" (")[0].split()[-1]
    print(f"{'variant':<48}{'ns/call':>10}{'+-':>7}{ref_label:>12}")
    for v in section.variants:
        st = stats[v.label]
        print(f"{v.label:<48}{st.median:>10.0f}{st.spread:>7.0f}{st.median / ref:>11.2f}x")
    if MEMORY not in stats:
        return True
    ratio = stats[REDIS].median / ref
    passed = ratio <= TARGET
    print(
        f"{'PASS' if passed else 'FAIL'} success path on the Redis store: {ratio:.3f}x the "
        f"memory store (target <= {TARGET}x)"
    )
    return passed


def main(argv: list[str] | None = None) -> int:
    """Start redis-server, measure the sections, print the tables, stop the server."""
    proc, port = _start_redis()
    try:
        status = bench_main(
            argv,
            description=__doc__.splitlines()[0],
            title="otel-resilience shared-state benchmark",
            budgets=(2.0, 10.0),
            benches=lambda budget: _sections(budget, port),
            report=_report,
        )
        quick = "--quick" in (sys.argv[1:] if argv is None else argv)
        _store_sync.report(f"redis://127.0.0.1:{port}/0", quick)
        return status
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


if __name__ == "__main__":
    sys.exit(main())
