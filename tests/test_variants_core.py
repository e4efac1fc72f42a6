"""The shared core of the safe-change strategies: stable buckets and windowed totals."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest

from otel_resilience._variants import ArmWindow, bucket_of


def test_window_totals_equal_a_brute_force_count():
    """Running totals equal a recount of the outcomes whose time bucket is still in the window."""
    rng = random.Random(3)
    window = ArmWindow(60.0, max_samples=1000)
    events: list[tuple[float, bool, float]] = []
    now = 0.0
    for _ in range(3000):
        now += rng.expovariate(2.0)
        failed, latency = rng.random() < 0.2, rng.random()
        window.add(now, failed, latency)
        events.append((now, failed, latency))
        if rng.random() < 0.05:
            width = 6.0
            oldest = int((now - 60.0) // width)
            kept = [e for e in events if int(e[0] // width) > oldest]
            totals = window.totals(now)
            assert totals.calls == len(kept)
            assert totals.failures == sum(f for _, f, _ in kept)
            assert totals.latency_sum == pytest.approx(sum(lat for *_, lat in kept))
            recent = [lat for t, _, lat in events if t > now - 60.0][-1000:]
            assert totals.latencies == recent


def test_buckets_are_stable_across_processes():
    """A key's bucket is the same in another interpreter (string hashing is salted there)."""
    code = (
        "from otel_resilience._variants import bucket_of;"
        "print(repr([bucket_of('exp', k) for k in ('user-1', 42, b'x', ('a', 1))]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()
    assert out == repr([bucket_of("exp", k) for k in ("user-1", 42, b"x", ("a", 1))])
    assert all(0.0 <= bucket_of("s", i) < 1.0 for i in range(1000))


def test_idle_shadow_workers_end():
    """Pool threads that stay idle end, and the pool starts new ones for later jobs."""
    import threading
    import time

    from otel_resilience.shadow._pool import WorkerPool

    pool = WorkerPool(3, "test-pool", linger=0.01)
    done = threading.Semaphore(0)
    for _ in range(3):
        pool.submit(done.release)
    for _ in range(3):
        assert done.acquire(timeout=10)
    deadline = time.monotonic() + 10  # real threads: wait for the state, generously
    while pool.threads and time.monotonic() < deadline:
        time.sleep(0.01)
    assert pool.threads == 0
    pool.submit(done.release)
    assert done.acquire(timeout=10)
