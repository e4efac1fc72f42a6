"""Sliding windows of call outcomes: the last N calls, or the last T seconds in buckets."""

from __future__ import annotations

import math

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
        "_head_end",
        "_head_slot",
        "_slows",
        "buckets",
        "failures",
        "slow",
        "total",
        "width",
    )
    _head: int | None  # index of the newest bucket seen, None before the first outcome

    def __init__(self, seconds: float, buckets: int = 10) -> None:
        self.buckets = buckets
        self.width = seconds / buckets
        self.clear()

    def _slot(self, now: float) -> int:
        idx = int(now // self.width)
        head = self._head
        if head is None:
            self._set_head(idx)
            head = idx
        elif idx > head:
            self._expire(head, idx)
            self._set_head(idx)
            head = idx
        # A clock read that went backwards (threads racing) lands in the newest bucket.
        return head % self.buckets

    def _set_head(self, idx: int) -> None:
        # Cached for add_success: one float comparison instead of a floor division per call.
        self._head_slot = idx % self.buckets
        self._head_end = (idx + 1) * self.width
        self._head = idx

    def _expire(self, head: int, idx: int) -> None:
        """Empty the buckets that leave the window as the newest bucket moves to ``idx``."""
        n = self.buckets
        if idx - head >= n:  # the whole window expired, however long the clock jumped
            self.clear()
            return
        # Slices, not a loop per bucket: a jump costs a few C-level passes over <= n buckets.
        start = (head + 1) % n
        stop = start + idx - head
        self._zero(start, min(stop, n))
        if stop > n:  # the expired run wraps around the ring
            self._zero(0, stop - n)

    def _zero(self, lo: int, hi: int) -> None:
        calls, fails, slows = self._calls, self._fails, self._slows
        gone = (sum(calls[lo:hi]), sum(fails[lo:hi]), sum(slows[lo:hi]))
        zeros = [0] * (hi - lo)
        # No call from here on: an interrupt (a signal handler raising) cannot split the update.
        calls[lo:hi] = zeros
        fails[lo:hi] = zeros
        slows[lo:hi] = zeros
        self.total -= gone[0]
        self.failures -= gone[1]
        self.slow -= gone[2]

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
        if now < self._head_end:  # the newest bucket (or a clock read that went backwards)
            self._calls[self._head_slot] += 1
            self.total += 1
        else:
            self.record(now, False, False)

    def counts(self, now: float) -> tuple[int, int, int]:
        """``(calls, failures, slow calls)`` in the window as of ``now``."""
        self._slot(now)
        return self.total, self.failures, self.slow

    def clear(self) -> None:
        """Forget every outcome."""
        n = self.buckets
        self._calls = [0] * n
        self._fails = [0] * n
        self._slows = [0] * n
        self._head = None
        self._head_end = -math.inf  # no bucket yet: the first success takes the slow path
        self._head_slot = 0
        self.total = self.failures = self.slow = 0


Window = CountWindow | TimeWindow
