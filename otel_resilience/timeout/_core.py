"""The I/O-free part of Timeout: when a call is late, and the error that says so."""

from __future__ import annotations

from otel_resilience import semconv
from otel_resilience._context import CallContext
from otel_resilience._strategy import _NO_VERDICT
from otel_resilience.errors import ResilienceTimeoutError

__all__ = ["is_late", "timed_out"]


def is_late(at: float, now: float) -> bool:
    """Whether a call ending at ``now`` ran past its deadline ``at`` (ending on it is in time)."""
    return now > at


def converts(exc: BaseException) -> bool:
    """Whether a late exception becomes a timeout: failures do, refusals and misuse do not."""
    return isinstance(exc, Exception) and not isinstance(exc, _NO_VERDICT)


def timed_out(
    ctx: CallContext, strategy: str, seconds: float, late_result: object = None
) -> ResilienceTimeoutError:
    """Record that the bound ran out (span event, counter) and build the error to raise."""
    ctx.set_outcome(semconv.OUTCOME_FAILURE)
    span = ctx.span
    if span is not None:
        span.add_event(semconv.SPAN_EVENT_TIMEOUT, {semconv.TIMEOUT_SECONDS: float(seconds)})
    ctx.inst.count(ctx.pipeline, strategy, semconv.EVENT_TIMEOUT)
    error = ResilienceTimeoutError(seconds)
    error.late_result = late_result
    return error
