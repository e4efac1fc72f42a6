"""The I/O-free part of Hedging: which failures hedge, and recording a hedge."""

from __future__ import annotations

import logging
from collections.abc import Callable

from otel_resilience import semconv
from otel_resilience._context import CallContext

__all__ = ["OnFilter", "record_hedge"]

_log = logging.getLogger(__name__)


class OnFilter:
    """``on=`` as a test: does this failure let the next attempt start (and the call go on)?"""

    __slots__ = ("_categories", "_everything", "_pred", "_types")

    def __init__(
        self,
        parsed: tuple[
            tuple[type[BaseException], ...], frozenset[str], Callable[[BaseException], bool] | None
        ],
        given: bool,
    ) -> None:
        self._types, self._categories, self._pred = parsed
        self._everything = not given

    def wants(self, ctx: CallContext, exc: BaseException) -> bool:
        """Whether ``exc`` is a failure to hedge past; cancellation and the like never are."""
        if not isinstance(exc, Exception):
            return False
        if self._everything:
            return True
        if self._pred is not None:
            try:
                return bool(self._pred(exc))
            except Exception:  # a broken predicate means "don't hedge", not a new error
                _log.debug("otel-resilience: Hedging on= predicate raised", exc_info=True)
                return False
        if isinstance(exc, self._types):
            return True
        return bool(self._categories) and (
            ctx.classify(ctx.classifier, exc).category.value in self._categories
        )


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
