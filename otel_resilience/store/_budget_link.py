"""The link between one token RetryBudget and the fleet's token counter in Redis.

The budget keeps deciding on its local core, which the sync thread overwrites with the fleet's
count every ``sync_interval`` (a failure wakes it at once). Successes are counted by
``list.append`` (one C call, the Retry's success path) and drained by the sync; failures are
charged locally at once and sent with the next sync. The fleet's counter follows the same rule
as the local one (successes add ``token_ratio``, failures cost one token, clamped to
``[0, max_tokens]``), so the fleet sees at most ``max_tokens / 2`` retries of a dependency
that fails everything, give or take one sync interval's worth per process.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING, Any

from otel_resilience.retry_budget._core import TokenCore

if TYPE_CHECKING:
    from otel_resilience.retry_budget.budget import RetryBudget
    from otel_resilience.store.redis_store import RedisStateStore

__all__ = ["BudgetLink"]


class BudgetLink:
    """Successes and failures of one budget not yet sent to the fleet."""

    __slots__ = (
        "__weakref__",
        "_budget",
        "_fails",
        "_lock",
        "keys",
        "store",
        "successes",
    )

    script = "budget"

    def __init__(
        self, budget: RetryBudget, store: RedisStateStore, name: str, successes: list[None]
    ) -> None:
        self._budget = weakref.ref(budget)
        self.store = store
        self.keys = (f"{store.options.prefix}:rb:{{{name}}}",)
        #: The budget's success path is ``successes.append(None)``; drained at every sync.
        self.successes = successes
        self.reset()

    def reset(self) -> None:
        """Nothing pending (new link, or a forked child: the parent's counts are not ours)."""
        self.successes.clear()  # the same list: Retries hold it
        self._lock = threading.Lock()
        self._fails = 0

    def failure(self) -> None:
        """A failed attempt was charged locally: send it, soon."""
        with self._lock:
            self._fails += 1
        self.store.kick()

    def _core(self) -> TokenCore | None:
        budget = self._budget()
        core = None if budget is None else budget._core
        return core if isinstance(core, TokenCore) else None

    def dirty(self) -> bool:
        """Always: a budget's sync also carries the other processes' spending."""
        return True

    def batch(self) -> list[list[Any]]:
        """Script arguments: successes and failures since the last sync."""
        successes = self.successes
        n = len(successes)
        del successes[:n]  # appends racing with us stay for the next sync
        with self._lock:
            fails, self._fails = self._fails, 0
        core = self._core()
        if core is None:
            return []
        # Sent even when nothing happened here: the answer carries the other processes' news.
        return [[core._max, core._ratio, n, fails, self._ttl()]]

    def _ttl(self) -> int:
        return round(self.store.options.key_ttl * 1000)

    def requeue(self, args: list[list[Any]]) -> None:
        """The store did not answer: fold the successes into the local budget instead."""
        core = self._core()
        if core is None:
            return
        n = sum(int(a[2]) for a in args)
        if n:
            with core._lock:
                core._tokens = min(core._tokens + n * core._ratio, core._max)

    def apply(self, reply: Any, now: float) -> None:
        """The fleet's tokens (thousandths) become the local budget's."""
        core = self._core()
        if core is not None:
            with core._lock:
                core._tokens = min(max(int(reply), 0), core._max)
