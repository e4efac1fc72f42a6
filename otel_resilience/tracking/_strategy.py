"""TrackErrors: the strategy through which a pipeline reports its failures to a tracker."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from otel_resilience._strategy import CallContext, DecidingStrategy
from otel_resilience.errors import ResilienceError

if TYPE_CHECKING:
    from ._tracker import ErrorTracker

__all__ = ["TrackErrors"]

_log = logging.getLogger(__name__)


class TrackErrors(DecidingStrategy):
    """Captures the failures of the calls it wraps; marks them recovered when the call succeeds.

    Last in a pipeline (innermost) it sees every attempt: a failure that a Retry then overcomes
    is marked ``recovered``. First in the pipeline (outermost) it sees the call's outcome after
    every strategy, so failures a Fallback served are marked recovered too, and an unhandled
    failure is captured. Use one of each (``tracker.strategy()`` twice) to get both. Only
    tracked pipelines pay anything: the core runs no tracking code of its own.
    """

    __slots__ = ("tracker",)

    strategy_name = "track_errors"
    sees_refusals = True

    def __init__(self, tracker: ErrorTracker) -> None:
        super().__init__()
        self.tracker = tracker

    def __repr__(self) -> str:
        return "TrackErrors()"

    # Each hook is guarded: a failing tracker (a subclass, a broken hook) never fails the call.

    def enter(self, ctx: CallContext) -> Any:
        """A new attempt of a call that already failed here leaves a ``retry`` breadcrumb."""
        try:
            self._enter(ctx)
        except Exception:
            _log.debug("otel-resilience: error tracking failed", exc_info=True)
        return None

    def on_success(self, ctx: CallContext, state: Any, result: Any) -> None:
        """The call succeeded here: its failures so far were recovered."""
        try:
            self._on_success(ctx)
        except Exception:
            _log.debug("otel-resilience: error tracking failed", exc_info=True)

    def on_failure(self, ctx: CallContext, state: Any, exc: Exception | None, result: Any) -> None:
        """Capture ``exc`` once per call (outer instances see it again), then pass it on."""
        if exc is None:
            return None
        try:
            self._on_failure(ctx, exc)
        except Exception:
            _log.debug("otel-resilience: error tracking failed", exc_info=True)
        return None

    def _enter(self, ctx: CallContext) -> None:
        calls = self.tracker.calls
        record = calls.get(id(ctx)) if calls else None  # empty: the common case, no lookup
        if record is not None and record[0] is ctx:
            self.tracker.breadcrumb(
                f"{ctx.pipeline}: retrying after {len(record[1])} failure(s)",
                category="pipeline",
                level="warning",
            )

    def _on_success(self, ctx: CallContext) -> None:
        calls = self.tracker.calls
        record = calls.pop(id(ctx), None) if calls else None
        if record is not None and record[0] is ctx and record[1]:
            self.tracker.mark_recovered(record[1])
            self.tracker.breadcrumb(
                f"{ctx.pipeline}: recovered after {len(record[1])} failure(s)", category="pipeline"
            )

    def _on_failure(self, ctx: CallContext, exc: Exception) -> None:
        tracker = self.tracker
        record = tracker.calls.get(id(ctx))
        if record is None or record[0] is not ctx:
            record = (ctx, [], set())
            tracker.calls[id(ctx)] = record
        if id(exc) not in record[2]:
            # Our own errors (an open breaker, a timeout) have messages safe to keep; others
            # may hold user data: their type only.
            what = str(exc) if isinstance(exc, ResilienceError) else type(exc).__name__
            tracker.breadcrumb(f"{ctx.pipeline}: {what}", category="pipeline", level="error")
            key = tracker.capture(exc, handled=True)
            record[2].add(id(exc))
            if key is not None:
                record[1].append(key)
