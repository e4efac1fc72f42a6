"""Budget: wall time, CPU time and memory limits of a block, checked when it ends."""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from types import TracebackType
from typing import Any, TypeVar

from opentelemetry import metrics, trace

from otel_resilience import semconv
from otel_resilience._clock import Clock
from otel_resilience._strategy import CallContext, Strategy
from otel_resilience._telemetry import Telemetry
from otel_resilience._version import __version__ as _VERSION

from ._measure import Measurement
from ._model import BudgetExceededError, BudgetMode, BudgetOptions, MemoryMode, Violation

__all__ = ["Budget"]

T = TypeVar("T")
_log = logging.getLogger(__name__)
_SPAN_KEYS = {
    "duration": semconv.BUDGET_DURATION,
    "cpu": semconv.BUDGET_CPU,
    "memory": semconv.BUDGET_MEMORY,
}


class Budget(Strategy):
    """Limits on what a block uses, checked when it ends; nothing is cancelled.

    ``max_duration`` (wall seconds on the clock), ``max_cpu`` (CPU seconds of the running
    thread: see docs/budgets.md), ``max_memory`` (bytes: peak RSS growth with
    ``memory="rss"``, the peak of Python allocations with ``memory="tracemalloc"``). Over a
    limit, ``mode="raise"`` raises :class:`BudgetExceededError` (unless the block raised
    already), ``mode="record"`` only records. A context manager (``with`` and ``async with``),
    a decorator (``def`` and ``async def``) and a Pipeline strategy.
    """

    __slots__ = ("_active", "_hist", "name", "options")

    strategy_name = semconv.STRATEGY_BUDGET

    def __init__(
        self,
        *,
        max_duration: float | None = None,
        max_cpu: float | None = None,
        max_memory: int | None = None,
        mode: BudgetMode = "raise",
        memory: MemoryMode = "rss",
        name: str | None = None,
        clock: Clock | None = None,
        tracer_provider: Any = None,
        meter_provider: Any = None,
    ) -> None:
        self.options = opts = BudgetOptions(
            max_duration=max_duration,
            max_cpu=max_cpu,
            max_memory=max_memory,
            mode=mode,
            memory=memory,
            name=name,
        )
        super().__init__(clock=clock)
        self.name = opts.name or "budget"
        if tracer_provider is not None or meter_provider is not None:
            self._telemetry = Telemetry(tracer_provider, meter_provider)
        self._active: ContextVar[Measurement | None] = ContextVar(
            f"budget_{id(self)}", default=None
        )
        self._hist: tuple[object, Any] | None = None

    def __repr__(self) -> str:
        limits = ", ".join(f"max_{k}={v!r}" for k, v in self._limits() if v is not None)
        return f"Budget({limits})"

    def _bind(self, pipeline_name: str, clock: Clock, telemetry: Telemetry) -> bool:
        first = super()._bind(pipeline_name, clock, telemetry)
        if first and self.options.name is None:
            self.name = pipeline_name
        return first

    # -- measuring -----------------------------------------------------------------------------

    def _start(self) -> Measurement:
        memory = self.options.memory if self.options.max_memory is not None else None
        return Measurement(self._clock, memory, self.options.max_cpu is not None)

    def _check(self, measurement: Measurement, failed: bool) -> None:
        """Compare with the limits, record, and raise unless ``failed`` or in record mode."""
        used = measurement.finish()
        violations = tuple(
            Violation(resource, float(limit), used[resource])
            for resource, limit in self._limits()
            if limit is not None and used.get(resource, 0.0) > limit
        )
        try:
            self._record(used, violations)
        except Exception:  # telemetry never fails the block
            _log.debug("otel-resilience: recording a budget failed", exc_info=True)
        if violations and self.options.mode == "raise" and not failed:
            raise BudgetExceededError(self.name, violations)

    def _record(self, used: dict[str, float], violations: tuple[Violation, ...]) -> None:
        span = trace.get_current_span()
        if span.is_recording():
            attrs: dict[str, Any] = {_SPAN_KEYS[k]: v for k, v in used.items()}
            if violations:
                attrs[semconv.BUDGET_EXCEEDED] = [v.resource for v in violations]
            span.set_attributes(attrs)
        inst = self._telemetry.instruments()
        for v in violations:
            extra = {semconv.BUDGET_RESOURCE: v.resource}
            inst.count(self.name, semconv.STRATEGY_BUDGET, semconv.EVENT_BUDGET_EXCEEDED, extra)
        if inst.events is None:
            return  # no meter records
        hist = self._hist
        if hist is None or hist[0] is not inst:
            provider = self._telemetry.providers[1] or metrics.get_meter_provider()
            meter = provider.get_meter(semconv.SCOPE_NAME, _VERSION)
            instrument = meter.create_histogram(
                semconv.METRIC_BUDGET_USAGE,
                unit="1",
                description="What a Budget's block used, over its limit.",
            )
            self._hist = hist = (inst, instrument)
        for resource, limit in self._limits():
            if limit is not None and resource in used:
                attrs = {semconv.BUDGET_NAME: self.name, semconv.BUDGET_RESOURCE: resource}
                hist[1].record(used[resource] / limit, attrs)

    def _limits(self) -> tuple[tuple[str, float | None], ...]:
        opts = self.options
        return (("duration", opts.max_duration), ("cpu", opts.max_cpu), ("memory", opts.max_memory))

    # -- context manager -----------------------------------------------------------------------

    def __enter__(self) -> Budget:
        measurement = self._start()
        measurement.token = self._active.set(measurement)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        measurement = self._active.get()
        if measurement is None:  # pragma: no cover - exit without enter
            return
        self._active.reset(measurement.token)
        self._check(measurement, exc is not None)

    async def __aenter__(self) -> Budget:
        return self.__enter__()

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(kind, exc, tb)

    def __call__(self, fn: Callable[..., T]) -> Callable[..., T]:
        """Decorate a ``def`` or ``async def``: each call is checked against the limits."""
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                async with self:
                    return await fn(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> T:
            with self:
                return fn(*args, **kwargs)

        return wrapper

    # -- as a pipeline strategy ----------------------------------------------------------------

    def _run(self, nxt: Callable[[], T], ctx: CallContext) -> T:
        measurement = self._start()
        try:
            result = nxt()
        except BaseException:
            self._check(measurement, True)
            raise
        self._check(measurement, False)
        return result

    async def _arun(self, nxt: Callable[[], Awaitable[T]], ctx: CallContext) -> T:
        measurement = self._start()
        try:
            result = await nxt()
        except BaseException:
            self._check(measurement, True)
            raise
        self._check(measurement, False)
        return result
