"""A CircuitBreaker on a shared store: admission of half-open probes by the fleet.

Only calls arriving while the breaker is not closed come here (the closed path never talks to
the store). A probe permit granted by the local core must also get one of the fleet's
``half_open_max_calls`` slots; without one the call is rejected. A store that cannot answer
(None) leaves the decision to the local core: fail open.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from otel_resilience._context import CallContext
from otel_resilience.circuit_breaker._core import Rejected

if TYPE_CHECKING:
    from otel_resilience.circuit_breaker.strategy import CircuitBreaker

__all__ = ["aadmit", "admit"]


def _probe_of(cb: CircuitBreaker, permit: Any) -> int:
    """The probe id held by ``permit`` (negative), or 0 for a closed-state permit."""
    value = permit[0] if cb._slow_limit is not None else permit
    return value if isinstance(value, int) and value < 0 else 0


def _settle(cb: CircuitBreaker, ctx: CallContext, permit: Any, verdict: int | None) -> Any:
    if verdict is None or verdict > 0:  # a slot, the fleet closed meanwhile, or no answer
        return permit
    link = cb._link
    if verdict < 0 and link is not None:  # our view of the fleet is stale: refresh it now
        link.store.kick()
    cb._core.release(_probe_of(cb, permit))
    raise cb._rejected(Rejected(0.0, None), ctx)


def admit(cb: CircuitBreaker, now: float, ctx: CallContext) -> Any:
    """The local permit, plus a fleet probe slot when it is a probe (sync calls)."""
    permit = cb._admit(ctx, now)
    link = cb._link
    if link is None or not _probe_of(cb, permit):
        return permit
    try:
        verdict = link.store.probe(link)
    except BaseException:
        cb._core.release(_probe_of(cb, permit))
        raise
    return _settle(cb, ctx, permit, verdict)


async def aadmit(cb: CircuitBreaker, now: float, ctx: CallContext) -> Any:
    """:func:`admit` for async calls: the fleet is asked without blocking the loop."""
    permit = cb._admit(ctx, now)
    link = cb._link
    if link is None or not _probe_of(cb, permit):
        return permit
    try:
        verdict = await link.store.aprobe(link)
    except BaseException:  # cancelled while asking: give the slot back
        cb._core.release(_probe_of(cb, permit))
        raise
    return _settle(cb, ctx, permit, verdict)
