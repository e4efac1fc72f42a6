"""Stand-ins for a strategy kind and a shared object added to the policies tables by a test."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from otel_resilience._strategy import Strategy

if TYPE_CHECKING:  # like RetryBudget in Retry's signature: not importable at run time
    from decimal import Decimal


class Budget:
    """A shared object with a token count (as a retry budget has)."""

    def __init__(self, *, max_tokens: float = 10, name: str | None = None) -> None:
        if max_tokens <= 0:
            raise ValueError(f"max_tokens must be > 0, got {max_tokens!r}")
        self.max_tokens = max_tokens
        self.name = name
        self.left = float(max_tokens)

    def tokens(self) -> float:
        """Tokens left (RetryBudget's accessor)."""
        return self.left


class Budgeted(Strategy):
    """A strategy that spends one token of its shared budget per call."""

    __slots__ = ("attempts", "budget")

    strategy_name = "budgeted"

    def __init__(
        self,
        *,
        attempts: int = 1,
        budget: Budget | None = None,
        precise: Decimal | None = None,
        clock: Any = None,
    ) -> None:
        super().__init__(clock=clock)
        self.attempts = attempts
        self.budget = budget

    def _run(self, nxt: Callable[[], Any], ctx: Any) -> Any:
        if self.budget is not None:
            self.budget.left -= 1
        return nxt()


class Injector(Strategy):
    """Built by factory methods, as Chaos.fault / Chaos.latency are."""

    __slots__ = ("settings",)

    strategy_name = "injector"

    def __init__(self, **settings: Any) -> None:
        super().__init__(clock=settings.pop("clock", None))
        self.settings = settings

    @classmethod
    def fault(
        cls, *, rate: float, error: Any = ConnectionError, seed: int | None = None
    ) -> Injector:
        """Fail a fraction of calls with ``error``."""
        if not 0 <= rate <= 1:
            raise ValueError(f"rate must be in [0, 1], got {rate!r}")
        return cls(kind="fault", rate=rate, error=error, seed=seed)

    @classmethod
    def latency(cls, rate: float, *, seconds: float, enabled: bool = False) -> Injector:
        """Delay a fraction of calls."""
        return cls(kind="latency", rate=rate, seconds=seconds, enabled=enabled)

    def _run(self, nxt: Callable[[], Any], ctx: Any) -> Any:
        return nxt()
