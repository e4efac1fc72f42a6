"""Fallback: when the protected call fails, serve a value, a handler's answer or an alternative."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from typing import Any

from otel_resilience import semconv
from otel_resilience._clock import Clock
from otel_resilience._filter import ExceptionFilter
from otel_resilience._strategy import CallContext, DecidingStrategy, Decision, Finish, Substitute
from otel_resilience._util import error_type, result_error_type
from otel_resilience.fallback._core import (
    NO_VALUE,
    Alternative,
    FallbackRun,
    name_of,
    normalise_chain,
)
from otel_resilience.fallback.options import FallbackOptions

__all__ = ["Fallback", "fallback_errors_of"]

_log = logging.getLogger(__name__)
_ERRORS_ATTR = "resilience_fallback_errors"
_VALUE_NAME = "value"


def fallback_errors_of(exc: BaseException) -> tuple[object, ...]:
    """The failures before ``exc`` when every alternative of a Fallback failed, oldest first.

    The protected call's own failure comes first, then each failed alternative but the last
    (whose error is ``exc``); a failure that was a returned value is that value. Empty for an
    exception no Fallback gave up with.
    """
    value = getattr(exc, _ERRORS_ATTR, ())
    return value if isinstance(value, tuple) else ()


def _call_handler(handler: Callable[[Any], Any], failure: object, *_a: Any, **_k: Any) -> Any:
    return handler(failure)


class Fallback(DecidingStrategy):
    """Serve something else when the protected call fails.

    Exactly one of: ``value`` (returned as it is), ``handler`` (called with the exception, or
    with the returned value that is a failure) or ``chain`` (alternatives tried in order, each
    called with the call's own arguments: callables or ``(name, callable)`` pairs; one may be a
    function decorated with its own Pipeline). ``on`` chooses the exceptions that fall back
    (error categories and/or exception types, or a predicate; default: every ``Exception``,
    refusals such as ``CircuitOpenError`` included); ``on_result`` the returned values that are
    failures (default: the pipeline's ``is_failure_result``). A sync handler or alternative may
    serve an async call; an async one serves async calls only. When every alternative fails,
    the last error is raised and :func:`fallback_errors_of` gives the earlier ones.
    """

    __slots__ = ("_alternatives", "_handler", "_on", "options")

    strategy_name = semconv.STRATEGY_FALLBACK
    sees_refusals = True  # an open breaker or a full bulkhead is a reason to fall back

    def __init__(
        self,
        *,
        value: Any = NO_VALUE,
        handler: Callable[[Any], Any] | None = None,
        chain: Sequence[Any] | None = None,
        on: Any = None,
        on_result: Callable[[Any], bool] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.options = FallbackOptions(
            value=value, handler=handler, chain=chain, on=on, on_result=on_result
        )
        super().__init__(clock=clock, result_predicate=on_result)
        self._entry = None  # no per-call state until the call fails: the success path is free
        self._handler = handler is not None
        if chain is not None:
            self._alternatives = normalise_chain(chain)
        elif handler is not None:
            self._alternatives = (Alternative(name_of(handler), handler),)
        else:
            self._alternatives = ()
        self._on = ExceptionFilter("on", on)

    def __repr__(self) -> str:
        if self._handler:
            return f"Fallback(handler={self._alternatives[0].name})"
        if self._alternatives:
            return f"Fallback(chain=[{', '.join(a.name for a in self._alternatives)}])"
        return f"Fallback(value={self.options.value!r})"

    # -- hooks ---------------------------------------------------------------------------------

    def on_success(self, ctx: CallContext, state: Any, result: Any) -> Decision | None:
        """An alternative (or the handler) answered: the call's outcome is ``fallback``."""
        if state is not None:
            self._served(ctx, state.started, self._alternatives[state.started - 1].name)
        return None

    def on_failure(
        self, ctx: CallContext, state: Any, exc: Exception | None, result: Any
    ) -> Decision | None:
        """Fall back (first failure), or move along the chain, or give up with the last error."""
        failure: object = exc if exc is not None else result
        if state is None:  # the protected call itself failed
            if exc is not None and not self._wants(ctx, exc):
                return None
            if not self._alternatives:
                self._served(ctx, 1, _VALUE_NAME)
                return Finish(self.options.value)
            run = FallbackRun(failure)
        else:
            run = state
            self._failed(ctx, run, exc, result)
            if run.started >= len(self._alternatives):
                if exc is not None:
                    _attach(exc, run.errors)
                else:  # the call ends on this result: its outcome is a failure
                    ctx.failed_result = (result, ctx.classify(ctx.classifier, result))
                return None  # the last failure goes on as it is
            run.errors.append(failure)
        alternative = self._alternatives[run.started]
        run.started += 1
        fn = alternative.fn
        if self._handler:
            fn = functools.partial(_call_handler, fn, failure)
            fn.__qualname__ = alternative.name  # type: ignore[attr-defined]
        return Substitute(fn, run)

    # -- helpers -------------------------------------------------------------------------------

    def _wants(self, ctx: CallContext, exc: Exception) -> bool:
        on = self._on  # not given: every failure; an explicit empty list: none
        return on.matches(ctx, ctx.classifier, exc) if on.given else True

    def _served(self, ctx: CallContext, index: int, name: str) -> None:
        ctx.set_outcome(semconv.OUTCOME_FALLBACK)
        ctx.inst.count(ctx.pipeline, self.strategy_name, semconv.EVENT_FALLBACK_USED)
        if ctx.span is not None:
            try:
                ctx.span.set_attributes(
                    {semconv.FALLBACK_INDEX: index, semconv.FALLBACK_NAME: name}
                )
            except Exception:  # telemetry never breaks the call
                _log.debug("otel-resilience: recording the fallback failed", exc_info=True)

    def _failed(
        self, ctx: CallContext, run: FallbackRun, exc: Exception | None, result: Any
    ) -> None:
        span = ctx.span
        if span is None:
            return
        try:
            obj = exc if exc is not None else result
            span.add_event(
                semconv.SPAN_EVENT_FALLBACK_FAILED,
                {
                    semconv.FALLBACK_INDEX: run.started,
                    semconv.FALLBACK_NAME: self._alternatives[run.started - 1].name,
                    semconv.ERROR_TYPE: error_type(exc)
                    if exc is not None
                    else result_error_type(obj),
                    semconv.ERROR_CATEGORY: ctx.classify(ctx.classifier, obj).category.value,
                },
            )
        except Exception:
            _log.debug("otel-resilience: recording a failed fallback failed", exc_info=True)


def _attach(exc: BaseException, earlier: list[object]) -> None:
    """Attach the earlier failures to the error raised (hostile exceptions may refuse)."""
    try:
        setattr(exc, _ERRORS_ATTR, tuple(earlier))
    except Exception:
        _log.debug("otel-resilience: could not attach fallback errors", exc_info=True)
