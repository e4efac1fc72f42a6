"""What Shadow, Rollout, CanaryAnalysis and ABTest share: sticky buckets, windows, metrics.

All I/O-free but the metric recording, which never raises.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import random
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from opentelemetry import metrics

from otel_resilience import semconv
from otel_resilience._version import __version__ as _VERSION

__all__ = [
    "PASS_THROUGH",
    "ArmWindow",
    "VariantMetrics",
    "WindowTotals",
    "bucket_of",
    "check_name",
    "check_percent",
    "draw",
    "meter_provider_of",
]

_log = logging.getLogger(__name__)
_SCALE = float(1 << 64)

#: What user code (a candidate, key, compare or metric) may raise through us: the user's own
#: interrupt and the caller's cancellation. Anything else, even a BaseException, is that code's
#: failure and must not fail the call.
PASS_THROUGH: tuple[type[BaseException], ...] = (KeyboardInterrupt, asyncio.CancelledError)


def bucket_of(salt: str, key: object) -> float:
    """A stable number in ``[0, 1)`` for ``key``: the same in every process and run.

    ``hash()`` is salted per process for strings, so a digest of a canonical encoding is used
    instead (``str`` and ``bytes`` as they are, anything else by its ``repr``).
    """
    if isinstance(key, bytes):
        data = key
    elif isinstance(key, str):
        data = key.encode("utf-8", "surrogatepass")
    else:
        data = repr(key).encode("utf-8", "surrogatepass")
    digest = hashlib.blake2b(data, digest_size=8, key=salt.encode("utf-8")[:64]).digest()
    return int.from_bytes(digest, "big") / _SCALE


def draw(
    salt: str, key_fn: Callable[..., Any] | None, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> float:
    """The call's number in ``[0, 1)``: by its key when a key function is given, else random.

    A key function that raises gives a random number (the call must not fail for it).
    """
    if key_fn is not None:
        try:
            return bucket_of(salt, key_fn(*args, **kwargs))
        except BaseException as exc:
            if isinstance(exc, PASS_THROUGH):
                raise
            _log.debug("otel-resilience: the key function raised", exc_info=True)
    return random.random()


def check_percent(field: str, value: object) -> float:
    """A number in ``[0, 100]``."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not 0.0 <= value <= 100.0:  # type: ignore[operator]
        raise ValueError(f"{field} must be a number from 0 to 100, got {value!r}")
    return float(value)  # type: ignore[arg-type]


def check_name(field: str, value: object, *, optional: bool = True) -> None:
    """A non-empty string (or ``None`` when optional)."""
    if value is None and optional:
        return
    if not isinstance(value, str) or not value:
        raise ValueError(f"{field} must be a non-empty string, got {value!r}")


class WindowTotals:
    """One arm's totals over a window: calls, failures, summed latency, latency samples."""

    __slots__ = ("calls", "failures", "latencies", "latency_sum")

    def __init__(self) -> None:
        self.calls = 0
        self.failures = 0
        self.latency_sum = 0.0
        self.latencies: list[float] = []

    @property
    def error_rate(self) -> float:
        """Failures per call (0 without calls)."""
        return self.failures / self.calls if self.calls else 0.0

    @property
    def mean_latency(self) -> float:
        """Mean latency in seconds (0 without calls)."""
        return self.latency_sum / self.calls if self.calls else 0.0

    def percentile(self, q: float) -> float | None:
        """The ``q``-th percentile (0-100, nearest rank) of the latencies kept, if any."""
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        rank = max(1, math.ceil(q / 100.0 * len(ordered)))
        return ordered[rank - 1]


class ArmWindow:
    """Outcomes of one arm over the last ``window`` seconds (on the caller's clock).

    Outcomes go into ``buckets`` time buckets; older buckets fall out as time moves, so
    memory is bounded by the bucket count plus at most ``max_samples`` latencies kept for
    percentiles. Not thread-safe: the owner holds its lock.
    """

    __slots__ = (
        "_buckets",
        "_calls",
        "_failures",
        "_latency",
        "_samples",
        "_width",
        "max_samples",
        "window",
    )

    def __init__(self, window: float, *, buckets: int = 10, max_samples: int = 0) -> None:
        self.window = window
        self._width = window / buckets
        # [bucket index, calls, failures, latency sum], oldest first, and their running sums
        # (so that a total costs no walk over the buckets on every call).
        self._buckets: deque[list[Any]] = deque()
        self._calls = 0
        self._failures = 0
        self._latency = 0.0
        self.max_samples = max_samples
        self._samples: deque[tuple[float, float]] = deque(maxlen=max_samples or 1)

    def add(self, now: float, failed: bool, latency: float) -> None:
        """Record one outcome at ``now``."""
        index = int(now // self._width)
        buckets = self._buckets
        if not buckets or buckets[-1][0] != index:
            self._expire(now)  # at a bucket boundary only: reads expire on their own
            buckets.append([index, 0, 0, 0.0])
        last = buckets[-1]
        last[1] += 1
        last[2] += failed
        last[3] += latency
        self._calls += 1
        self._failures += failed
        self._latency += latency
        if self.max_samples:
            self._samples.append((now, latency))

    def _expire(self, now: float) -> None:
        oldest = int((now - self.window) // self._width)
        buckets = self._buckets
        while buckets and buckets[0][0] <= oldest:
            _, calls, failures, latency = buckets.popleft()
            self._calls -= calls
            self._failures -= failures
            self._latency -= latency
        if not buckets:  # start again from exact zeros: no float drift carried over
            self._latency = 0.0
        samples = self._samples
        while samples and samples[0][0] <= now - self.window:
            samples.popleft()

    def calls(self, now: float) -> int:
        """Calls in the window ending at ``now`` (cheaper than :meth:`totals`)."""
        self._expire(now)
        return self._calls

    def totals(self, now: float) -> WindowTotals:
        """Totals over the window ending at ``now``."""
        self._expire(now)
        out = WindowTotals()
        out.calls = self._calls
        out.failures = self._failures
        out.latency_sum = max(0.0, self._latency)
        if self.max_samples:
            out.latencies = [latency for _, latency in self._samples]
        return out

    def clear(self) -> None:
        """Forget everything."""
        self._buckets.clear()
        self._samples.clear()
        self._calls = self._failures = 0
        self._latency = 0.0


class VariantMetrics:
    """The per-variant instruments, created from the strategy's meter provider on first use.

    ``get(meter_provider)`` returns ``(duration, agreement, metric)`` histograms, or ``None``
    when the provider is ``None``; the instruments are re-created when the provider changes.
    """

    __slots__ = ("_for", "_instruments", "_lock")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._for: object = None
        self._instruments: tuple[Any, Any, Any] | None = None

    def get(self, meter_provider: object) -> tuple[Any, Any, Any] | None:
        """The three histograms for ``meter_provider`` (``None``: nothing records metrics)."""
        if meter_provider is None:
            return None
        found = self._instruments
        if found is not None and self._for is meter_provider:
            return found
        with self._lock:
            try:
                meter = meter_provider.get_meter(semconv.SCOPE_NAME, _VERSION)  # type: ignore[attr-defined]
                if isinstance(meter, metrics.NoOpMeter):
                    return None
                found = (
                    meter.create_histogram(
                        semconv.METRIC_VARIANT_DURATION,
                        unit="s",
                        description="Duration of calls per variant (primary, candidate, arm).",
                        explicit_bucket_boundaries_advisory=list(semconv.DURATION_BUCKETS),
                    ),
                    meter.create_histogram(
                        semconv.METRIC_VARIANT_AGREEMENT,
                        unit="1",
                        description="Agreement scores of shadow candidates with the primary.",
                    ),
                    meter.create_histogram(
                        semconv.METRIC_VARIANT_METRIC,
                        unit="1",
                        description="The metric an A/B test computes from each result.",
                    ),
                )
            except Exception:
                _log.debug("otel-resilience: creating variant metrics failed", exc_info=True)
                return None
            self._for, self._instruments = meter_provider, found
            return found

    @staticmethod
    def record(histogram: Any, value: float, attributes: dict[str, Any]) -> None:
        """``histogram.record``, never raising."""
        try:
            histogram.record(value, attributes)
        except Exception:
            _log.debug("otel-resilience: recording a variant metric failed", exc_info=True)


def meter_provider_of(telemetry: Any, inst: Any) -> object | None:
    """The meter provider a strategy reports through, or ``None`` when nothing records."""
    if inst.pipeline_duration is None:
        return None
    provider: object | None = telemetry.providers[1] or inst.key[1]
    return provider
