"""Pipeline: compose strategies around a call and make the whole call one OpenTelemetry span."""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable, Coroutine
from types import CoroutineType
from typing import Any, ParamSpec, TypeVar, overload

from opentelemetry import context as otel_context
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation import _SPAN_KEY

from otel_resilience import _fastctx, _slo_feed, semconv
from otel_resilience._clock import SYSTEM_CLOCK, Clock
from otel_resilience._runner import not_awaitable, refuse_coroutine, run_async, run_sync
from otel_resilience._strategy import (
    NO_ANSWER,
    CallContext,
    CallShared,
    DecidingStrategy,
    Strategy,
    UsageError,
)
from otel_resilience._telemetry import Telemetry
from otel_resilience._util import error_type, result_error_type
from otel_resilience._validate import check_callable, check_classifier, check_clock
from otel_resilience.classify import DEFAULT_CLASSIFIER, ErrorClassifier
from otel_resilience.errors import RejectedError

__all__ = ["Pipeline"]

_log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


class Pipeline:
    """Strategies composed outermost-first around a protected call.

    ``Pipeline("payments", Retry(), CircuitBreaker())`` retries calls that go through the
    breaker. Each call is one span named ``name`` (current while the function runs, so clients
    instrumented by OpenTelemetry nest under it) and one ``resilience.pipeline.duration``
    measurement. Strategies use the pipeline's telemetry providers (the global ones by default:
    with none configured telemetry costs next to nothing) and, unless given their own, its clock.

    ``is_failure_result`` decides which returned values are failures for every strategy that
    has no predicate of its own; by default error responses (408, 429, 5xx...) of httpx,
    httpx2, requests and aiohttp (:func:`~otel_resilience.classify.is_http_failure`).
    """

    #: Private hook (issue 10): when set, each recorded call records onto the span this returns
    #: (a span of the caller's, or ``None`` for no span) instead of starting and ending its own.
    _span_source: Callable[[], Any] | None = None

    def __init__(
        self,
        name: str,
        *strategies: Strategy,
        clock: Clock | None = None,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        logger_provider: Any = None,
        classifier: ErrorClassifier | None = None,
        is_failure_result: Callable[[Any], bool] | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty string, got {name!r}")
        check_clock("clock", clock)
        check_classifier("classifier", classifier)
        check_callable("is_failure_result", is_failure_result)
        for i, strategy in enumerate(strategies):
            if not isinstance(strategy, Strategy):
                raise ValueError(f"strategies[{i}] must be a Strategy, got {strategy!r}")
        if len(set(map(id, strategies))) != len(strategies):
            raise ValueError("strategies must not contain the same strategy instance twice")
        self.name = name
        self.strategies = strategies
        self.clock: Clock = clock or SYSTEM_CLOCK
        self._telemetry = Telemetry(tracer_provider, meter_provider, logger_provider)
        self._classifier = classifier or DEFAULT_CLASSIFIER
        self._shared = CallShared(name, self.clock, self._classifier, is_failure_result)
        self._span_attrs = {semconv.PIPELINE_NAME: name}
        self._metric_attrs = {
            o: {semconv.PIPELINE_NAME: name, semconv.OUTCOME: o} for o in semconv.OUTCOMES
        }
        # Innermost first: the layer function and its strategy, for sync and async calls.
        self._sync_layers: list[tuple[Callable[..., Any], Any]] = []
        self._async_layers: list[tuple[Callable[..., Any], Any]] = []
        # A strategy that passes every call through (a Chaos switched off) gets no layer.
        active = [s for s in strategies if not s._passthrough()]
        for strategy in reversed(active):
            deciding = isinstance(strategy, DecidingStrategy)
            self._sync_layers.append((run_sync if deciding else type(strategy)._run, strategy))
            self._async_layers.append((run_async if deciding else type(strategy)._arun, strategy))
        # The outermost layer is called directly, not through one more partial: that partial
        # was a fifth of an empty pipeline's cost.
        self._sync_outer = self._sync_layers.pop() if self._sync_layers else None
        self._async_outer = self._async_layers.pop() if self._async_layers else None
        self._outer_peek = (
            active[0]._peek if active and type(active[0])._peek is not Strategy._peek else None
        )
        # An innermost deciding strategy's runner refuses a non-awaitable itself; otherwise the
        # async leaf does (it also counts and records attempts when telemetry records).
        self._async_leaf = not (active and isinstance(active[-1], DecidingStrategy))
        for strategy in strategies:
            strategy._bind(name, self.clock, self._telemetry)

    def __repr__(self) -> str:
        inner = ", ".join(repr(s) for s in self.strategies)
        return f"Pipeline({self.name!r}{', ' if inner else ''}{inner})"

    # -- calling -------------------------------------------------------------------------------

    def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Call ``fn(*args, **kwargs)`` through the strategies."""
        if isinstance(fn, CoroutineType):  # call(afn()): not callable, would never be awaited
            fn.close()
            raise UsageError(
                "call() needs a function, not a coroutine object: for async functions use "
                "`await pipeline.acall(fn, *args)`"
            )
        inst = self._telemetry.instruments()
        if inst.tracer is None and inst.pipeline_duration is None:
            peek = self._outer_peek
            if peek is not None:
                found = peek(fn, args, kwargs)
                if found is not NO_ANSWER:
                    return found  # type: ignore[no-any-return]
            nxt: Callable[[], Any] = (
                functools.partial(fn, *args, **kwargs) if args or kwargs else fn
            )
            ctx = CallContext(self._shared, inst, None, fn, args, kwargs)
            for layer, strategy in self._sync_layers:
                nxt = functools.partial(layer, strategy, nxt, ctx)
            outer = self._sync_outer
            result = nxt() if outer is None else outer[0](outer[1], nxt, ctx)
            if type(result) is CoroutineType:
                refuse_coroutine(fn, result)
            return result  # type: ignore[no-any-return]
        nxt = functools.partial(fn, *args, **kwargs) if args or kwargs else fn
        started = self.clock.monotonic()
        span, token = self._start_span(inst)
        ctx = CallContext(self._shared, inst, _recording(span), fn, args, kwargs)
        nxt = functools.partial(_leaf, ctx, nxt)
        for layer, strategy in self._sync_layers:
            nxt = functools.partial(layer, strategy, nxt, ctx)
        outer = self._sync_outer
        try:
            result = nxt() if outer is None else outer[0](outer[1], nxt, ctx)
            if type(result) is CoroutineType:
                refuse_coroutine(fn, result)
        except BaseException as exc:
            self._finish(ctx, span, started, exc, None)
            raise
        finally:
            if token is not None:
                _fastctx.detach(token)
        self._finish(ctx, span, started, None, result)
        return result  # type: ignore[no-any-return]

    async def acall(self, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Await ``fn(*args, **kwargs)`` through the strategies.

        ``fn`` is called once per attempt, so pass the function, not a coroutine it made.
        """
        if isinstance(fn, CoroutineType):
            fn.close()  # it can never run: don't leave a "never awaited" warning behind
            raise UsageError(
                "acall() needs the async function and its arguments, not a coroutine object: "
                "each attempt must call the function again (pipeline.acall(fn, *args))"
            )
        inst = self._telemetry.instruments()
        recording = not (inst.tracer is None and inst.pipeline_duration is None)
        if not recording:
            peek = self._outer_peek
            if peek is not None:
                found = peek(fn, args, kwargs)
                if found is not NO_ANSWER:
                    return found  # type: ignore[no-any-return]
        nxt: Callable[[], Any] = functools.partial(fn, *args, **kwargs) if args or kwargs else fn
        if recording:
            started = self.clock.monotonic()
            span, token = self._start_span(inst)
            ctx = CallContext(self._shared, inst, _recording(span), fn, args, kwargs)
        else:
            ctx = CallContext(self._shared, inst, None, fn, args, kwargs)
        if recording or self._async_leaf:
            nxt = functools.partial(_aleaf, ctx, nxt)
        for layer, strategy in self._async_layers:
            nxt = functools.partial(layer, strategy, nxt, ctx)
        outer = self._async_outer
        if not recording:
            if outer is None:
                return await nxt()  # type: ignore[no-any-return]
            return await outer[0](outer[1], nxt, ctx)  # type: ignore[no-any-return]
        try:
            result = await (nxt() if outer is None else outer[0](outer[1], nxt, ctx))
        except BaseException as exc:
            self._finish(ctx, span, started, exc, None)
            raise
        finally:
            if token is not None:
                _fastctx.detach(token)
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
        return decorate(self, fn)

    # -- telemetry (shared by call and acall) --------------------------------------------------

    def _start_span(self, inst: Any) -> tuple[Any, Any]:
        """Start the call's span and make it current; a failing SDK means no span, not no call."""
        if inst.tracer is None:
            return None, None
        if self._span_source is not None:  # the caller's span, already current: borrowed
            return self._span_source(), None
        try:
            span = inst.tracer.start_span(
                self.name, kind=SpanKind.INTERNAL, attributes=self._span_attrs
            )
        except Exception:  # a raising sampler or span processor on_start
            _log.debug("otel-resilience: starting the span failed", exc_info=True)
            return None, None
        try:
            # trace.set_span_in_context(span), attached, without the API's four frames
            values = {**_fastctx.current(), _SPAN_KEY: span}
            return span, _fastctx.attach(otel_context.Context(values))
        except Exception:
            _log.debug("otel-resilience: attaching the span failed", exc_info=True)
            return span, None

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
        finally:
            if span is not None and self._span_source is None:
                try:
                    span.end()  # always: a span left open leaks and never exports
                except Exception:
                    _log.debug("otel-resilience: ending the span failed", exc_info=True)

    def _end(
        self,
        ctx: CallContext,
        span: Any,
        started: float,
        exc: BaseException | None,
        result: Any,
    ) -> None:
        failed_result = None
        if exc is not None:
            outcome = ctx.outcome or (
                semconv.OUTCOME_REJECTED
                if isinstance(exc, RejectedError)
                else semconv.OUTCOME_FAILURE
            )
        else:
            failed_result = ctx.result_info(result)
            if ctx.outcome is not None:
                outcome = ctx.outcome
            else:
                outcome = (
                    semconv.OUTCOME_SUCCESS if failed_result is None else (semconv.OUTCOME_FAILURE)
                )
        hist = ctx.inst.pipeline_duration
        if hist is not None:
            point = self._metric_attrs.get(outcome) or {
                semconv.PIPELINE_NAME: self.name,
                semconv.OUTCOME: outcome,
            }
            elapsed = self.clock.monotonic() - started
            hist.record(elapsed, point)
            if _slo_feed.active:  # SLOs count what the metric records (otel_resilience.slo)
                _slo_feed.observe(self.name, outcome, elapsed)
        if ctx.span is None:
            return
        attrs: dict[str, Any] = {semconv.OUTCOME: outcome, semconv.ATTEMPTS: ctx.attempts}
        if exc is not None:
            info = ctx.classify(self._classifier, exc)
            attrs[semconv.ERROR_TYPE] = error_type(exc)
            attrs[semconv.ERROR_CATEGORY] = info.category.value
            _record_exception(span, exc)
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
        elif outcome == semconv.OUTCOME_FAILURE and failed_result is not None:
            attrs[semconv.ERROR_TYPE] = result_error_type(result)
            attrs[semconv.ERROR_CATEGORY] = failed_result.category.value
            span.set_status(Status(StatusCode.ERROR))
        span.set_attributes(attrs)  # one call: the SDK takes its span lock once


def _recording(span: Any) -> Any:
    try:
        return span if span is not None and span.is_recording() else None
    except Exception:
        return None


def _record_exception(span: Any, exc: BaseException) -> None:
    """``span.record_exception``, surviving exceptions whose ``__str__`` raises."""
    try:
        span.record_exception(exc)
    except Exception:
        span.add_event(
            semconv.SPAN_EVENT_EXCEPTION,
            {
                semconv.EXCEPTION_TYPE: error_type(exc),
                semconv.EXCEPTION_MESSAGE: "<unprintable exception>",
            },
        )


def decorate(through: Any, fn: Callable[P, Any]) -> Callable[P, Any]:
    """``fn`` wrapped so that each call goes through ``through.call`` / ``through.acall`` (a
    Pipeline, or a policy handle that follows reloads); generator functions are refused."""
    if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
        raise UsageError(
            f"{getattr(fn, '__qualname__', fn)!r} is a generator function: pipelines do not "
            "protect streams yet (retrying half-consumed output is unsafe); decorate a "
            "function that returns the whole result instead"
        )
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
            return await through.acall(fn, *args, **kwargs)

        return async_wrapper

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
        return through.call(fn, *args, **kwargs)

    return wrapper


def _leaf(ctx: CallContext, call: Callable[[], Any]) -> Any:
    """The protected call itself, while telemetry records: counts and records the attempt."""
    ctx.attempts = number = ctx.attempts + 1
    started = ctx.clock.monotonic()
    try:
        result = call()
    except Exception as exc:
        ctx.attempt_failed(number, started, exc, None)
        raise
    ctx.attempt_returned(number, started, result)
    return result


async def _aleaf(ctx: CallContext, call: Callable[[], Any]) -> Any:
    """Async twin of :func:`_leaf`; also refuses a callable that returns no awaitable."""
    ctx.attempts = number = ctx.attempts + 1
    recording = ctx.span is not None
    started = ctx.clock.monotonic() if recording else 0.0
    awaitable = call()
    if type(awaitable) is not CoroutineType and not inspect.isawaitable(awaitable):
        raise not_awaitable(ctx.fn, awaitable)
    if not recording:
        return await awaitable
    try:
        result = await awaitable
    except Exception as exc:
        ctx.attempt_failed(number, started, exc, None)
        raise
    ctx.attempt_returned(number, started, result)
    return result
