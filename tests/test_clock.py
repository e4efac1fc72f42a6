"""SystemClock.timeout on asyncio.timeout (3.11+) and its 3.10 stand-in, and import cost."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import pytest
from core_support import run_python

from otel_resilience._clock import SYSTEM_CLOCK, LoopTimeout

# Real time is allowed here only: a tiny deadline against a future that never completes.
TINY = 0.01
Factory = Callable[[float | None], AbstractAsyncContextManager[object]]
FACTORIES = [
    pytest.param(SYSTEM_CLOCK.timeout, id="system-clock"),
    pytest.param(LoopTimeout, id="py310-fallback"),
]


@pytest.mark.parametrize("timeout", FACTORIES)
def test_timeout_raises_builtin_timeout_error(timeout: Factory):
    """A never-finishing await under a tiny timeout ends in the builtin TimeoutError."""

    async def main() -> None:
        async with timeout(TINY):
            await asyncio.get_running_loop().create_future()

    with pytest.raises(TimeoutError) as info:
        asyncio.run(main())
    assert type(info.value) is TimeoutError
    assert isinstance(info.value.__cause__, asyncio.CancelledError)


@pytest.mark.parametrize("timeout", FACTORIES)
def test_outer_cancellation_propagates(timeout: Factory):
    """A cancel from outside the block stays a CancelledError."""

    async def main() -> None:
        started = asyncio.Event()

        async def body() -> None:
            async with timeout(60.0):
                started.set()
                await asyncio.get_running_loop().create_future()

        task = asyncio.create_task(body())
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())


@pytest.mark.parametrize("timeout", FACTORIES)
@pytest.mark.parametrize("seconds", [None, 60.0])
def test_body_finishing_in_time_returns_normally(timeout: Factory, seconds: float | None):
    """No TimeoutError when the body completes first, and None means no limit."""

    async def main() -> str:
        async with timeout(seconds):
            fut = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_soon(fut.set_result, "done")
            result: str = await fut
        await asyncio.sleep(0)  # a cancel left armed would land here
        return result

    assert asyncio.run(main()) == "done"


def test_fallback_disarms_on_exit():
    """The 3.10 stand-in cancels its loop timer when the block ends."""

    async def main() -> LoopTimeout:
        async with LoopTimeout(60.0) as timeout:
            assert timeout._handle is not None
        return timeout

    timeout = asyncio.run(main())
    assert timeout._handle is None
    assert not timeout.expired


@pytest.mark.parametrize("timeout", FACTORIES)
def test_nan_timeout_is_refused(timeout: Factory):
    """timeout(NaN) raises ValueError naming seconds."""

    async def main() -> None:
        async with timeout(float("nan")):
            pass

    with pytest.raises(ValueError, match="seconds"):
        asyncio.run(main())


def test_import_does_not_load_asyncio_or_testing():
    """`import otel_resilience` pulls in neither asyncio nor the testing helpers."""
    out = run_python(
        """
        import sys
        import otel_resilience
        print(sorted(m for m in ("asyncio", "otel_resilience.testing") if m in sys.modules))
        """
    )
    assert out == "[]"
