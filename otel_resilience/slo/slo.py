"""SLO: an objective over a pipeline's calls, its error budget and burn-rate alerts, in process."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from otel_resilience import _slo_feed, semconv
from otel_resilience._clock import SYSTEM_CLOCK, Clock
from otel_resilience._telemetry import _StateGauges
from otel_resilience._validate import check_clock
from otel_resilience.slo._core import BurnCore
from otel_resilience.slo.options import SLOOptions, parse_window

if TYPE_CHECKING:
    from opentelemetry.metrics import Observation

__all__ = ["SLO", "SLOStatus"]

_BAD_OUTCOMES = frozenset({semconv.OUTCOME_FAILURE, semconv.OUTCOME_REJECTED})

_budget_gauges = _StateGauges(
    semconv.METRIC_SLO_ERROR_BUDGET_REMAINING,
    "1",
    "Share of the SLO's error budget left over its window (1 untouched, 0 spent).",
    "budget_observations",
)
_burn_gauges = _StateGauges(
    semconv.METRIC_SLO_BURN_RATE,
    "1",
    "Error ratio over a window divided by the SLO's error budget (1: on budget).",
    "burn_observations",
)
_alert_gauges = _StateGauges(
    semconv.METRIC_SLO_ALERT,
    "1",
    "1 while the SLO's multi-window burn-rate alert of this severity fires, else 0.",
    "alert_observations",
)


@dataclass(frozen=True, slots=True)
class SLOStatus:
    """An SLO's state at one instant (see :meth:`SLO.status`)."""

    name: str
    objective: float
    #: Calls and bad calls counted over the SLO's window.
    calls: int
    bad: int
    #: Share of the error budget left: 1 untouched, 0 spent, negative when overspent.
    error_budget_remaining: float
    #: Burn rate per window (``"5m"`` ... ``"3d"``): error ratio / error budget.
    burn_rates: dict[str, float]
    #: ``{"page": firing, "ticket": firing}``: the multi-window multi-burn-rate alerts.
    alerts: dict[str, bool]


class SLO:
    """A service-level objective over the calls of a pipeline (by name; ``None``: all).

    ``SLO("checkout-availability", objective=0.999, window="30d", pipeline="checkout")`` counts
    every call the pipeline records in ``resilience.pipeline.duration`` (so a meter provider
    must be configured: with none, pipelines skip telemetry and nothing is counted). A call is
    bad when its outcome is ``failure`` or ``rejected``; with ``latency_threshold`` (seconds),
    when it took longer than that instead. :meth:`status` gives the error budget left and the
    SRE workbook's multi-window burn-rate alerts (page: 1h/5m at 14.4x or 6h/30m at 6x;
    ticket: 3d/6h at 1x); the same figures are observable gauges
    (``resilience.slo.error_budget.remaining``, ``.burn_rate``, ``.alert``) read at collection
    time. Memory is fixed (time buckets on ``clock``); keep a reference to the SLO: it is held
    weakly, like breakers.
    """

    __slots__ = ("__weakref__", "_clock", "_core", "_lock", "options")

    def __init__(
        self,
        name: str,
        objective: float = 0.999,
        window: str | float = "30d",
        pipeline: str | None = None,
        latency_threshold: float | None = None,
        *,
        clock: Clock | None = None,
        meter_provider: Any = None,
    ) -> None:
        check_clock("clock", clock)
        if meter_provider is not None and not callable(getattr(meter_provider, "get_meter", None)):
            raise ValueError(
                f"meter_provider must be an OpenTelemetry meter provider, got {meter_provider!r}"
            )
        self.options = SLOOptions(
            name=name,
            objective=objective,
            window=parse_window("window", window),
            pipeline=pipeline,
            latency_threshold=latency_threshold,
        )
        self._clock: Clock = clock or SYSTEM_CLOCK
        self._core = BurnCore(self.options)
        self._lock = threading.Lock()
        for gauges in (_budget_gauges, _burn_gauges, _alert_gauges):
            gauges.follow(meter_provider, self)
        _slo_feed.register(self)

    @property
    def name(self) -> str:
        """The SLO's name (attribute ``resilience.slo.name`` of its gauges)."""
        return self.options.name

    def record(self, good: bool, *, at: float | None = None) -> None:
        """Count one call by hand (``at``: its end on the SLO's clock, default now)."""
        if at is None:
            now = self._clock.monotonic()
        elif isinstance(at, (int, float)) and not isinstance(at, bool) and math.isfinite(at):
            now = float(at)
        else:
            raise ValueError(f"at must be a finite time on the SLO's clock or None, got {at!r}")
        with self._lock:
            self._core.add(now, not good)

    def status(self) -> SLOStatus:
        """Error budget left, burn rates and alert states now."""
        now = self._clock.monotonic()
        with self._lock:
            bad, calls = self._core.sums(now, self.options.window)
            remaining = self._core.budget_remaining(now)
            rates = self._core.burn_rates(now)
        return SLOStatus(
            name=self.name,
            objective=self.options.objective,
            calls=calls,
            bad=bad,
            error_budget_remaining=remaining,
            burn_rates=rates,
            alerts=self._core.alerts(rates),
        )

    def __repr__(self) -> str:
        o = self.options
        return (
            f"SLO({o.name!r}, objective={o.objective!r}, window={o.window!r}, "
            f"pipeline={o.pipeline!r}, latency_threshold={o.latency_threshold!r})"
        )

    # -- fed by pipelines (otel_resilience._slo_feed) ------------------------------------------

    def _observe(self, pipeline: str, outcome: str, seconds: float) -> None:
        o = self.options
        if o.pipeline is not None and pipeline != o.pipeline:
            return
        if o.latency_threshold is None:
            bad = outcome in _BAD_OUTCOMES
        else:
            bad = seconds > o.latency_threshold
        now = self._clock.monotonic()
        with self._lock:
            self._core.add(now, bad)

    # -- gauges ------------------------------------------------------------------------------

    def budget_observations(self) -> Iterator[Observation]:
        """The observation of ``resilience.slo.error_budget.remaining``."""
        from opentelemetry.metrics import Observation

        with self._lock:
            remaining = self._core.budget_remaining(self._clock.monotonic())
        yield Observation(remaining, {semconv.SLO_NAME: self.name})

    def burn_observations(self) -> Iterator[Observation]:
        """One ``resilience.slo.burn_rate`` observation per window."""
        from opentelemetry.metrics import Observation

        with self._lock:
            rates = self._core.burn_rates(self._clock.monotonic())
        for window, rate in rates.items():
            yield Observation(rate, {semconv.SLO_NAME: self.name, semconv.SLO_BURN_WINDOW: window})

    def alert_observations(self) -> Iterator[Observation]:
        """One ``resilience.slo.alert`` observation per severity (1 firing, 0 not)."""
        from opentelemetry.metrics import Observation

        with self._lock:
            rates = self._core.burn_rates(self._clock.monotonic())
        for severity, firing in self._core.alerts(rates).items():
            attrs = {semconv.SLO_NAME: self.name, semconv.SLO_SEVERITY: severity}
            yield Observation(int(firing), attrs)
