"""BreakerCore: probe slots and their timeout, lazy allocation."""

from __future__ import annotations

import gc
import threading
import tracemalloc

import pytest

from otel_resilience.circuit_breaker._core import BreakerCore, Rejected
from otel_resilience.circuit_breaker.options import BreakerOptions, CircuitState

CLOSED, OPEN, HALF_OPEN = CircuitState.CLOSED, CircuitState.OPEN, CircuitState.HALF_OPEN
TIMEOUT = 10.0


def half_open(max_calls: int = 1) -> BreakerCore:
    """A core whose break ended at t=1: the next acquire (at t >= 1) is a probe."""
    opts = BreakerOptions(
        minimum_calls=1,
        window=5,
        window_type="count",
        break_duration=1.0,
        half_open_max_calls=max_calls,
        half_open_probe_timeout=TIMEOUT,
    )
    core = BreakerCore(opts)
    permit, _ = core.acquire(0.0)
    assert core.record(permit, True, False, 0.0) == (CLOSED, OPEN)
    return core


def test_a_lost_probe_slot_is_reclaimed_after_the_probe_timeout():
    """A probe never handed back blocks new probes only until half_open_probe_timeout."""
    core = half_open()
    core.acquire(1.0)  # its call is interrupted at an unlucky point: nobody settles it
    with pytest.raises(Rejected) as rejected:
        core.acquire(1.0 + TIMEOUT - 0.001)
    assert rejected.value.retry_after == 0.0
    probe, _ = core.acquire(1.0 + TIMEOUT)
    assert core.record(probe, False, False, 1.0 + TIMEOUT) == (HALF_OPEN, CLOSED)


def test_a_reclaimed_probe_still_counts_once_when_it_finally_answers():
    """A slow probe whose slot was reclaimed closes the breaker; later verdicts are ignored."""
    core = half_open()
    slow, _ = core.acquire(1.0)
    newer, _ = core.acquire(1.0 + TIMEOUT)  # reclaims the slow probe's slot
    assert core.record_success(slow, 1.0 + TIMEOUT + 5) == (HALF_OPEN, CLOSED)
    assert core.record(slow, True, False, 20.0) is None
    assert core.record(newer, True, False, 20.0) is None
    assert core.state is CLOSED


def test_a_probe_settled_twice_frees_one_slot():
    """Releasing (or recording then releasing) one probe never frees a second slot."""
    core = half_open(max_calls=2)
    first, _ = core.acquire(1.0)
    second, _ = core.acquire(1.0)
    core.release(first)
    core.release(first)
    third, _ = core.acquire(1.0)
    with pytest.raises(Rejected):
        core.acquire(1.0)  # second and third hold both slots
    assert core.record_success(second, 1.0) is None
    core.release(second)  # already settled by its success
    with pytest.raises(Rejected):
        core.acquire(1.0)
    assert core.record_success(third, 1.0) == (HALF_OPEN, CLOSED)


def test_a_failed_reclaimed_probe_reopens_and_stale_ids_are_ignored():
    """A late failure re-opens; a probe id from an earlier half-open period counts nowhere."""
    core = half_open()
    old, _ = core.acquire(1.0)
    core.acquire(1.0 + TIMEOUT)
    assert core.record(old, True, False, 12.0) == (HALF_OPEN, OPEN)
    probe, transition = core.acquire(13.0)
    assert transition == (OPEN, HALF_OPEN)
    assert core.record(old, False, False, 13.0) is None  # from the previous period
    core.release(old)
    assert core.record_success(probe, 13.0) == (HALF_OPEN, CLOSED)


def test_timed_out_probes_kept_for_their_verdict_are_bounded():
    """Hung probes reclaimed again and again keep at most half_open_max_calls ids around."""
    core = half_open(max_calls=2)
    now = 1.0
    for _ in range(500):
        core.acquire(now)
        now += TIMEOUT
    probes = core._probes
    assert probes is not None
    assert len(probes.running) == 2
    assert len(probes.overdue) == 2


def test_an_idle_core_allocates_no_window_and_no_lock():
    """The window and the lock come with the first use; a reset keeps an unused core bare."""
    core = BreakerCore(BreakerOptions())
    assert core.window is None
    assert core._lock is None
    core.reset(0.0)
    assert core.window is None
    core.record_success(core.snapshot[1], 1.0)
    assert core.window is not None
    assert core.window.counts(1.0) == (1, 0, 0)
    assert core._lock is not None


@pytest.mark.parametrize("window_type", ["time", "count"])
def test_an_idle_core_costs_at_most_128_bytes(window_type):
    """Measured with tracemalloc over 2,000 cores sharing one options object."""
    opts = BreakerOptions(window_type=window_type, window=100)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        cores = [BreakerCore(opts) for _ in range(2000)]
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    per_core = (after - before - cores.__sizeof__()) / len(cores)
    assert per_core <= 128


def test_racing_threads_share_one_lazily_made_lock():
    """Threads making the first call together all end up with the same lock."""
    core = BreakerCore(BreakerOptions(window_type="count", window=100, minimum_calls=100))
    barrier = threading.Barrier(8)
    seen: list[object] = []

    def first_call() -> None:
        barrier.wait()
        core.record_success(0, 0.0)
        seen.append(core._lock)

    threads = [threading.Thread(target=first_call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(lock) for lock in seen}) == 1
    assert core.window is not None
    assert core.window.counts(0.0) == (8, 0, 0)
