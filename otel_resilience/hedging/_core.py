"""The I/O-free part of Hedging: which failures hedge, and recording a hedge."""

from __future__ import annotations

import logging

from otel_resilience import semconv
from otel_resilience._context import CallContext
from otel_resilience._filter import ExceptionFilter

__all__ = ["OnFilter", "record_hedge"]

_log = logging.getLogger(__name__)


class OnFilter:
    """``on=`` as a test: does this failure let the next attempt start (and the call go on)?"""

    __slots__ = ("_filter",)

    def __init__(self, on: ExceptionFilter) -> None:
        self._filter = on

    def wants(self, ctx: CallContext, exc: BaseException) -> bool:
        """Whether ``exc`` is a failure to hedge past; cancellation and the like never are."""
        if not isinstance(exc, Exception):
            return False
        on = self._filter
        return on.matches(ctx, ctx.classifier, exc) if on.given else True


def record_hedge(ctx: CallContext, strategy: str, number: int, waited: float) -> None:
    """Record that hedge ``number`` (1-based) starts ``waited`` seconds after the previous one."""
    span = ctx.span
    if span is not None:
        try:
            span.add_event(
                semconv.SPAN_EVENT_HEDGE,
                {semconv.HEDGE_NUMBER: number, semconv.HEDGE_DELAY: float(waited)},
            )
        except Exception:  # telemetry never breaks the call
            _log.debug("otel-resilience: recording a hedge failed", exc_info=True)
    ctx.inst.count(ctx.pipeline, strategy, semconv.EVENT_HEDGE)
