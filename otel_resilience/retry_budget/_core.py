"""The I/O-free accounting of a RetryBudget: thread-safe, time passed in by the caller.

Two kinds share one interface: :meth:`success` after an attempt that succeeded and
:meth:`failure` after one that failed in a way worth retrying, which answers (atomically with
the charge) whether the retry may start.
"""

from __future__ import annotations

import threading
from collections import deque

from otel_resilience.retry_budget.options import MILLI, RetryBudgetOptions

__all__ = ["PercentCore", "TokenCore"]


class TokenCore:
    """gRPC retry throttling in thousandths of a token.

    A success only appends to a bounded :class:`~collections.deque` (one C call, atomic under
    the GIL, no lock, no allocation): between two failures only successes happen and tokens
    only grow, so adding them all at the next failure and clamping once gives exactly what
    clamping after each would. The deque holds at most the successes that refill an empty
    budget: any more would be clamped away. Failures fold the successes in under the lock.
    """

    __slots__ = ("_lock", "_max", "_ratio", "_tokens", "successes")

    def __init__(self, options: RetryBudgetOptions) -> None:
        self._max = options.max_milli
        self._ratio = options.ratio_milli
        self._tokens = self._max
        self._lock = threading.Lock()
        #: The success path is ``successes.append(None)``.
        self.successes: deque[None] = deque(maxlen=-(-self._max // self._ratio))

    def _fold(self) -> int:
        successes = self.successes
        n = len(successes)
        if n == successes.maxlen:  # enough to fill the budget: any racing append is moot
            successes.clear()
            return self._max
        for _ in range(n):  # from the left: appends racing with us stay for the next fold
            successes.popleft()
        return min(self._tokens + n * self._ratio, self._max)

    def success(self, first: bool, now: float) -> None:
        """An attempt succeeded: add ``token_ratio``."""
        self.successes.append(None)

    def failure(self, first: bool, retry: bool, now: float) -> bool:
        """Charge one token; ``True`` when ``retry`` is wanted and tokens stay above half."""
        with self._lock:
            self._tokens = tokens = max(self._fold() - MILLI, 0)
            return retry and tokens * 2 > self._max

    def tokens(self, now: float) -> float:
        """Tokens now, in ``[0, max_tokens]``."""
        with self._lock:
            self._tokens = tokens = self._fold()
        return tokens / MILLI

    def adopt(self, other: TokenCore) -> None:
        """Take over ``other``'s tokens (at most this budget's maximum)."""
        tokens = round(other.tokens(0.0) * MILLI)
        with self._lock:
            self._tokens = min(tokens, self._max)


class PercentCore:
    """Retries at most ``percent`` of the requests of the last ``window`` seconds, plus a floor.

    The window is a ring of ``slots`` buckets; a request is a call's first attempt (counted
    once, whatever its outcome), a retry is counted when it is allowed to start. The floor,
    ``min_retries_per_second * window``, lets a quiet service retry at all.
    """

    __slots__ = ("_floor", "_lock", "_ratio", "_requests", "_retries", "_stamp", "_width")

    SLOTS = 10

    def __init__(self, options: RetryBudgetOptions) -> None:
        self._ratio = options.percent / 100.0
        self._floor = options.min_retries_per_second * options.window
        self._width = options.window / self.SLOTS
        self._requests = [0] * self.SLOTS
        self._retries = [0] * self.SLOTS
        self._stamp: int | None = None  # index of the newest bucket, in bucket widths
        self._lock = threading.Lock()

    def _slot(self, now: float) -> int:
        """The current bucket's index in the ring, clearing buckets that left the window."""
        tick = int(now // self._width)
        stamp = self._stamp
        if stamp is None or tick > stamp:
            start = (
                tick - self.SLOTS + 1 if stamp is None else max(stamp + 1, tick - self.SLOTS + 1)
            )
            for t in range(start, tick + 1):
                self._requests[t % self.SLOTS] = 0
                self._retries[t % self.SLOTS] = 0
            self._stamp = tick
        elif tick < stamp:  # a clock that went back: count in the newest bucket
            tick = stamp
        return tick % self.SLOTS

    def _left(self) -> float:
        return self._ratio * sum(self._requests) + self._floor - sum(self._retries)

    def success(self, first: bool, now: float) -> None:
        """An attempt succeeded: a first attempt counts as a request."""
        if first:
            with self._lock:
                self._requests[self._slot(now)] += 1

    def failure(self, first: bool, retry: bool, now: float) -> bool:
        """Count the request (a first attempt); ``True`` when the retry fits in the budget."""
        with self._lock:
            slot = self._slot(now)
            if first:
                self._requests[slot] += 1
            if retry and self._left() >= 1.0:
                self._retries[slot] += 1
                return True
            return False

    def tokens(self, now: float) -> float:
        """Retries that may still start in the current window."""
        with self._lock:
            self._slot(now)
            return max(0.0, self._left())
