"""A slow compare function (text_similarity on long answers) never blocks the event loop."""

from __future__ import annotations

import asyncio
import threading

from otel_resilience import Pipeline
from otel_resilience.shadow import Shadow


def test_async_compare_runs_off_the_event_loop():
    """While a compare function is still running, the loop serves the next call."""
    entered, answered = threading.Event(), threading.Event()

    def compare(primary: int, candidate: int) -> bool:
        entered.set()
        return answered.wait(5)  # False only if the loop could not serve a call meanwhile

    async def candidate(x: int) -> int:
        return x

    async def primary(x: int) -> int:
        return x

    shadow = Shadow(candidate=candidate, compare=compare, percent=100)
    pipeline = Pipeline("p", shadow)

    async def main() -> None:
        assert await pipeline.acall(primary, 1) == 1
        assert await asyncio.to_thread(entered.wait, 5)
        assert await pipeline.acall(primary, 2) == 2  # served while compare still runs
        answered.set()
        assert await shadow.adrain(10)

    asyncio.run(main())
    stats = shadow.stats
    assert (stats.compared, stats.agreed) == (2, 2)
