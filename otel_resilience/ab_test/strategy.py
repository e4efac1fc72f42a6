"""ABTest: each call goes to the control or one variant, sticky by key; outcomes compared."""

from __future__ import annotations

import inspect
import logging
import math
import threading
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from otel_resilience import semconv
from otel_resilience._clock import Clock
from otel_resilience._strategy import CallContext, Strategy
from otel_resilience._telemetry import Telemetry
from otel_resilience._variants import PASS_THROUGH, VariantMetrics, draw, meter_provider_of
from otel_resilience.ab_test._core import ABReport, ArmRecord, Assigner, compare, summary
from otel_resilience.ab_test.options import ABTestOptions

__all__ = ["ABTest"]

_log = logging.getLogger(__name__)
T = TypeVar("T")


class ABTest(Strategy):
    """Send each call to the control (the protected function) or one of ``variants``.

    ``variants`` maps names to callables that receive the call's arguments. Assignment is by
    ``weights`` (a weight per arm, the control's name included; default: equal), sticky when
    ``key(*args, **kwargs)`` is given (a stable hash of the key and the test's ``name``), random
    otherwise. The caller gets the arm's outcome, failures included. Each call records success
    and latency per arm, and ``metric(result)`` (a float) when given; the call span carries
    ``resilience.variant``. :meth:`report` compares each variant with the control: a
    two-proportion z-test on success rates, Welch's t-test on latency and the metric, each
    with p-value, confidence interval and the sample size still needed.
    """

    __slots__ = ("_arms", "_assigner", "_fns", "_lock", "_metrics", "_records", "name", "options")

    strategy_name = semconv.STRATEGY_AB_TEST

    def __init__(
        self,
        *,
        variants: Mapping[str, Callable[..., Any]],
        key: Callable[..., Any] | None = None,
        weights: Mapping[str, float] | None = None,
        metric: Callable[[Any], float] | None = None,
        control: str = "control",
        name: str | None = None,
        max_samples: int = 100_000,
        clock: Clock | None = None,
    ) -> None:
        self.options = ABTestOptions(
            variants=variants,
            key=key,
            weights=weights,
            metric=metric,
            control=control,
            name=name,
            max_samples=max_samples,
        )
        super().__init__(clock=clock)
        self.name: str = name or "ab_test"  # the first pipeline's name, unless given
        self._arms = [control, *variants]
        self._fns: list[Callable[..., Any] | None] = [None, *variants.values()]
        shares = [1.0] * len(self._arms) if weights is None else [weights[a] for a in self._arms]
        self._assigner = Assigner(self._arms, [float(w) for w in shares])
        self._lock = threading.Lock()
        self._records = [ArmRecord(max_samples) for _ in self._arms]
        self._metrics = VariantMetrics()

    def __repr__(self) -> str:
        return f"ABTest(name={self.name!r}, arms={self._arms!r})"

    def _bind(self, pipeline_name: str, clock: Clock, telemetry: Telemetry) -> bool:
        first = super()._bind(pipeline_name, clock, telemetry)
        if first and self.options.name is None:
            self.name = pipeline_name
        return first

    def assign(self, *args: Any, **kwargs: Any) -> str:
        """The arm a call with these arguments goes to (random each time without ``key``)."""
        return self._arms[self._assigner.assign(draw(self.name, self.options.key, args, kwargs))]

    def report(self, *, confidence: float = 0.95, power: float = 0.8) -> ABReport:
        """Each arm's numbers and each variant's tests against the control (variant - control)."""
        with self._lock:
            records = [_copy(r) for r in self._records]
        control = records[0]
        return ABReport(
            name=self.name,
            control=self._arms[0],
            arms={arm: summary(r) for arm, r in zip(self._arms, records, strict=True)},
            comparisons={
                arm: compare(arm, r, control, confidence, power)
                for arm, r in zip(self._arms[1:], records[1:], strict=True)
            },
        )

    # -- runners -------------------------------------------------------------------------------

    def _pick(self, ctx: CallContext) -> int:
        index = self._assigner.assign(draw(self.name, self.options.key, ctx.args, ctx.kwargs))
        span = ctx.span
        if span is not None:
            try:
                span.set_attributes(
                    {semconv.VARIANT: self._arms[index], semconv.AB_TEST_NAME: self.name}
                )
            except Exception:
                _log.debug("otel-resilience: marking the A/B span failed", exc_info=True)
        return index

    def _run(self, nxt: Callable[[], T], ctx: CallContext) -> T:
        index = self._pick(ctx)
        fn = self._fns[index]
        started = self._clock.monotonic()
        try:
            result = nxt() if fn is None else fn(*ctx.args, **ctx.kwargs)
        except Exception:
            self._record(ctx, index, True, started, None)
            raise
        self._record(ctx, index, bool(ctx.result_failed(result)), started, result)
        return result

    async def _arun(self, nxt: Callable[[], Awaitable[T]], ctx: CallContext) -> T:
        index = self._pick(ctx)
        fn = self._fns[index]
        started = self._clock.monotonic()
        try:
            if fn is None:
                result = await nxt()
            else:
                result = fn(*ctx.args, **ctx.kwargs)
                if inspect.isawaitable(result):
                    result = await result
        except Exception:
            self._record(ctx, index, True, started, None)
            raise
        self._record(ctx, index, bool(ctx.result_failed(result)), started, result)
        return result

    def _record(
        self, ctx: CallContext, index: int, failed: bool, started: float, result: Any
    ) -> None:
        latency = self._clock.monotonic() - started
        value = None
        metric = self.options.metric
        if metric is not None and not failed:
            try:
                value = float(metric(result))
                if not math.isfinite(value):
                    value = None
            except BaseException as exc:  # a metric that cannot score this result records nothing
                if isinstance(exc, PASS_THROUGH):
                    raise
                _log.debug("otel-resilience: an A/B metric function raised", exc_info=True)
        with self._lock:
            self._records[index].add(failed, latency, value)
        try:
            found = self._metrics.get(meter_provider_of(self._telemetry, ctx.inst))
            if found is None:
                return
            attrs = {
                semconv.PIPELINE_NAME: ctx.pipeline,
                semconv.VARIANT: self._arms[index],
                semconv.AB_TEST_NAME: self.name,
            }
            outcome = semconv.OUTCOME_FAILURE if failed else semconv.OUTCOME_SUCCESS
            VariantMetrics.record(found[0], latency, {**attrs, semconv.OUTCOME: outcome})
            if value is not None:
                VariantMetrics.record(found[2], value, attrs)
        except Exception:  # telemetry never fails the call
            _log.debug("otel-resilience: recording an A/B outcome failed", exc_info=True)


def _copy(record: ArmRecord) -> ArmRecord:
    out = ArmRecord(record.latencies.maxlen or 2)
    out.calls, out.successes = record.calls, record.successes
    out.latencies.extend(record.latencies)
    out.metrics.extend(record.metrics)
    return out
