"""Health probing of a CircuitBreaker, as functions of the breaker: they only run while it is
open, and keep the strategy module short."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from otel_resilience import semconv
from otel_resilience._context import CallContext
from otel_resilience._strategy import Prepare
from otel_resilience.circuit_breaker._health import HealthProbes, probe_async, probe_sync

if TYPE_CHECKING:
    from otel_resilience.circuit_breaker.strategy import CircuitBreaker

__all__ = ["prepare", "run_probe", "start"]


def prepare(cb: CircuitBreaker) -> Prepare:
    """The entry decision of a call arriving when a probe may be due."""
    return Prepare(partial(probe_then_admit, cb), partial(aprobe_then_admit, cb))


def start(cb: CircuitBreaker) -> HealthProbes:
    """The background runner of :meth:`CircuitBreaker.start_health_probes`."""
    interval = cb.options.health_interval
    health = cb._core.health
    if health is not None and health.is_async:
        return HealthProbes(cb._clock, interval, atick=partial(aprobe_tick, cb))
    return HealthProbes(cb._clock, interval, tick=partial(probe_tick, cb))


def probe_then_admit(cb: CircuitBreaker, ctx: CallContext) -> Any:
    """A sync call: run the due probe (a sync check only), then admit or reject the call."""
    # A sync call never runs an async check (see the class docstring): it is admitted or
    # rejected as if there were no check.
    health = cb._core.health
    if health is not None and not health.is_async:
        run_probe(cb, ctx)
    return cb._admit(ctx, cb._clock.monotonic())


async def aprobe_then_admit(cb: CircuitBreaker, ctx: CallContext) -> Any:
    """An async call: await the due probe, then admit or reject the call."""
    await arun_probe(cb, ctx)
    return cb._admit(ctx, cb._clock.monotonic())


def run_probe(cb: CircuitBreaker, ctx: CallContext | None) -> None:
    """Run a sync check if a probe is due and no other runs (``ctx``: None in the background)."""
    core, clock = cb._core, cb._clock
    health = core.health
    assert health is not None
    probe = core.claim_probe(clock.monotonic())
    if not probe:
        return  # another probe is running, or none is due any more
    try:
        verdict = probe_sync(health.check, clock, cb.options.probe_timeout)
    except BaseException:  # interrupted: no verdict, free the slot
        core.finish_probe(probe, None, clock.monotonic())
        raise
    probe_done(cb, ctx, probe, *verdict)


async def arun_probe(cb: CircuitBreaker, ctx: CallContext | None) -> None:
    """Await the check (a sync one in a worker thread) if a probe is due and no other runs."""
    core, clock = cb._core, cb._clock
    health = core.health
    assert health is not None
    probe = core.claim_probe(clock.monotonic())
    if not probe:
        return
    try:
        verdict = await probe_async(health.check, health.is_async, clock, cb.options.probe_timeout)
    except BaseException:  # cancelled: no verdict, free the slot
        core.finish_probe(probe, None, clock.monotonic())
        raise
    probe_done(cb, ctx, probe, *verdict)


def probe_done(
    cb: CircuitBreaker,
    ctx: CallContext | None,
    probe: int,
    passed: bool,
    error: str | None,
    took: float,
) -> None:
    """Settle ``probe`` and report it: span event (in a call), log event, counter, transition."""
    transition = cb._core.finish_probe(probe, passed, cb._clock.monotonic())
    attrs: dict[str, Any] = {
        semconv.CIRCUIT_BREAKER_NAME: cb.name,
        semconv.HEALTH_PROBE_RESULT: (
            semconv.HEALTH_PROBE_PASSED if passed else semconv.HEALTH_PROBE_FAILED
        ),
        semconv.HEALTH_PROBE_DURATION: took,
    }
    if error is not None:
        attrs[semconv.ERROR_TYPE] = error
    if ctx is not None and ctx.span is not None:
        ctx.span.add_event(semconv.SPAN_EVENT_HEALTH_PROBE, attrs)
    inst = ctx.inst if ctx is not None else cb._telemetry.instruments()
    inst.emit_event(semconv.LOG_EVENT_HEALTH_PROBE, attrs)
    pipeline = ctx.pipeline if ctx is not None else (cb._pipeline_name or cb.name)
    event = semconv.EVENT_HEALTH_PROBE_PASSED if passed else semconv.EVENT_HEALTH_PROBE_FAILED
    inst.count(pipeline, cb.strategy_name, event)
    cb._emit(transition, ctx)


def next_probe_in(cb: CircuitBreaker) -> float:
    """Seconds until the next probe is due (``health_interval`` when none is scheduled)."""
    health = cb._core.health
    due = 0.0 if health is None else health.due
    delay = due - cb._clock.monotonic()
    return delay if delay > 0 else cb.options.health_interval


def probe_tick(cb: CircuitBreaker) -> float:
    """One round of the background thread: probe if due; the seconds until the next."""
    if cb._core.probe_due_at(cb._clock.monotonic()):
        run_probe(cb, None)
    return next_probe_in(cb)


async def aprobe_tick(cb: CircuitBreaker) -> float:
    """One round of the background task."""
    if cb._core.probe_due_at(cb._clock.monotonic()):
        await arun_probe(cb, None)
    return next_probe_in(cb)
