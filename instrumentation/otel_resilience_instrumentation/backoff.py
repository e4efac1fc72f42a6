"""Telemetry for backoff's retries: ``ResilienceBackoffInstrumentor``.

backoff binds the ``on_backoff``/``on_giveup`` handler lists into each function when it is
decorated, so adding a handler would miss every function decorated before ``instrument()``
(usually all of them: decorators run at import). What every decorated function does look up at
call time is the module function its retry loop calls the handlers through,
``backoff._sync._call_handlers`` (``backoff._async._call_handlers`` for coroutines). Wrapping
it sees each decision with backoff's own details; the user's handlers run first and unchanged,
and nothing is recorded when one of them raises (backoff then stops with that exception).
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

__all__ = ["ResilienceBackoffInstrumentor"]

_MODULES = ("backoff._sync", "backoff._async")


class ResilienceBackoffInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Records each backoff retry as ``resilience.retry``, and its give-ups.

    ``instrument(tracer_provider=..., meter_provider=..., logger_provider=...,
    classifier=...)``. A give-up of an ``on_predicate`` decorator created with
    ``logger=None`` is not recorded: backoff hands its give-up and success handlers the same
    details there, and without backoff's give-up logger in the list the two look alike.
    """

    def instrumentation_dependencies(self) -> Collection[str]:
        """The ``_sync``/``_async`` handler calls exist since backoff 2.0."""
        return ("backoff >= 2.0",)

    def _instrument(self, **kwargs: Any) -> None:
        import importlib

        recorder = RetryRecorder(semconv.STRATEGY_BACKOFF, kwargs)

        def sync_handlers(
            wrapped: Callable[..., Any], instance: Any, args: Any, kw: dict[str, Any]
        ) -> Any:
            result = wrapped(*args, **kw)
            _observe(recorder, args, kw)
            return result

        def async_handlers(
            wrapped: Callable[..., Awaitable[Any]], instance: Any, args: Any, kw: dict[str, Any]
        ) -> Awaitable[Any]:
            return _observed(recorder, wrapped(*args, **kw), args, kw)

        for module, wrapper in zip(_MODULES, (sync_handlers, async_handlers), strict=True):
            wrapt.wrap_function_wrapper(importlib.import_module(module), "_call_handlers", wrapper)

    def _uninstrument(self, **kwargs: Any) -> None:
        import importlib

        for module in _MODULES:
            unwrap(importlib.import_module(module), "_call_handlers")


async def _observed(
    recorder: RetryRecorder, pending: Awaitable[Any], args: Any, kw: dict[str, Any]
) -> Any:
    result = await pending
    _observe(recorder, args, kw)
    return result


def _observe(recorder: RetryRecorder, args: Any, kw: dict[str, Any]) -> None:
    """Record the decision whose details backoff just handed to the handlers ``args[0]``."""
    # Only on_backoff gets "wait"; only on_giveup gets "exception" without "wait". An
    # on_predicate give-up gets the same details as a success: it is told apart by backoff's
    # own give-up logger in the list (there by default); without it, it is not recorded.
    try:
        if "wait" in kw:
            outcome = kw["exception"] if "exception" in kw else kw.get("value")
            recorder.retry(callable_name(kw.get("target")), kw["tries"], kw["wait"], outcome)
        elif "exception" in kw or (args and _gives_up(args[0])):
            outcome = kw["exception"] if "exception" in kw else kw.get("value")
            recorder.gave_up(callable_name(kw.get("target")), kw["tries"], outcome, None)
    except Exception:  # a backoff whose details changed shape: record nothing, never fail
        return


def _gives_up(handlers: Any) -> bool:
    """Whether ``handlers`` is an ``on_giveup`` list: it holds backoff's give-up logger."""
    log_giveup = getattr(sys.modules.get("backoff._common"), "_log_giveup", None)
    if log_giveup is None:
        return False
    for handler in handlers:
        # A functools.partial of it; in coroutines, wrapped into a coroutine function first.
        inner = getattr(handler, "__wrapped__", handler)
        if getattr(inner, "func", None) is log_giveup:
            return True
    return False
