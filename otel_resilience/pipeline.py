"""Pipeline: compose strategies around a call and make the whole call one OpenTelemetry span."""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable, Coroutine
from contextvars import Token
from typing import Any, ParamSpec, TypeVar, overload

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind, Status, StatusCode

from otel_resilience import semconv
from otel_resilience._clock import SYSTEM_CLOCK, Clock
from otel_resilience._strategy import CallContext, Strategy
from otel_resilience._telemetry import Instruments, Telemetry
from otel_resilience._util import check_classifier, check_clock, error_type, result_error_type
from otel_resilience.classify import DEFAULT_CLASSIFIER, ErrorClassifier
from otel_resilience.errors import CircuitOpenError

__all__ = ["Pipeline"]

_log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

_OUTCOMES = (
    semconv.OUTCOME_SUCCESS,
    semconv.OUTCOME_FAILURE,
    semconv.OUTCOME_FALLBACK,
    semconv.OUTCOME_REJECTED,
)


class Pipeline:
    """Strategies composed outermost-first around a protected call.

    ``Pipeline("payments", Retry(), CircuitBreaker())`` retries calls that go through the
    breaker. Each call is one span named ``name`` (current while the function runs, so clients
    instrumented by OpenTelemetry nest under it) and one ``resilience.pipeline.duration``
    measurement. Strategies given no clock or providers use the pipeline's; providers default
    to the global ones, and with none configured telemetry costs next to nothing.
    """

    def __init__(
        self,
        name: str,
        *strategies: Strategy,
        clock: Clock | None = None,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        logger_provider: Any = None,
        classifier: ErrorClassifier | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty string, got {name!r}")
        check_clock("clock", clock)
        check_classifier("classifier", classifier)
        for i, strategy in enumerate(strategies):
            if not isinstance(strategy, Strategy):
                raise ValueError(f"strategies[{i}] must be a Strategy, got {strategy!r}")
        self.name = name
        self.strategies = strategies
        self.clock: Clock = clock or SYSTEM_CLOCK
        self._telemetry = Telemetry(tracer_provider, meter_provider, logger_provider)
        self._classifier = classifier or DEFAULT_CLASSIFIER
        self._span_attrs = {semconv.PIPELINE_NAME: name}
        self._metric_attrs = {
            o: {semconv.PIPELINE_NAME: name, semconv.OUTCOME: o} for o in _OUTCOMES
        }
        for strategy in strategies:
            strategy._bind(name, self.clock, self._telemetry)

    def __repr__(self) -> str:
        inner = ", ".join(repr(s) for s in self.strategies)
        return f"Pipeline({self.name!r}{', ' if inner else ''}{inner})"

    # -- calling -------------------------------------------------------------------------------

    def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Call ``fn(*args, **kwargs)`` through the strategies."""
        inst = self._telemetry.instruments()
        nxt: Callable[[], Any] = functools.partial(fn, *args, **kwargs) if args or kwargs else fn
        if inst.tracer is None and inst.pipeline_duration is None:
            ctx = CallContext(self.name, inst, None)
            for strategy in reversed(self.strategies):
                nxt = functools.partial(strategy._run, nxt, ctx)
            return nxt()  # type: ignore[no-any-return]
        ctx, span, token, started = self._begin(inst)
        for strategy in reversed(self.strategies):
            nxt = functools.partial(strategy._run, nxt, ctx)
        try:
            result = nxt()
        except BaseException as exc:
            self._finish(ctx, span, started, exc, None)
            raise
        finally:
            if token is not None:
                otel_context.detach(token)
        self._finish(ctx, span, started, None, result)
        return result  # type: ignore[no-any-return]

    async def acall(self, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Await ``fn(*args, **kwargs)`` through the strategies."""
        inst = self._telemetry.instruments()
        nxt: Callable[[], Any] = functools.partial(fn, *args, **kwargs) if args or kwargs else fn
        if inst.tracer is None and inst.pipeline_duration is None:
            ctx = CallContext(self.name, inst, None)
            for strategy in reversed(self.strategies):
                nxt = functools.partial(strategy._arun, nxt, ctx)
            return await nxt()  # type: ignore[no-any-return]
        ctx, span, token, started = self._begin(inst)
        for strategy in reversed(self.strategies):
            nxt = functools.partial(strategy._arun, nxt, ctx)
        try:
            result = await nxt()
        except BaseException as exc:
            self._finish(ctx, span, started, exc, None)
            raise
        finally:
            if token is not None:
                otel_context.detach(token)
        self._finish(ctx, span, started, None, result)
        return result  # type: ignore[no-any-return]

    @overload
    def __call__(
        self, fn: Callable[P, Coroutine[Any, Any, T]]
    ) -> Callable[P, Coroutine[Any, Any, T]]: ...

    @overload
    def __call__(self, fn: Callable[P, T]) -> Callable[P, T]: ...

    def __call__(self, fn: Callable[P, Any]) -> Callable[P, Any]:
        """Decorate a ``def`` or ``async def`` so that every call goes through the pipeline."""
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
                return await self.acall(fn, *args, **kwargs)

            return async_wrapper

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
            return self.call(fn, *args, **kwargs)

        return wrapper

    # -- telemetry (shared by call and acall) --------------------------------------------------

    def _begin(self, inst: Instruments) -> tuple[CallContext, Any, Token[Context] | None, float]:
        started = self.clock.monotonic()
        span: Any = None
        token: Token[Context] | None = None
        if inst.tracer is not None:
            span = inst.tracer.start_span(
                self.name, kind=SpanKind.INTERNAL, attributes=self._span_attrs
            )
            token = otel_context.attach(trace.set_span_in_context(span))
        recording = span if span is not None and span.is_recording() else None
        return CallContext(self.name, inst, recording), span, token, started

    def _finish(
        self,
        ctx: CallContext,
        span: Any,
        started: float,
        exc: BaseException | None,
        result: Any,
    ) -> None:
        """Record the call's telemetry; a failure here never reaches the caller."""
        try:
            self._end(ctx, span, started, exc, result)
        except Exception:  # telemetry must not turn a success into an error, or mask one
            _log.debug("otel-resilience: recording telemetry failed", exc_info=True)

    def _end(
        self,
        ctx: CallContext,
        span: Any,
        started: float,
        exc: BaseException | None,
        result: Any,
    ) -> None:
        if exc is not None:
            outcome = ctx.outcome or (
                semconv.OUTCOME_REJECTED
                if isinstance(exc, CircuitOpenError)
                else semconv.OUTCOME_FAILURE
            )
        elif ctx.failed_result is not None and ctx.outcome is None:
            outcome = semconv.OUTCOME_FAILURE
        else:
            outcome = ctx.outcome or semconv.OUTCOME_SUCCESS
        hist = ctx.inst.pipeline_duration
        if hist is not None:
            hist.record(self.clock.monotonic() - started, self._metric_attrs[outcome])
        if span is None:
            return
        if ctx.span is not None:
            attrs: dict[str, Any] = {semconv.OUTCOME: outcome, semconv.ATTEMPTS: ctx.attempts}
            if exc is not None:
                info = ctx.classify(self._classifier, exc)
                attrs[semconv.ERROR_TYPE] = error_type(exc)
                attrs[semconv.ERROR_CATEGORY] = info.category.value
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            elif outcome == semconv.OUTCOME_FAILURE and ctx.failed_result is not None:
                attrs[semconv.ERROR_TYPE] = result_error_type(result)
                attrs[semconv.ERROR_CATEGORY] = ctx.failed_result.category.value
                span.set_status(Status(StatusCode.ERROR))
            span.set_attributes(attrs)  # one call: the SDK takes its span lock once
        span.end()
