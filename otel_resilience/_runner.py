"""The two runners of deciding strategies: one sync, one async, identical but for ``await``.

Every deciding strategy's control flow is here, written once; strategies only answer hooks.
The success path is: ``enter``, the inner call, ``on_result`` returning ``None``.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from otel_resilience._strategy import (
    _NO_VERDICT,
    Again,
    CallContext,
    DecidingStrategy,
    Decision,
    Fail,
    Finish,
    Substitute,
    Wait,
)

__all__ = ["run_async", "run_sync"]

T = TypeVar("T")


def _substitute(ctx: CallContext, fn: Callable[..., Any]) -> Callable[[], Any]:
    return functools.partial(fn, *ctx.args, **ctx.kwargs)


def run_sync(strategy: DecidingStrategy, nxt: Callable[[], T], ctx: CallContext) -> T:
    """Run ``nxt`` under ``strategy``'s decisions, in this thread."""
    state = strategy.enter(ctx)
    while isinstance(state, Decision):  # the rare path: refuse, answer at once, or wait
        if isinstance(state, Wait):
            ctx.clock.sleep(state.delay)
            state = strategy.enter(ctx)
        elif isinstance(state, Finish):
            return state.value  # type: ignore[return-value]
        elif isinstance(state, Fail):
            raise state.error
        else:
            raise TypeError(f"enter() of {strategy!r} returned {state!r}")
    call: Callable[[], Any] = nxt
    while True:
        try:
            result = call()
        except _NO_VERDICT:
            strategy.on_abandon(ctx, state)
            raise
        except Exception as exc:
            decision = strategy.on_error(ctx, state, exc)
            if decision is None:
                raise
            if isinstance(decision, Fail):
                raise decision.error from exc
        except BaseException:  # cancelled or interrupted: no verdict, release what enter took
            strategy.on_abandon(ctx, state)
            raise
        else:
            decision = strategy.on_result(ctx, state, result)
            if decision is None:
                return result  # type: ignore[no-any-return]
            if isinstance(decision, Fail):
                raise decision.error
        if isinstance(decision, Again):
            state = decision.state
            if decision.delay > 0:
                ctx.clock.sleep(decision.delay)
            strategy.on_again(ctx, state)
            call = nxt
        elif isinstance(decision, Finish):
            return decision.value  # type: ignore[return-value]
        elif isinstance(decision, Substitute):
            call = _substitute(ctx, decision.fn)
        else:
            raise TypeError(f"{strategy!r} returned {decision!r}")


async def run_async(
    strategy: DecidingStrategy, nxt: Callable[[], Awaitable[T]], ctx: CallContext
) -> T:
    """Await ``nxt`` under ``strategy``'s decisions: :func:`run_sync` with ``await``."""
    state = strategy.enter(ctx)
    while isinstance(state, Decision):
        if isinstance(state, Wait):
            await ctx.clock.asleep(state.delay)
            state = strategy.enter(ctx)
        elif isinstance(state, Finish):
            return state.value  # type: ignore[return-value]
        elif isinstance(state, Fail):
            raise state.error
        else:
            raise TypeError(f"enter() of {strategy!r} returned {state!r}")
    call: Callable[[], Any] = nxt
    substituted = False
    while True:
        try:
            result = call()
            if not substituted or hasattr(result, "__await__"):
                result = await result
        except _NO_VERDICT:
            strategy.on_abandon(ctx, state)
            raise
        except Exception as exc:
            decision = strategy.on_error(ctx, state, exc)
            if decision is None:
                raise
            if isinstance(decision, Fail):
                raise decision.error from exc
        except BaseException:
            strategy.on_abandon(ctx, state)
            raise
        else:
            decision = strategy.on_result(ctx, state, result)
            if decision is None:
                return result  # type: ignore[no-any-return]
            if isinstance(decision, Fail):
                raise decision.error
        if isinstance(decision, Again):
            state = decision.state
            if decision.delay > 0:
                await ctx.clock.asleep(decision.delay)
            strategy.on_again(ctx, state)
            call, substituted = nxt, False
        elif isinstance(decision, Finish):
            return decision.value  # type: ignore[return-value]
        elif isinstance(decision, Substitute):
            # A substitute may be a plain function or return a plain value: both are fine.
            call, substituted = _substitute(ctx, decision.fn), True
        else:
            raise TypeError(f"{strategy!r} returned {decision!r}")
