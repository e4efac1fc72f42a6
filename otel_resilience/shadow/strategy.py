"""Shadow: call a candidate with the call's arguments in the background, never delaying it."""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from otel_resilience import deadline as _deadline
from otel_resilience import semconv
from otel_resilience._clock import Clock
from otel_resilience._responses import aclose_dropped, close_dropped
from otel_resilience._strategy import CallContext, Strategy
from otel_resilience._util import error_type
from otel_resilience._variants import VariantMetrics, draw, meter_provider_of
from otel_resilience.fallback._core import name_of
from otel_resilience.shadow._core import Job, ShadowStats, Slots, verdict_of
from otel_resilience.shadow._pool import WorkerPool, off_loop, renew_after_fork
from otel_resilience.shadow.compare import equal
from otel_resilience.shadow.options import ShadowOptions

__all__ = ["Shadow", "ShadowStats"]

_log = logging.getLogger(__name__)
T = TypeVar("T")


class _ShadowTimeout(Exception):
    """A sync pipeline's async candidate ran out of time."""


class Shadow(Strategy):
    """Call ``candidate`` beside the protected function for ``percent`` % of calls, and compare.

    The caller always gets the primary's outcome: the shadow call starts once the primary is
    done, runs in the background and never raises into the call. Async calls with an async
    candidate run it as a task, cancelled after ``timeout`` seconds (on the clock); other calls
    use a pool of ``max_in_flight`` daemon threads (a sync candidate cannot be cancelled: one
    that finishes after ``timeout`` counts as timed out). At most ``max_in_flight`` shadow
    calls run at once; a sampled call finding every slot taken drops its shadow call and
    counts it. When both succeed, ``compare(primary, candidate)`` (default: equality; see
    :mod:`otel_resilience.shadow.compare`) scores them, ``True``/1.0 meaning they agree.
    ``key(*args, **kwargs)`` makes sampling sticky (the same key is always, or never, shadowed).
    Each shadow call is its own span, linked to the call's span, never its child.
    """

    __slots__ = (
        "__weakref__",
        "_async",
        "_compare",
        "_metrics",
        "_pool",
        "_slots",
        "_tasks",
        "name",
        "options",
    )

    strategy_name = semconv.STRATEGY_SHADOW

    def __init__(
        self,
        *,
        candidate: Callable[..., Any],
        percent: float = 100.0,
        compare: Callable[[Any, Any], Any] | None = None,
        max_in_flight: int = 4,
        timeout: float = 30.0,
        key: Callable[..., Any] | None = None,
        name: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.options = ShadowOptions(
            candidate=candidate,
            percent=percent,
            compare=compare,
            max_in_flight=max_in_flight,
            timeout=timeout,
            key=key,
            name=name,
        )
        super().__init__(clock=clock)
        self.name: str = name or name_of(candidate)
        self._compare = compare or equal
        self._slots = Slots(max_in_flight)
        self._pool = WorkerPool(max_in_flight, f"otel-resilience-shadow-{self.name}")
        self._async = inspect.iscoroutinefunction(candidate)
        self._tasks: set[asyncio.Task[None]] = set()
        self._metrics = VariantMetrics()
        renew_after_fork(self)

    def _forked(self) -> None:
        # The parent's worker threads, tasks and calls in flight did not come along: without
        # this the child queues shadow calls no thread takes, and every slot stays taken.
        self._slots.after_fork()
        self._pool = WorkerPool(self.options.max_in_flight, self._pool.name)
        self._tasks = set()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(candidate={self.name}, percent={self.options.percent:g})"

    @property
    def stats(self) -> ShadowStats:
        """The counters now (sampled, dropped, completed, failed, compared, agreed...)."""
        return self._slots.snapshot()

    def reset_stats(self) -> None:
        """Zero the counters."""
        self._slots.reset()

    def drain(self, timeout: float | None = None) -> bool:
        """Block until no shadow call runs (``False`` if ``timeout`` real seconds pass first)."""
        return self._slots.wait_idle(timeout)

    async def adrain(self, timeout: float | None = None) -> bool:
        """Wait until no shadow call runs: this loop's tasks, then the threads."""
        loop = asyncio.get_running_loop()
        mine = [t for t in self._tasks if t.get_loop() is loop]
        if mine:
            await asyncio.wait(mine, timeout=timeout)
        return await asyncio.to_thread(self._slots.wait_idle, timeout)

    # -- runners -------------------------------------------------------------------------------

    def _sampled(self, ctx: CallContext) -> bool:
        share = self.options.percent / 100.0
        if share <= 0.0:
            return False
        if share >= 1.0:
            return True
        return draw(self.name, self.options.key, ctx.args, ctx.kwargs) < share

    def _run(self, nxt: Callable[[], T], ctx: CallContext) -> T:
        if not self._sampled(ctx):
            return nxt()
        started = self._clock.monotonic()
        try:
            result = nxt()
        except Exception as exc:
            self._launch(ctx, started, exc, True, None)
            raise
        self._launch(ctx, started, result, bool(ctx.result_failed(result)), None)
        return result

    async def _arun(self, nxt: Callable[[], Awaitable[T]], ctx: CallContext) -> T:
        if not self._sampled(ctx):
            return await nxt()
        loop = asyncio.get_running_loop()
        started = self._clock.monotonic()
        try:
            result = await nxt()
        except Exception as exc:
            self._launch(ctx, started, exc, True, loop)
            raise
        self._launch(ctx, started, result, bool(ctx.result_failed(result)), loop)
        return result

    def _launch(
        self,
        ctx: CallContext,
        started: float,
        primary: Any,
        failed: bool,
        loop: asyncio.AbstractEventLoop | None,
    ) -> None:
        """Start the shadow call if a slot is free; nothing here may fail the caller's call."""
        try:
            latency = self._clock.monotonic() - started
            taken = self._slots.take()
            self._mark(ctx, not taken)
            if not taken:
                self._count(ctx.inst, ctx.pipeline, semconv.EVENT_SHADOW_DROPPED)
                return
            span = ctx.span
            job = Job(
                ctx.pipeline,
                ctx.inst,
                span.get_span_context() if span is not None else None,
                ctx.args,
                ctx.kwargs,
                primary,
                failed,
                latency,
                ctx.shared.is_failure_result,
            )
            try:
                if loop is not None and self._async:
                    task = loop.create_task(self._ashadow(job))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                else:
                    self._pool.submit(functools.partial(self._shadow, job))
            except BaseException:
                self._slots.give_back()
                raise
        except Exception:
            _log.debug("otel-resilience: starting a shadow call failed", exc_info=True)

    def _shadow(self, job: Job) -> None:
        """A worker thread's shadow call."""
        span, token = self._start_span(job)
        clock = self._clock
        timeout = self.options.timeout
        started = clock.monotonic()
        value: Any = None
        error: BaseException | None = None
        try:
            value = self.options.candidate(*job.args, **job.kwargs)
            if inspect.isawaitable(value):
                value = asyncio.run(_bounded(value, timeout))
        except BaseException as exc:  # even a BaseException: the slot must be given back
            error = exc
        latency = clock.monotonic() - started
        timed_out = isinstance(error, _ShadowTimeout) or latency > timeout
        self._finish(job, span, token, value, error, latency, timed_out)
        if error is None:
            close_dropped(value)

    async def _ashadow(self, job: Job) -> None:
        """An event-loop task's shadow call, cancelled after ``timeout``."""
        _deadline._DEADLINE.set(None)  # the primary's deadline does not bound its shadow
        span, token = self._start_span(job)
        clock = self._clock
        timeout = self.options.timeout
        started = clock.monotonic()
        value: Any = None
        error: BaseException | None = None
        try:
            bound = getattr(clock, "timeout", None)
            if bound is not None:
                async with bound(timeout):
                    value = await self.options.candidate(*job.args, **job.kwargs)
            else:
                value = await _bounded(self.options.candidate(*job.args, **job.kwargs), timeout)
        except asyncio.CancelledError as exc:  # the loop is closing: record, then go
            self._finish(job, span, token, None, exc, clock.monotonic() - started, False)
            raise
        except BaseException as exc:  # even a BaseException: the slot must be given back
            error = exc
        latency = clock.monotonic() - started
        timed_out = isinstance(error, (TimeoutError, _ShadowTimeout)) and latency >= timeout
        try:
            # A compare function may take seconds (text_similarity on long answers): it runs
            # on a thread, never on the loop that serves the primaries.
            verdict = await off_loop(
                self._pool, verdict_of, self._compare, job, value, error, timed_out
            )
        except BaseException:  # cancelled meanwhile (the loop is closing): record, then go
            self._finish(job, span, token, value, error, latency, timed_out, (True, None, False))
            raise
        self._finish(job, span, token, value, error, latency, timed_out, verdict)
        if isinstance(error, KeyboardInterrupt):
            raise error
        if error is None:
            await aclose_dropped(value)

    # -- outcome -------------------------------------------------------------------------------

    def _finish(
        self,
        job: Job,
        span: Any,
        token: Any,
        value: Any,
        error: BaseException | None,
        latency: float,
        timed_out: bool,
        verdict: tuple[bool, float | None, bool] | None = None,
    ) -> None:
        """Score (unless ``verdict`` has), count and report one shadow call, then give its slot
        back."""
        failed = timed_out or error is not None
        score: float | None = None
        errored = False
        try:
            if verdict is None:
                verdict = verdict_of(self._compare, job, value, error, timed_out)
            failed, score, errored = verdict
            self._observe(job, failed, latency, score)
            self._report(job, span, error, failed, timed_out, latency, score)
        except Exception:
            _log.debug("otel-resilience: recording a shadow call failed", exc_info=True)
        finally:
            if token is not None:
                otel_context.detach(token)
            self._slots.release(failed, timed_out, score, errored)

    def _observe(self, job: Job, failed: bool, latency: float, score: float | None) -> None:
        """Hook for subclasses (CanaryAnalysis): one shadow call's outcome and its primary's."""

    # -- telemetry -----------------------------------------------------------------------------

    def _mark(self, ctx: CallContext, dropped: bool) -> None:
        if ctx.span is not None:
            ctx.span.set_attributes(
                {
                    semconv.SHADOW_SAMPLED: True,
                    semconv.SHADOW_NAME: self.name,
                    semconv.SHADOW_DROPPED: dropped,
                }
            )

    def _count(self, inst: Any, pipeline: str, event: str) -> None:
        inst.count(pipeline, self.strategy_name, event, {semconv.SHADOW_NAME: self.name})

    def _start_span(self, job: Job) -> tuple[Any, Any]:
        """The shadow call's span: a new trace linked to the call's span, made current."""
        tracer = job.inst.tracer
        if tracer is None:
            return None, None
        try:
            link = job.link
            span = tracer.start_span(
                semconv.SPAN_SHADOW,
                context=otel_context.Context(),  # no parent: it must not lengthen the call
                kind=SpanKind.INTERNAL,
                links=[Link(link)] if link is not None and link.is_valid else None,
                attributes={
                    semconv.PIPELINE_NAME: job.pipeline,
                    semconv.SHADOW_NAME: self.name,
                    semconv.VARIANT: self.name,
                },
            )
            return span, otel_context.attach(
                trace.set_span_in_context(span, otel_context.Context())
            )
        except Exception:
            _log.debug("otel-resilience: starting a shadow span failed", exc_info=True)
            return None, None

    def _report(
        self,
        job: Job,
        span: Any,
        error: BaseException | None,
        failed: bool,
        timed_out: bool,
        latency: float,
        score: float | None,
    ) -> None:
        outcome = semconv.OUTCOME_FAILURE if failed else semconv.OUTCOME_SUCCESS
        if span is not None:
            try:
                attrs: dict[str, Any] = {semconv.OUTCOME: outcome}
                if error is not None:
                    attrs[semconv.ERROR_TYPE] = (
                        "TimeoutError" if isinstance(error, _ShadowTimeout) else error_type(error)
                    )
                if score is not None:
                    attrs[semconv.SHADOW_AGREEMENT] = score
                span.set_attributes(attrs)
                if failed:
                    span.set_status(Status(StatusCode.ERROR))
            finally:
                span.end()
        if failed:
            event = semconv.EVENT_SHADOW_TIMEOUT if timed_out else semconv.EVENT_SHADOW_FAILED
            self._count(job.inst, job.pipeline, event)
        found = self._metrics.get(meter_provider_of(self._telemetry, job.inst))
        if found is None:
            return
        duration, agreement, _ = found
        primary_outcome = semconv.OUTCOME_FAILURE if job.primary_failed else semconv.OUTCOME_SUCCESS
        for variant, seconds, result in (
            (semconv.VARIANT_PRIMARY, job.primary_latency, primary_outcome),
            (self.name, latency, outcome),
        ):
            VariantMetrics.record(
                duration,
                seconds,
                {
                    semconv.PIPELINE_NAME: job.pipeline,
                    semconv.VARIANT: variant,
                    semconv.OUTCOME: result,
                },
            )
        if score is not None:
            VariantMetrics.record(
                agreement, score, {semconv.PIPELINE_NAME: job.pipeline, semconv.VARIANT: self.name}
            )


async def _bounded(awaitable: Awaitable[Any], timeout: float) -> Any:
    try:
        return await asyncio.wait_for(awaitable, timeout)
    except asyncio.TimeoutError:  # distinct from TimeoutError on 3.10
        raise _ShadowTimeout from None
