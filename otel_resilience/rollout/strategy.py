"""Rollout: a growing share of calls goes to a candidate; a worse candidate is rolled back."""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

from opentelemetry._logs import SeverityNumber
from opentelemetry.metrics import Observation

from otel_resilience import semconv
from otel_resilience._clock import Clock
from otel_resilience._responses import aclose_dropped, close_dropped
from otel_resilience._strategy import CallContext, Strategy
from otel_resilience._telemetry import Telemetry, _StateGauges
from otel_resilience._variants import PASS_THROUGH, VariantMetrics, draw, meter_provider_of
from otel_resilience.fallback._core import name_of
from otel_resilience.rollout._core import RollbackVerdict, RolloutCore
from otel_resilience.rollout.options import RolloutOptions, normalise_schedule

__all__ = ["Rollout"]

_log = logging.getLogger(__name__)
T = TypeVar("T")
_NOTHING: Any = object()

_share_gauges = _StateGauges(
    semconv.METRIC_ROLLOUT_SHARE,
    "1",
    "The share of calls a rollout routes to its candidate (0 after a rollback).",
    "share_observations",
)


class Rollout(Strategy):
    """Route a share of calls to ``candidate`` that grows on a schedule; roll back when worse.

    ``schedule`` is a list of ``(seconds, share)`` steps: from ``seconds`` after the rollout
    starts (construction, or joining its pipeline), ``share`` (0 to 1) of calls call the
    candidate with the call's arguments instead of the protected function. With ``key``
    (called with the call's arguments), routing is sticky: a key that reached the candidate
    keeps reaching it as the share grows. A call the candidate fails (an exception or a
    failing result) is served by the primary, so callers never see the candidate's failures.

    Over the last ``window`` seconds, once both sides made ``min_calls`` calls, the candidate is
    rolled back (share 0 until :meth:`reset`) when its error rate exceeds the primary's by more
    than ``margin``, or (with ``latency_margin``) its mean latency exceeds the primary's by more
    than that ratio. Strategies after the Rollout in the pipeline protect the primary only.
    """

    __slots__ = (
        "__weakref__",  # the share gauge holds rollouts weakly
        "_candidate",
        "_core",
        "_lock",
        "_metrics",
        "_pipeline",
        "_schedule",
        "name",
        "options",
    )

    strategy_name = semconv.STRATEGY_ROLLOUT

    def __init__(
        self,
        *,
        candidate: Callable[..., Any],
        schedule: Sequence[tuple[float, float]],
        key: Callable[..., Any] | None = None,
        window: float = 60.0,
        margin: float = 0.05,
        latency_margin: float | None = None,
        min_calls: int = 20,
        name: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.options = RolloutOptions(
            candidate=candidate,
            schedule=schedule,
            key=key,
            window=window,
            margin=margin,
            latency_margin=latency_margin,
            min_calls=min_calls,
            name=name,
        )
        super().__init__(clock=clock)
        self.name: str = name or name_of(candidate)
        self._candidate = candidate
        self._schedule = normalise_schedule(schedule)
        self._lock = threading.Lock()
        self._core = RolloutCore(
            self._schedule,
            self._clock.monotonic(),
            float(window),
            float(margin),
            latency_margin,
            min_calls,
        )
        self._metrics = VariantMetrics()
        self._pipeline: str | None = None

    def __repr__(self) -> str:
        return f"Rollout(candidate={self.name}, share={self.share:g})"

    def _bind(self, pipeline_name: str, clock: Clock, telemetry: Telemetry) -> bool:
        before = self._clock
        first = super()._bind(pipeline_name, clock, telemetry)
        if first:
            self._pipeline = pipeline_name
            if self._clock is not before:  # the schedule runs on the pipeline's clock
                with self._lock:
                    self._core.reset(self._clock.monotonic())
            _share_gauges.follow(telemetry.providers[1], self)
        return first

    # -- public state --------------------------------------------------------------------------

    @property
    def share(self) -> float:
        """The share of calls routed to the candidate now (0 after a rollback)."""
        with self._lock:
            return self._core.share_at(self._clock.monotonic())

    @property
    def rolled_back(self) -> RollbackVerdict | None:
        """Why the candidate was rolled back, with the window's numbers; ``None`` if it was not."""
        return self._core.rolled_back

    def reset(self) -> None:
        """Lift a rollback and start the schedule again from now, with empty windows."""
        with self._lock:
            self._core.reset(self._clock.monotonic())

    def share_observations(self) -> Iterable[Observation]:
        """The gauge's observation: the current share."""
        attrs = {semconv.PIPELINE_NAME: self._pipeline or "", semconv.VARIANT: self.name}
        yield Observation(self.share, attrs)

    # -- runners -------------------------------------------------------------------------------

    def _route(self, ctx: CallContext) -> float:
        """The share now, reporting a step reached; ``-share`` when this call takes the primary."""
        now = self._clock.monotonic()
        with self._lock:
            share, advanced = self._core.route(now)
        if advanced is not None:
            self._report_advance(ctx, advanced)
        if share <= 0.0:
            return -0.0
        if share >= 1.0 or draw(self.name, self.options.key, ctx.args, ctx.kwargs) < share:
            return share
        return -share

    def _run(self, nxt: Callable[[], T], ctx: CallContext) -> T:
        share = self._route(ctx)
        if share > 0.0:
            started = self._clock.monotonic()
            try:
                result = self._candidate(*ctx.args, **ctx.kwargs)
                failed = bool(ctx.result_failed(result))
            except BaseException as exc:  # the candidate's failure, served by the primary
                if isinstance(exc, PASS_THROUGH):
                    raise
                result, failed = _NOTHING, True
            self._record(ctx, True, failed, started)
            if not failed:
                self._mark(ctx, self.name, share, False)
                return result  # type: ignore[no-any-return]
            if result is not _NOTHING:
                close_dropped(result)
            self._mark(ctx, semconv.VARIANT_PRIMARY, share, True)
        else:
            self._mark(ctx, semconv.VARIANT_PRIMARY, -share, False)
        started = self._clock.monotonic()
        try:
            answer = nxt()
        except Exception:
            self._record(ctx, False, True, started)
            raise
        self._record(ctx, False, bool(ctx.result_failed(answer)), started)
        return answer

    async def _arun(self, nxt: Callable[[], Awaitable[T]], ctx: CallContext) -> T:
        share = self._route(ctx)
        if share > 0.0:
            started = self._clock.monotonic()
            try:
                result = self._candidate(*ctx.args, **ctx.kwargs)
                if inspect.isawaitable(result):
                    result = await result
                failed = bool(ctx.result_failed(result))
            except BaseException as exc:  # the candidate's failure, served by the primary
                if isinstance(exc, PASS_THROUGH):
                    raise
                result, failed = _NOTHING, True
            self._record(ctx, True, failed, started)
            if not failed:
                self._mark(ctx, self.name, share, False)
                return result  # type: ignore[no-any-return]
            if result is not _NOTHING:
                await aclose_dropped(result)
            self._mark(ctx, semconv.VARIANT_PRIMARY, share, True)
        else:
            self._mark(ctx, semconv.VARIANT_PRIMARY, -share, False)
        started = self._clock.monotonic()
        try:
            answer = await nxt()
        except Exception:
            self._record(ctx, False, True, started)
            raise
        self._record(ctx, False, bool(ctx.result_failed(answer)), started)
        return answer

    # -- outcomes and telemetry ----------------------------------------------------------------

    def _record(self, ctx: CallContext, candidate: bool, failed: bool, started: float) -> None:
        now = self._clock.monotonic()
        latency = now - started
        with self._lock:
            verdict = self._core.record(now, candidate, failed, latency)
        if verdict is None and ctx.inst.pipeline_duration is None:
            return  # nothing to report, no metric recorded
        try:
            if verdict is not None:
                self._report_rollback(ctx, verdict)
            found = self._metrics.get(meter_provider_of(self._telemetry, ctx.inst))
            if found is not None:
                VariantMetrics.record(
                    found[0],
                    latency,
                    {
                        semconv.PIPELINE_NAME: ctx.pipeline,
                        semconv.VARIANT: self.name if candidate else semconv.VARIANT_PRIMARY,
                        semconv.OUTCOME: semconv.OUTCOME_FAILURE
                        if failed
                        else semconv.OUTCOME_SUCCESS,
                    },
                )
        except Exception:  # telemetry never fails the call
            _log.debug("otel-resilience: recording a rollout outcome failed", exc_info=True)

    def _mark(self, ctx: CallContext, variant: str, share: float, candidate_failed: bool) -> None:
        span = ctx.span
        if span is None:
            return
        try:
            attrs: dict[str, Any] = {semconv.VARIANT: variant, semconv.ROLLOUT_SHARE: share}
            if candidate_failed:
                attrs[semconv.ROLLOUT_CANDIDATE_FAILED] = True
            span.set_attributes(attrs)
        except Exception:
            _log.debug("otel-resilience: marking the rollout span failed", exc_info=True)

    def _report_advance(self, ctx: CallContext, share: float) -> None:
        attrs = {semconv.VARIANT: self.name}
        ctx.inst.count(ctx.pipeline, self.strategy_name, semconv.EVENT_ROLLOUT_ADVANCED, attrs)
        ctx.inst.emit_event(
            semconv.LOG_EVENT_ROLLOUT_ADVANCED,
            {semconv.PIPELINE_NAME: ctx.pipeline, **attrs, semconv.ROLLOUT_SHARE: share},
        )

    def _report_rollback(self, ctx: CallContext, verdict: RollbackVerdict) -> None:
        attrs = {semconv.VARIANT: self.name}
        ctx.inst.count(ctx.pipeline, self.strategy_name, semconv.EVENT_ROLLOUT_ROLLED_BACK, attrs)
        ctx.inst.emit_event(
            semconv.LOG_EVENT_ROLLOUT_ROLLED_BACK,
            {
                semconv.PIPELINE_NAME: ctx.pipeline,
                **attrs,
                semconv.ROLLOUT_SHARE: verdict.share,
                semconv.ROLLOUT_REASON: verdict.reason,
            },
            SeverityNumber.WARN,
        )
