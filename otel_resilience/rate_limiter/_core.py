"""The token bucket: I/O-free, thread-safe, time passed in by the caller.

Waiting callers *reserve* a permit in the future: the bucket goes into debt and each reservation
is told how long to sleep. Reservations are handed out under one lock in arrival order, so
waiters are served first come, first served (threads and tasks alike), and a late arrival can
never overtake a waiter. A caller that gives up its reservation (cancelled while sleeping)
returns the permit only when nobody reserved after it; otherwise its slot stays spent, which
keeps the rate bound exact (the same rule as Go's ``rate.Reservation.Cancel``).
"""

from __future__ import annotations

import threading

__all__ = ["BucketCore", "NoPermit"]


class NoPermit(Exception):
    """No permit within the allowed wait; ``retry_after`` is seconds until one is free."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = retry_after


class BucketCore:
    """A token bucket of ``capacity`` permits refilled at ``per_second``, starting full."""

    __slots__ = ("_capacity", "_lock", "_per_second", "_reserved", "_stamp", "_tokens", "waiting")

    def __init__(self, capacity: int, per_second: float) -> None:
        self._capacity = float(capacity)
        self._per_second = per_second
        self._lock = threading.Lock()
        self._tokens = float(capacity)
        self._stamp: float | None = None  # the clock is the pipeline's: read at first use
        self._reserved = 0  # ticket of the latest reservation still able to give back
        #: Reservations sleeping now (for telemetry and leak checks).
        self.waiting = 0

    def _refill(self, now: float) -> float:
        stamp = self._stamp
        if stamp is None or now <= stamp:  # first use, or a clock that did not move
            self._stamp = now if stamp is None else stamp
            return self._tokens
        tokens = self._tokens + (now - stamp) * self._per_second
        tokens = min(tokens, self._capacity)
        self._stamp = now
        return tokens

    def try_take(self, now: float) -> bool:
        """Take a permit if one is free now."""
        with self._lock:
            tokens = self._refill(now)
            if tokens >= 1.0:
                self._tokens = tokens - 1.0
                return True
            self._tokens = tokens
            return False

    def reserve(self, now: float, max_wait: float) -> tuple[float, int]:
        """Take a permit now (``(0.0, 0)``) or reserve one ``delay`` seconds ahead.

        Returns ``(delay, ticket)``; the ticket is for :meth:`cancel` / :meth:`done`. Raises
        :class:`NoPermit` when the wait would exceed ``max_wait`` (nothing is taken then).
        """
        with self._lock:
            tokens = self._refill(now)
            if tokens >= 1.0:
                self._tokens = tokens - 1.0
                return 0.0, 0
            delay = (1.0 - tokens) / self._per_second
            if delay > max_wait:
                self._tokens = tokens
                raise NoPermit(delay)
            self._tokens = tokens - 1.0
            self._reserved += 1
            self.waiting += 1
            return delay, self._reserved

    def done(self, ticket: int) -> None:
        """A reservation's sleep ended: the caller goes ahead with its permit."""
        with self._lock:
            self.waiting -= 1

    def cancel(self, ticket: int) -> None:
        """A reservation was abandoned: give its permit back if nobody reserved after it."""
        with self._lock:
            self.waiting -= 1
            if ticket == self._reserved:
                self._reserved -= 1
                self._tokens = min(self._capacity, self._tokens + 1.0)

    def adopt(self, other: BucketCore) -> None:
        """Take over ``other``'s tokens (at most this bucket's capacity) and their time."""
        with other._lock:
            tokens, stamp = other._tokens, other._stamp
        with self._lock:
            self._tokens = min(tokens, self._capacity)
            self._stamp = stamp

    def available(self, now: float) -> float:
        """Permits free at ``now`` (negative while waiters hold reservations)."""
        with self._lock:
            self._tokens = self._refill(now)
            return self._tokens
