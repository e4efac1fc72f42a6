"""Fixed-size time buckets of call counts and a log-scale latency histogram (no growth).

Latency buckets grow geometrically (x1.25) from 0.5 ms to about 5 min: a quantile read from
them is within one bucket, about 12 % of the value. Each ring keeps ``slots`` buckets of
``width`` seconds; a slot is reused (zeroed) when its time comes round again.
"""

from __future__ import annotations

import bisect
import math

__all__ = ["LATENCY_BOUNDS", "Ring", "quantile"]

#: Upper bounds (seconds) of the latency buckets; one more bucket holds everything above.
LATENCY_BOUNDS: tuple[float, ...] = tuple(0.0005 * 1.25**i for i in range(60))

# Offsets of the counters in a slot, before the latency buckets.
CALLS, ERRORS, RETRIES, FALLBACKS = 0, 1, 2, 3
_HEAD = 4


class Ring:
    """``slots`` buckets of ``width`` seconds; :meth:`total` sums those in the last span."""

    __slots__ = ("_epochs", "_slots", "width")

    def __init__(self, slots: int, width: float) -> None:
        self.width = width
        self._epochs = [-1] * slots
        self._slots: list[list[int] | None] = [None] * slots  # allocated on first use

    def _slot(self, now: float) -> list[int]:
        epoch = math.floor(now / self.width)
        idx = epoch % len(self._slots)
        slot = self._slots[idx]
        if slot is None or self._epochs[idx] != epoch:
            slot = [0] * (_HEAD + len(LATENCY_BOUNDS) + 1)
            self._slots[idx] = slot
            self._epochs[idx] = epoch
        return slot

    def call(self, now: float, seconds: float, error: bool) -> None:
        """Count one call, its latency, and whether it failed."""
        slot = self._slot(now)
        slot[CALLS] += 1
        if error:
            slot[ERRORS] += 1
        slot[_HEAD + bisect.bisect_left(LATENCY_BOUNDS, seconds)] += 1

    def count(self, now: float, field: int) -> None:
        """Add one to counter ``field`` (RETRIES, FALLBACKS)."""
        self._slot(now)[field] += 1

    def total(self, now: float) -> list[int]:
        """Element-wise sum of the slots inside the ring's span ending now."""
        newest = math.floor(now / self.width)
        oldest = newest - len(self._slots) + 1
        out = [0] * (_HEAD + len(LATENCY_BOUNDS) + 1)
        for epoch, slot in zip(self._epochs, self._slots, strict=True):
            if slot is not None and oldest <= epoch <= newest:
                for i, value in enumerate(slot):
                    if value:
                        out[i] += value
        return out


def quantile(total: list[int], q: float) -> float | None:
    """The upper bound of the latency bucket holding quantile ``q``; None without calls."""
    counts = total[_HEAD:]
    n = sum(counts)
    if not n:
        return None
    rank = q * n
    seen = 0
    for i, count in enumerate(counts):
        seen += count
        if seen >= rank and count:
            return LATENCY_BOUNDS[i] if i < len(LATENCY_BOUNDS) else math.inf
    return math.inf  # pragma: no cover - rank <= n always stops the loop


def summary(total: list[int]) -> dict[str, float | int | None]:
    """Counts, error rate and p50/p95/p99 (seconds) of a summed span."""
    calls = total[CALLS]
    return {
        "calls": calls,
        "errors": total[ERRORS],
        "error_rate": total[ERRORS] / calls if calls else None,
        "retries": total[RETRIES],
        "fallbacks": total[FALLBACKS],
        "p50": quantile(total, 0.50),
        "p95": quantile(total, 0.95),
        "p99": quantile(total, 0.99),
    }
