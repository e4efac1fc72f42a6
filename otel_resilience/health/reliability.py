"""The in-process aggregation behind ``GET /reliability``: per pipeline, bounded, off by default.

:func:`enable` installs a tap on the core's telemetry: every Pipeline's duration record and
``resilience.events`` count is also folded into fixed time buckets here (5 min in 10 s
buckets, 1 h in 1 min buckets, a log-scale latency histogram per bucket). Memory is fixed
per pipeline and at most ``max_pipelines`` are kept (later ones share ``"_other"``): it does
not grow with traffic. While disabled nothing on the call path changes (see docs/health.md).
"""

from __future__ import annotations

import threading
from typing import Any

from otel_resilience import _slo_feed, semconv
from otel_resilience._clock import SYSTEM_CLOCK, Clock
from otel_resilience._telemetry import set_tap, tracked_breakers
from otel_resilience._validate import check_clock
from otel_resilience.health._breakers import breaker_facts
from otel_resilience.health._buckets import FALLBACKS, RETRIES, Ring, summary

__all__ = ["ReliabilityStats", "current", "disable", "enable", "slos"]

OTHER = "_other"
_ERRORS = frozenset({semconv.OUTCOME_FAILURE, semconv.OUTCOME_REJECTED})
_COUNTED = {semconv.EVENT_RETRY: RETRIES, semconv.EVENT_FALLBACK_USED: FALLBACKS}
#: (label, slots, seconds per slot)
SPANS = (("5m", 30, 10.0), ("1h", 60, 60.0))


class ReliabilityStats:
    """Error rates, latency quantiles, retries and fallbacks per pipeline, over 5 min and 1 h."""

    def __init__(self, *, clock: Clock | None = None, max_pipelines: int = 64) -> None:
        check_clock("clock", clock)
        if isinstance(max_pipelines, bool) or not isinstance(max_pipelines, int):
            raise ValueError(f"max_pipelines must be an int >= 1, got {max_pipelines!r}")
        if max_pipelines < 1:
            raise ValueError(f"max_pipelines must be an int >= 1, got {max_pipelines!r}")
        self._clock: Clock = clock or SYSTEM_CLOCK
        self._max = max_pipelines
        self._lock = threading.Lock()
        self._pipelines: dict[str, tuple[Ring, ...]] = {}

    def _rings(self, pipeline: object) -> tuple[Ring, ...]:
        name = pipeline if isinstance(pipeline, str) else OTHER
        rings = self._pipelines.get(name)
        if rings is None:
            if len(self._pipelines) >= self._max:
                name = OTHER
                rings = self._pipelines.get(OTHER)
            if rings is None:
                rings = tuple(Ring(slots, width) for _, slots, width in SPANS)
                self._pipelines[name] = rings
        return rings

    def record_call(self, pipeline: object, outcome: object, seconds: float) -> None:
        """One finished call through ``pipeline`` (what the duration histogram records)."""
        now = self._clock.monotonic()
        error = outcome in _ERRORS
        with self._lock:
            for ring in self._rings(pipeline):
                ring.call(now, seconds, error)

    def record_event(self, pipeline: object, event: object) -> None:
        """One ``resilience.events`` count: retries and fallbacks are kept."""
        field = _COUNTED.get(event)  # type: ignore[call-overload]
        if field is None:
            return
        now = self._clock.monotonic()
        with self._lock:
            for ring in self._rings(pipeline):
                ring.count(now, field)

    def pipelines(self) -> dict[str, dict[str, Any]]:
        """Per pipeline: ``{"5m": {...}, "1h": {...}}`` with calls, errors, error_rate,
        retries, fallbacks, p50, p95, p99 (seconds, None without calls)."""
        now = self._clock.monotonic()
        with self._lock:
            totals = {
                name: [ring.total(now) for ring in rings] for name, rings in self._pipelines.items()
            }
        return {
            name: {label: summary(total) for (label, _, _), total in zip(SPANS, sums, strict=True)}
            for name, sums in sorted(totals.items())
        }

    # -- the tap: wraps the instruments a Telemetry resolves ---------------------------------

    def histogram(self, real: Any) -> _Histogram:
        """Wrap the pipeline duration histogram (``None``: no SDK records it)."""
        return _Histogram(self, real)

    def counter(self, real: Any) -> _Counter:
        """Wrap the ``resilience.events`` counter (``None``: no SDK records it)."""
        return _Counter(self, real)


class _Histogram:
    __slots__ = ("_real", "_stats")

    def __init__(self, stats: ReliabilityStats, real: Any) -> None:
        self._stats = stats
        self._real = real

    def record(self, amount: float, attributes: Any = None, context: Any = None) -> None:
        try:
            attrs = attributes or {}
            self._stats.record_call(
                attrs.get(semconv.PIPELINE_NAME), attrs.get(semconv.OUTCOME), amount
            )
        except Exception:  # the aggregation never fails a call
            pass
        if self._real is not None:
            self._real.record(amount, attributes)


class _Counter:
    __slots__ = ("_real", "_stats")

    def __init__(self, stats: ReliabilityStats, real: Any) -> None:
        self._stats = stats
        self._real = real

    def add(self, amount: int, attributes: Any = None, context: Any = None) -> None:
        try:
            attrs = attributes or {}
            self._stats.record_event(attrs.get(semconv.PIPELINE_NAME), attrs.get(semconv.EVENT))
        except Exception:
            pass
        if self._real is not None:
            self._real.add(amount, attributes)


_current: ReliabilityStats | None = None


def enable(*, clock: Clock | None = None, max_pipelines: int = 64) -> ReliabilityStats:
    """Start aggregating every pipeline's calls in process; returns the (new) stats object."""
    global _current
    stats = ReliabilityStats(clock=clock, max_pipelines=max_pipelines)
    _current = stats
    set_tap(stats)
    return stats


def disable() -> None:
    """Stop aggregating: pipelines go back to their untouched call path."""
    global _current
    _current = None
    set_tap(None)


def current() -> ReliabilityStats | None:
    """The enabled stats, or None."""
    return _current


def breakers(extra: list[Any] | None = None) -> list[dict[str, Any]]:
    """Every breaker bound to a pipeline (plus ``extra``): name, state, failure ratio."""
    seen: dict[int, Any] = {}
    for breaker in [*(extra or []), *tracked_breakers()]:
        seen.setdefault(id(breaker), breaker)
    return sorted((breaker_facts(b) for b in seen.values()), key=lambda f: str(f["name"]))


def slos() -> list[dict[str, Any]]:
    """Every live SLO's state: error budget left, burn rates, alert states (none: ``[]``).

    An SLO whose status fails is listed with the error's type, never taking the page down.
    """
    out: list[dict[str, Any]] = []
    for slo in _slo_feed.live():
        try:
            s = slo.status()
            options = slo.options
            out.append(
                {
                    "name": s.name,
                    "objective": s.objective,
                    "pipeline": options.pipeline,
                    "window_seconds": options.window,
                    "calls": s.calls,
                    "bad": s.bad,
                    "error_budget_remaining": s.error_budget_remaining,
                    "burn_rates": dict(s.burn_rates),
                    "alerts": dict(s.alerts),
                }
            )
        except Exception as exc:
            out.append({"name": str(getattr(slo, "name", "?")), "error": type(exc).__name__})
    return out
