"""The two runners of deciding strategies: one sync, one async, identical but for ``await``.

Every deciding strategy's control flow is here, written once; strategies only answer hooks.
The success path is: ``enter`` (when the strategy has one), the inner call, ``on_success``
(when it has one). Results of types already known not to be HTTP responses skip the
pipeline's ``is_failure_result`` altogether.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from types import CoroutineType
from typing import Any, NoReturn, TypeVar

from otel_resilience._responses import aclose_dropped, close_dropped
from otel_resilience._strategy import (
    _NO_VERDICT,
    KEEP_STATE,
    Again,
    CallContext,
    DecidingStrategy,
    Decision,
    Fail,
    Finish,
    Prepare,
    Substitute,
    UsageError,
    Wait,
)
from otel_resilience.classify._results import plain_types as _plain_types
from otel_resilience.errors import RejectedError

__all__ = ["not_awaitable", "refuse_coroutine", "run_async", "run_sync"]

T = TypeVar("T")
# By exact type: a set lookup, no MRO walk.
_ENTRY_DECISIONS = frozenset({Wait, Prepare, Finish, Fail})


def _on_error(
    level: DecidingStrategy, state: Any, ctx: CallContext, exc: Exception
) -> Decision | None:
    """An exception reached ``level``: no verdict (refusal, misuse) or a failure."""
    if isinstance(exc, _NO_VERDICT) and not (
        level.sees_refusals and isinstance(exc, RejectedError)
    ):
        level.on_abandon(ctx, state)
        return None
    return level.on_failure(ctx, state, exc, None)


def _on_result(
    level: DecidingStrategy, state: Any, ctx: CallContext, result: Any
) -> Decision | None:
    """A result that may be a failure reached ``level``."""
    failed = ctx.result_failed(result, level.result_predicate)
    if failed is None:  # a broken predicate: no verdict
        level.on_abandon(ctx, state)
        return None
    if failed:
        return level.on_failure(ctx, state, None, result)
    success = level._success
    return None if success is None else success(level, ctx, state, result)


def _on_sync_result(
    level: DecidingStrategy, state: Any, ctx: CallContext, result: Any, substitute: Any = None
) -> Decision | None:
    """:func:`_on_result` in a sync call, which must not get a coroutine back."""
    if type(result) is CoroutineType:  # an async function through call(): no verdict
        level.on_abandon(ctx, state)
        if substitute is not None:
            result.close()
            raise UsageError(
                f"{getattr(substitute, '__qualname__', substitute)!r} returned a coroutine: an "
                "async substitute (fallback) serves async calls only (`await pipeline.acall()`)"
            )
        refuse_coroutine(ctx.fn, result)
    decision = _on_result(level, state, ctx, result)
    if isinstance(decision, Again):  # this response is dropped: free its connection
        close_dropped(result)
    return decision


async def _settle(ctx: CallContext, result: Any, substituted: bool) -> Any:
    """Await any other awaitable; a substitute may return a plain value, ``fn`` may not."""
    if inspect.isawaitable(result):
        return await result
    if substituted:
        return result
    raise not_awaitable(ctx.fn, result)  # no verdict (a UsageError): outer layers let it by


def not_awaitable(fn: Any, result: Any) -> UsageError:
    """``acall()`` got a plain value back: the error to raise."""
    return UsageError(
        f"{getattr(fn, '__qualname__', fn)!r} returned {type(result).__name__}, not an "
        "awaitable: call plain functions with pipeline.call(), not acall()"
    )


def refuse_coroutine(fn: Any, coro: Any) -> NoReturn:
    """``call()`` got a coroutine back: close it (no "never awaited" warning) and refuse."""
    coro.close()
    raise UsageError(
        f"{getattr(fn, '__qualname__', fn)!r} returned a coroutine: call async functions with "
        "`await pipeline.acall(fn, ...)` (or decorate the async def), not pipeline.call()"
    )


def _substitute(
    ctx: CallContext, decision: Substitute, state: Any
) -> tuple[Callable[[], Any], Any]:
    """The substitute call with the call's own arguments, and the state from now on."""
    call = functools.partial(decision.fn, *ctx.args, **ctx.kwargs)
    return call, state if decision.state is KEEP_STATE else decision.state


def _entry_wait(level: DecidingStrategy, entry: Any, ctx: CallContext, state: Any) -> Any:
    """Carry out ``Wait`` and ``Prepare`` from ``enter`` until it answers something else."""
    while isinstance(state, (Wait, Prepare)):
        if isinstance(state, Prepare):
            state = state.run(ctx)
        else:
            ctx.clock.sleep(state.delay)
            state = entry(level, ctx)
    return state


async def _aentry_wait(level: DecidingStrategy, entry: Any, ctx: CallContext, state: Any) -> Any:
    """:func:`_entry_wait` in an async call."""
    while isinstance(state, (Wait, Prepare)):
        if isinstance(state, Prepare):
            state = await state.arun(ctx)
        else:
            await ctx.clock.asleep(state.delay)
            state = entry(level, ctx)
    return state


def run_sync(level: DecidingStrategy, nxt: Callable[[], T], ctx: CallContext) -> T:
    """Run ``nxt`` under ``level``'s decisions, in this thread."""
    entry = level._entry
    if entry is None:
        state = None
    elif type(state := entry(level, ctx)) in _ENTRY_DECISIONS:
        state = _entry_wait(level, entry, ctx, state)
        if isinstance(state, Finish):
            return state.value  # type: ignore[return-value]
        if isinstance(state, Fail):
            raise state.error
    call: Callable[[], Any] = nxt
    substitute: Any = None  # the substituted function, for a clear error if it is async
    while True:
        try:
            result = call()
        except Exception as exc:
            decision = _on_error(level, state, ctx, exc)
            if decision is None:
                raise
            if isinstance(decision, Fail):
                raise decision.error from exc
        except BaseException:  # cancelled or interrupted: no verdict, release what enter took
            level.on_abandon(ctx, state)
            raise
        else:
            if (
                level.result_predicate is None
                and type(result) in _plain_types
                and ctx.shared.default_predicate
            ):  # a type known not to be an HTTP response: no predicate to run
                success = level._success
                if success is None:
                    return result  # type: ignore[no-any-return]
                decision = success(level, ctx, state, result)
            else:
                decision = _on_sync_result(level, state, ctx, result, substitute)
            if decision is None:
                return result  # type: ignore[no-any-return]
            if isinstance(decision, Fail):
                raise decision.error
        if isinstance(decision, Again):
            state = decision.state
            if decision.delay > 0:
                ctx.clock.sleep(decision.delay)
            level.on_again(ctx, state)
            call, substitute = nxt, None
        elif isinstance(decision, Finish):
            return decision.value  # type: ignore[return-value]
        elif isinstance(decision, Substitute):
            call, state = _substitute(ctx, decision, state)
            substitute = decision.fn
        else:
            raise TypeError(f"{level!r} decided {decision!r}")


async def run_async(
    level: DecidingStrategy, nxt: Callable[[], Awaitable[T]], ctx: CallContext
) -> T:
    """Await ``nxt`` under ``level``'s decisions: :func:`run_sync` with ``await``."""
    entry = level._entry
    if entry is None:
        state = None
    elif type(state := entry(level, ctx)) in _ENTRY_DECISIONS:
        state = await _aentry_wait(level, entry, ctx, state)
        if isinstance(state, Finish):
            return state.value  # type: ignore[return-value]
        if isinstance(state, Fail):
            raise state.error
    call, substituted = nxt, False  # a substitute may be a plain function, unlike nxt
    while True:
        try:
            result = call()
            if type(result) is CoroutineType:
                result = await result
            else:
                result = await _settle(ctx, result, substituted)
        except Exception as exc:
            decision = _on_error(level, state, ctx, exc)
            if decision is None:
                raise
            if isinstance(decision, Fail):
                raise decision.error from exc
        except BaseException:
            level.on_abandon(ctx, state)
            raise
        else:
            if (
                level.result_predicate is None
                and type(result) in _plain_types
                and ctx.shared.default_predicate
            ):  # a type known not to be an HTTP response: no predicate to run
                success = level._success
                if success is None:
                    return result  # type: ignore[no-any-return]
                decision = success(level, ctx, state, result)
            else:  # as _on_sync_result, with no coroutine per level and result
                decision = _on_result(level, state, ctx, result)
                if isinstance(decision, Again):  # this response is dropped: free its connection
                    await aclose_dropped(result)
            if decision is None:
                return result  # type: ignore[no-any-return]
            if isinstance(decision, Fail):
                raise decision.error
        if isinstance(decision, Again):
            state = decision.state
            if decision.delay > 0:
                await ctx.clock.asleep(decision.delay)
            level.on_again(ctx, state)
            call, substituted = nxt, False
        elif isinstance(decision, Finish):
            return decision.value  # type: ignore[return-value]
        elif isinstance(decision, Substitute):
            (call, state), substituted = _substitute(ctx, decision, state), True
        else:
            raise TypeError(f"{level!r} decided {decision!r}")
