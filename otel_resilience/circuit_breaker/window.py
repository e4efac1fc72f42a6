"""Sliding windows of call outcomes: the last N calls, or the last T seconds in buckets."""

from __future__ import annotations

__all__ = ["CountWindow", "TimeWindow", "Window"]


class CountWindow:
    """Outcomes of the last ``size`` calls, kept in a ring with running totals."""

    __slots__ = ("_codes", "_pos", "failures", "size", "slow", "total")

    def __init__(self, size: int) -> None:
        self.size = size
        self._codes = bytearray(size)  # bit 0: failed, bit 1: slow, bit 2: slot used
        self._pos = 0
        self.total = self.failures = self.slow = 0

    def record(self, now: float, failed: bool, slow: bool) -> None:
        """Add one outcome, evicting the oldest once the window is full."""
        old = self._codes[self._pos]
        if old & 4:
            self.total -= 1
            self.failures -= old & 1
            self.slow -= (old >> 1) & 1
        self._codes[self._pos] = 4 | failed | (slow << 1)
        self._pos = (self._pos + 1) % self.size
        self.total += 1
        self.failures += failed
        self.slow += slow

    def add_success(self, now: float) -> None:
        """Add one fast success: :meth:`record` without the failure and slow bookkeeping."""
        pos = self._pos
        old = self._codes[pos]
        if old & 4:
            self.total -= 1
            self.failures -= old & 1
            self.slow -= (old >> 1) & 1
        self._codes[pos] = 4
        pos += 1
        self._pos = 0 if pos == self.size else pos
        self.total += 1

    def counts(self, now: float) -> tuple[int, int, int]:
        """``(calls, failures, slow calls)`` in the window."""
        return self.total, self.failures, self.slow

    def clear(self) -> None:
        """Forget every outcome."""
        self._codes = bytearray(self.size)
        self._pos = 0
        self.total = self.failures = self.slow = 0


class TimeWindow:
    """Outcomes of the last ``seconds``, in ``buckets`` equal buckets that expire whole.

    A call is in the window while its bucket is one of the ``buckets`` most recent ones, so the
    window covers between ``seconds - seconds/buckets`` and ``seconds`` of history.
    """

    __slots__ = (
        "_calls",
        "_fails",
        "_head",
        "_slows",
        "buckets",
        "failures",
        "slow",
        "total",
        "width",
    )

    def __init__(self, seconds: float, buckets: int = 10) -> None:
        self.buckets = buckets
        self.width = seconds / buckets
        self._calls = [0] * buckets
        self._fails = [0] * buckets
        self._slows = [0] * buckets
        self._head: int | None = None
        self.total = self.failures = self.slow = 0

    def _slot(self, now: float) -> int:
        idx = int(now // self.width)
        head = self._head
        if head is None:
            self._head = head = idx
        elif idx > head:
            n = self.buckets
            for k in range(head + 1, head + 1 + min(idx - head, n)):
                slot = k % n
                self.total -= self._calls[slot]
                self.failures -= self._fails[slot]
                self.slow -= self._slows[slot]
                self._calls[slot] = self._fails[slot] = self._slows[slot] = 0
            self._head = head = idx
        # A clock read that went backwards (threads racing) lands in the newest bucket.
        return head % self.buckets

    def record(self, now: float, failed: bool, slow: bool) -> None:
        """Add one outcome at time ``now``."""
        slot = self._slot(now)
        self._calls[slot] += 1
        self._fails[slot] += failed
        self._slows[slot] += slow
        self.total += 1
        self.failures += failed
        self.slow += slow

    def add_success(self, now: float) -> None:
        """Add one fast success; the common case (same bucket as the last call) is two adds."""
        head = self._head
        if head is not None and int(now // self.width) <= head:
            self._calls[head % self.buckets] += 1
            self.total += 1
        else:
            self.record(now, False, False)

    def counts(self, now: float) -> tuple[int, int, int]:
        """``(calls, failures, slow calls)`` in the window as of ``now``."""
        self._slot(now)
        return self.total, self.failures, self.slow

    def clear(self) -> None:
        """Forget every outcome."""
        self.__init__(self.width * self.buckets, self.buckets)  # type: ignore[misc]


Window = CountWindow | TimeWindow
