"""The in-memory store: every strategy keeps its state in its own process (the default)."""

from __future__ import annotations

from typing import Any

from otel_resilience.store._protocol import Grant

__all__ = ["MemoryStateStore"]


class MemoryStateStore:
    """Nothing is shared: every answer is None, so strategies decide on their local state."""

    __slots__ = ()

    @property
    def shared(self) -> bool:
        """Always False."""
        return False

    def link_breaker(self, breaker: Any) -> None:
        """No link: the breaker is local."""
        return None

    def acquire(
        self, key: str, per_second: float, burst: int, max_wait: float, n: int = 1
    ) -> Grant | None:
        """No fleet limiter: the local bucket decides."""
        return None

    async def aacquire(
        self, key: str, per_second: float, burst: int, max_wait: float, n: int = 1
    ) -> Grant | None:
        """No fleet limiter: the local bucket decides."""
        return None

    def link_budget(self, budget: Any) -> None:
        """No link: the budget is local."""
        return None

    def close(self) -> None:
        """Nothing to close."""

    def __repr__(self) -> str:
        return "MemoryStateStore()"
