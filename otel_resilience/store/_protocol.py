"""The StateStore protocol: what strategies ask of a store, sync and async.

Every method answers ``None`` when the store cannot answer now (the in-memory store, always; a
Redis store that is down, backing off, or too slow for the call's deadline): the strategy then
decides on its local state, which is exactly its behaviour without a store. A store never
raises into the user's call.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = ["Grant", "StateStore"]

#: ``(granted, seconds)``: a permit after sleeping ``seconds`` (0: now), or a refusal with
#: ``retry_after = seconds``.
Grant = tuple[bool, float]


@runtime_checkable
class StateStore(Protocol):
    """Where strategies keep the state a fleet of processes agrees on."""

    @property
    def shared(self) -> bool:
        """Whether the state is shared beyond this process (False: decide locally)."""
        ...

    def link_breaker(self, breaker: Any) -> Any:
        """Start syncing ``breaker`` with the fleet: its link, or None (local only)."""
        ...

    def acquire(
        self, key: str, per_second: float, burst: int, max_wait: float, n: int = 1
    ) -> Grant | None:
        """Take ``n`` permits of the fleet-wide limiter ``key`` (GCRA), or None."""
        ...

    async def aacquire(
        self, key: str, per_second: float, burst: int, max_wait: float, n: int = 1
    ) -> Grant | None:
        """:meth:`acquire` without blocking the event loop."""
        ...

    def link_budget(self, budget: Any) -> Any:
        """Start syncing a token ``budget`` with the fleet: its link, or None (local only)."""
        ...

    def close(self) -> None:
        """Stop background work and drop connections."""
        ...
