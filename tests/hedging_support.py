"""A scripted async dependency for the Hedging tests: what each attempt does, on a FakeClock."""

from __future__ import annotations

import asyncio
from typing import Any

from otel_resilience.testing import FakeClock


class Script:
    """Attempt ``i`` sleeps ``plan[i][0]`` fake seconds, then raises ``plan[i][1]`` if it is an
    exception, else returns it. Records which attempts started, finished and were cancelled."""

    def __init__(self, clock: FakeClock, *plan: tuple[float, Any]) -> None:
        self.clock = clock
        self.plan = list(plan)
        self.started: list[int] = []
        self.cancelled: list[int] = []
        self.finished: list[int] = []

    async def __call__(self) -> Any:
        i = len(self.started)
        self.started.append(i)
        after, outcome = self.plan[i]
        try:
            if after:
                await self.clock.asleep(after)
        except asyncio.CancelledError:
            self.cancelled.append(i)
            raise
        self.finished.append(i)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def others() -> set[asyncio.Task[Any]]:
    """The tasks of the running loop other than the current one (leaked attempts or timers)."""
    return asyncio.all_tasks() - {asyncio.current_task()}  # type: ignore[operator]
