"""FakeClock: instant sleeps by default, parked sleepers and fake-time timeouts on demand."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

from otel_resilience.testing import FakeClock

T = TypeVar("T")

# Real-time bound for joins and waits: only reached when a test is failing.
BOUND = 5.0


def run(coro: Coroutine[Any, Any, T]) -> T:
    """asyncio.run, bounded in real time so a broken wake-up fails instead of hanging."""

    async def guarded() -> T:
        task = asyncio.current_task()
        assert task is not None
        hung: list[bool] = []
        guard = asyncio.get_running_loop().call_later(
            BOUND, lambda: (hung.append(True), task.cancel())
        )
        try:
            return await coro
        except asyncio.CancelledError:
            if hung:  # an AssertionError, so no test expecting TimeoutError passes by hanging
                raise AssertionError(f"still running after {BOUND}s of real time") from None
            raise
        finally:
            guard.cancel()

    return asyncio.run(guarded())


def test_default_sleeps_advance_at_once():
    """Without auto_advance=False, sleep and asleep move time immediately (today's behaviour)."""
    clock = FakeClock(10.0)
    clock.sleep(1.5)
    run(clock.asleep(2.0))
    clock.sleep(-1.0)
    assert clock.auto_advance is True
    assert clock.monotonic() == 13.5
    assert clock.sleeps == [1.5, 2.0, -1.0]
    assert clock.parked == 0


def test_parked_tasks_wake_in_wake_time_order():
    """Tasks sleep until advance() passes their wake time, earliest first, ties in order."""
    clock = FakeClock(auto_advance=False)
    woke: list[str] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.asleep(seconds)
        woke.append(f"{name}@{clock.monotonic()}")

    async def main() -> None:
        tasks = [
            asyncio.create_task(sleeper(name, seconds))
            for name, seconds in [("c", 3.0), ("a", 1.0), ("b1", 2.0), ("b2", 2.0)]
        ]
        await clock.wait_for_sleepers_async(4, timeout=BOUND)
        assert clock.monotonic() == 0.0
        clock.advance(1.5)
        assert clock.parked == 3
        await tasks[1]
        assert woke == ["a@1.5"]
        clock.advance(10.0)
        await asyncio.gather(*tasks)

    run(main())
    assert woke == ["a@1.5", "b1@11.5", "b2@11.5", "c@11.5"]
    assert clock.monotonic() == 11.5
    assert clock.sleeps == [3.0, 1.0, 2.0, 2.0]


def test_non_positive_sleep_does_not_park():
    """With auto_advance=False a zero or negative sleep returns at once, time unchanged."""
    clock = FakeClock(auto_advance=False)
    clock.sleep(0.0)
    run(clock.asleep(-1.0))
    assert clock.monotonic() == 0.0
    assert clock.parked == 0


def test_parked_threads_wake_when_advanced_past_their_wake_time():
    """A thread in sleep() blocks until advance() reaches its wake time, not before."""
    clock = FakeClock(auto_advance=False)
    woke: list[tuple[float, float]] = []

    def sleeper(seconds: float) -> None:
        clock.sleep(seconds)
        woke.append((seconds, clock.monotonic()))

    threads = [threading.Thread(target=sleeper, args=(s,), daemon=True) for s in (2.0, 1.0)]
    for thread in threads:
        thread.start()
    clock.wait_for_sleepers(2, timeout=BOUND)
    clock.advance(0.5)
    assert clock.parked == 2
    clock.advance(0.5)
    threads[1].join(BOUND)
    assert woke == [(1.0, 1.0)]
    assert threads[0].is_alive()
    assert clock.parked == 1
    clock.advance(5.0)
    threads[0].join(BOUND)
    assert woke == [(1.0, 1.0), (2.0, 6.0)]


def test_advance_from_another_thread_wakes_a_task():
    """A task parked in asleep() is woken by advance() called from a different thread."""
    clock = FakeClock(auto_advance=False)

    def advancer() -> None:
        clock.wait_for_sleepers(1, timeout=BOUND)
        clock.advance(7.0)

    async def main() -> float:
        thread = threading.Thread(target=advancer, daemon=True)
        thread.start()
        await clock.asleep(7.0)
        thread.join(BOUND)
        return clock.monotonic()

    assert run(main()) == 7.0


def test_cancelled_sleeper_leaves_no_timer():
    """Cancelling a parked asleep() removes its timer: nothing left parked or pending."""
    clock = FakeClock(auto_advance=False)

    async def main() -> None:
        task = asyncio.create_task(clock.asleep(5.0))
        await clock.wait_for_sleepers_async(1, timeout=BOUND)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(main())
    assert clock.parked == 0
    assert clock._timers == []


def test_wait_for_sleepers_gives_up_after_its_timeout():
    """Waiting for more sleepers than there are raises TimeoutError, sync and async."""
    clock = FakeClock(auto_advance=False)
    with pytest.raises(TimeoutError, match="0 sleepers parked"):
        clock.wait_for_sleepers(1, timeout=0)
    with pytest.raises(TimeoutError, match="wanted 1"):
        run(clock.wait_for_sleepers_async(1, timeout=0))
    assert clock._waiters == []


def test_timeout_fires_when_advance_passes_the_deadline():
    """A parked task under timeout(5) is cancelled at fake time 5, not before."""
    clock = FakeClock(auto_advance=False)
    seen: dict[str, Any] = {}

    async def body() -> None:
        async with clock.timeout(5.0) as timeout:
            seen["timeout"] = timeout
            await clock.asleep(100.0)

    async def main() -> None:
        task = asyncio.create_task(body())
        await clock.wait_for_sleepers_async(1, timeout=BOUND)
        clock.advance(4.9)
        await asyncio.sleep(0)
        assert not seen["timeout"].expired
        assert not task.done()
        clock.advance(0.2)
        with pytest.raises(TimeoutError):
            await task

    run(main())
    assert seen["timeout"].expired
    assert clock.parked == 0
    assert clock._timers == []


def test_timeout_fired_by_advance_in_another_thread():
    """advance() from a thread past the deadline cancels the task on its own loop."""
    clock = FakeClock(auto_advance=False)

    def advancer() -> None:
        clock.wait_for_sleepers(1, timeout=BOUND)
        clock.advance(3.0)

    async def main() -> None:
        thread = threading.Thread(target=advancer, daemon=True)
        thread.start()
        with pytest.raises(TimeoutError):
            async with clock.timeout(2.0):
                await clock.asleep(60.0)
        thread.join(BOUND)

    run(main())
    assert clock.monotonic() == 3.0


def test_auto_advance_timeout_stops_time_at_the_deadline():
    """With auto_advance, a sleep past the deadline raises TimeoutError at the deadline."""
    clock = FakeClock()

    async def main() -> None:
        async with clock.timeout(1.0):
            await clock.asleep(5.0)

    with pytest.raises(TimeoutError):
        run(main())
    assert clock.monotonic() == 1.0
    assert clock.sleeps == [5.0]


def test_timeout_not_reached_lets_the_body_finish():
    """A body done before its deadline returns normally; the timer is gone afterwards."""
    clock = FakeClock()

    async def main() -> str:
        async with clock.timeout(5.0):
            await clock.asleep(4.0)
        await clock.asleep(10.0)  # past the old deadline, outside the block
        return "done"

    assert run(main()) == "done"
    assert clock.monotonic() == 14.0
    assert clock._timers == []


def test_timeout_none_never_fires():
    """timeout(None) sets no deadline, however far time moves."""
    clock = FakeClock()

    async def main() -> None:
        async with clock.timeout(None) as timeout:
            await clock.asleep(1e9)
        assert not timeout.expired

    run(main())
    assert clock._timers == []


@pytest.mark.parametrize("seconds", [0.0, -1.0])
def test_non_positive_timeout_expires_at_first_suspension(seconds):
    """timeout(0) or less raises TimeoutError at the body's first await."""
    clock = FakeClock(auto_advance=False)

    async def main() -> None:
        async with clock.timeout(seconds):
            await asyncio.sleep(0)

    with pytest.raises(TimeoutError):
        run(main())


def test_outer_cancellation_is_not_turned_into_timeout():
    """Cancelling the task from outside propagates CancelledError through timeout()."""
    clock = FakeClock(auto_advance=False)

    async def main() -> None:
        async def body() -> None:
            async with clock.timeout(10.0):
                await clock.asleep(100.0)

        task = asyncio.create_task(body())
        await clock.wait_for_sleepers_async(1, timeout=BOUND)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(main())
    assert clock._timers == []


def test_outer_cancel_wins_over_a_deadline_passed_at_the_same_time():
    """An outside cancel issued right after advance() passed the deadline stays a cancel."""
    clock = FakeClock(auto_advance=False)

    async def main() -> None:
        async def body() -> None:
            async with clock.timeout(1.0):
                await clock.asleep(100.0)

        task = asyncio.create_task(body())
        await clock.wait_for_sleepers_async(1, timeout=BOUND)
        clock.advance(2.0)  # schedules the timeout's cancel on the loop
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(main())


def test_inner_timeout_fires_inside_a_longer_outer_one():
    """Nested timeouts: the inner one raises TimeoutError, the outer block carries on."""
    clock = FakeClock()

    async def main() -> str:
        async with clock.timeout(10.0) as outer:
            with pytest.raises(TimeoutError):
                async with clock.timeout(1.0):
                    await clock.asleep(5.0)
            await clock.asleep(2.0)
        assert not outer.expired
        return "outer finished"

    assert run(main()) == "outer finished"
    assert clock.monotonic() == 3.0


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: FakeClock(auto_advance="no"), "auto_advance"),  # type: ignore[arg-type]
        (lambda: FakeClock().sleep(float("nan")), "seconds"),
        (lambda: FakeClock().timeout(float("nan")), "seconds"),
        (lambda: FakeClock().wait_for_sleepers(-1), "n"),
        (lambda: FakeClock().wait_for_sleepers(1, timeout=-1.0), "timeout"),
    ],
)
def test_invalid_arguments_fail_fast(call, field):
    """Bad arguments raise ValueError naming the field."""
    with pytest.raises(ValueError, match=field):
        call()


def test_call_later_fires_when_time_passes_and_can_be_cancelled():
    """call_later runs its function once fake time passes the delay; a cancelled one never."""
    clock = FakeClock(auto_advance=False)
    fired: list[str] = []
    clock.call_later(2.0, lambda: fired.append("a"))
    cancel = clock.call_later(1.0, lambda: fired.append("b"))
    cancel()
    clock.advance(1.999)
    assert fired == []
    clock.advance(0.001)
    assert fired == ["a"]
    clock.call_later(0.0, lambda: fired.append("now"))  # too small to move the clock: at once
    assert fired == ["a", "now"]
    assert clock.parked == 0  # a timer is no sleeper
