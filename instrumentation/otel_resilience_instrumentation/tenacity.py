"""Telemetry for tenacity's retries: ``ResilienceTenacityInstrumentor``.

Every decision of a tenacity controller (``@retry``, ``Retrying``, ``AsyncRetrying``, iterator
style) goes through its ``iter()`` method, which returns ``DoSleep`` when a retry is scheduled
and ends the call (a value, or an exception) when tenacity gives up. Wrapping that one method of
``BaseRetrying`` and ``AsyncRetrying`` covers functions decorated before ``instrument()``, as
every decorated call makes a fresh copy of its controller and looks the method up on the class.
Nothing tenacity decides changes: the wrapper only reads the call state after the fact.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Collection
from typing import Any

import wrapt
from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)
from opentelemetry.instrumentation.utils import unwrap

from otel_resilience import semconv
from otel_resilience_instrumentation._recorder import RetryRecorder, callable_name

__all__ = ["ResilienceTenacityInstrumentor"]


class ResilienceTenacityInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Records each tenacity retry as ``resilience.retry`` (and each give-up).

    ``instrument(tracer_provider=..., meter_provider=..., logger_provider=...,
    classifier=...)``: the span event goes on the current span, the ``resilience.events``
    point through the meter provider (the global one by default). Controllers that stamina
    builds are left to ``ResilienceStaminaInstrumentor`` (no retry is recorded twice).
    """

    def instrumentation_dependencies(self) -> Collection[str]:
        """``tenacity.asyncio`` and the per-call iter state: 8.4.1 (8.4.0 shipped without it)."""
        return ("tenacity >= 8.4.1",)

    def _instrument(self, **kwargs: Any) -> None:
        import tenacity
        from tenacity.asyncio import AsyncRetrying

        recorder = RetryRecorder(semconv.STRATEGY_TENACITY, kwargs)

        def sync_iter(
            wrapped: Callable[..., Any], instance: Any, args: Any, kw: dict[str, Any]
        ) -> Any:
            state = kw.get("retry_state", args[0] if args else None)
            try:
                action = wrapped(*args, **kw)
            except BaseException:
                _observe(recorder, instance, state, None, tenacity.DoSleep)
                raise
            _observe(recorder, instance, state, action, tenacity.DoSleep)
            return action

        def async_iter(
            wrapped: Callable[..., Awaitable[Any]], instance: Any, args: Any, kw: dict[str, Any]
        ) -> Awaitable[Any]:
            state = kw.get("retry_state", args[0] if args else None)
            return _observed(recorder, instance, state, wrapped(*args, **kw), tenacity.DoSleep)

        wrapt.wrap_function_wrapper(tenacity.BaseRetrying, "iter", sync_iter)
        wrapt.wrap_function_wrapper(AsyncRetrying, "iter", async_iter)

    def _uninstrument(self, **kwargs: Any) -> None:
        import tenacity
        from tenacity.asyncio import AsyncRetrying

        unwrap(AsyncRetrying, "iter")
        unwrap(tenacity.BaseRetrying, "iter")


async def _observed(
    recorder: RetryRecorder, retrying: Any, state: Any, pending: Awaitable[Any], sleep: type[float]
) -> Any:
    try:
        action = await pending
    except BaseException:
        _observe(recorder, retrying, state, None, sleep)
        raise
    _observe(recorder, retrying, state, action, sleep)
    return action


def _observe(
    recorder: RetryRecorder, retrying: Any, state: Any, action: Any, sleep: type[float]
) -> None:
    """Record what ``iter()`` just decided for ``state`` (a RetryCallState)."""
    try:
        outcome = state.outcome
        if outcome is None:
            return  # the decision before an attempt: nothing failed yet
        if isinstance(action, sleep):
            if not _owned_by_stamina(retrying):
                pipeline = _pipeline(retrying, state)
                recorder.retry(pipeline, state.attempt_number, action, _value(outcome))
            return
        iter_state = retrying.iter_state
        if iter_state.stop_run_result:
            reason = _stop_reason(retrying.stop)
        elif outcome.failed and state.attempt_number > 1 and not iter_state.retry_run_result:
            reason = semconv.RETRY_REASON_NOT_RETRYABLE  # retried, then an error not retried
        else:
            return  # success (the common case), or a first attempt that is not retried
        if _owned_by_stamina(retrying):
            return
        pipeline = _pipeline(retrying, state)
    except Exception:  # a tenacity whose internals moved: record nothing rather than fail
        return
    recorder.gave_up(pipeline, state.attempt_number, _value(outcome), reason)


def _value(outcome: Any) -> object:
    """The exception of a failed attempt, else the value it returned."""
    return outcome.exception() if outcome.failed else outcome.result()


def _pipeline(retrying: Any, state: Any) -> str:
    fn = getattr(state, "fn", None)
    if fn is not None:
        return callable_name(fn)
    # Iterator style has no function: the controller's name (tenacity >= 9.1) if given.
    name = getattr(retrying, "_name", None)
    return name if isinstance(name, str) and name else semconv.STRATEGY_TENACITY


def _stop_reason(stop: object) -> str | None:
    """``attempts`` or ``deadline`` for tenacity's own stops; unknown (None) for the others."""
    import tenacity

    if isinstance(stop, tenacity.stop_after_attempt):
        return semconv.RETRY_REASON_ATTEMPTS
    if isinstance(stop, (tenacity.stop_after_delay, tenacity.stop_before_delay)):
        return semconv.RETRY_REASON_DEADLINE
    return None


def _owned_by_stamina(retrying: Any) -> bool:
    """stamina drives tenacity controllers: its retries are recorded by its own instrumentor."""
    core = sys.modules.get("stamina._core")
    if core is None:
        return False
    if retrying.stop is getattr(core, "_STOP_NO_RETRY", None):
        return True
    return getattr(retrying.before_sleep, "__module__", None) == "stamina._core"
