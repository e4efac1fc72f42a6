"""State carried from a stateful object to its reconfigured successor on a reload.

A reload that changes the options of a breaker, a registry, a rate limiter or a retry budget
builds a new object (options are frozen); the state of the old one survives in it when both
have the same identity (name and kind): an open breaker stays open until its break ends, a
limiter keeps its tokens, a budget its tokens. What cannot carry over is documented per kind
in docs/configuration.md (a breaker's window when the window's own options changed, a
percent-form budget's window). A reload must never fail because of this: any surprise is
logged and the new object starts fresh.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

__all__ = ["carry_state"]

_log = logging.getLogger(__name__)


def carry_state(old: Any, new: Any) -> None:
    """Move what ``old`` knows into ``new`` (same kind, new options), best effort."""
    if type(old) is not type(new):
        return
    from otel_resilience.circuit_breaker import CircuitBreaker, CircuitBreakerRegistry
    from otel_resilience.rate_limiter import RateLimiter
    from otel_resilience.retry_budget import RetryBudget

    try:
        if isinstance(new, CircuitBreaker):
            _breaker(old, new)
        elif isinstance(new, CircuitBreakerRegistry):
            for key, breaker in old._registry.items():
                _breaker(breaker, new.get(key))
        elif isinstance(new, RateLimiter):
            _bucket(old._core, new._core)
        elif isinstance(new, RetryBudget):
            _budget(old, new)
    except Exception:  # a reload never fails for this: the new object starts fresh
        _log.warning("otel-resilience: state of %r not carried over on reload", old, exc_info=True)


def _breaker(old: Any, new: Any) -> None:
    """The circuit state, break and consecutive openings; the window when it is alike."""
    a, b = old._core, new._core
    with a._lock or a._new_lock():
        state, open_until, opens, isolated = a.state, a.open_until, a.opens_in_row, a.isolated
        # A copy: calls still running under the old pipeline keep recording into the old one.
        window = copy.deepcopy(a.window)
        same_window = (a.opts.window, a.opts.window_type, a.opts.window_buckets) == (
            b.opts.window,
            b.opts.window_type,
            b.opts.window_buckets,
        )
    from otel_resilience.circuit_breaker._core import HALF_OPEN, OPEN

    with b._lock or b._new_lock():
        if state is HALF_OPEN:  # its probes belong to the old breaker: probe again here
            state, open_until = OPEN, 0.0
        b.state = state
        b.open_until = open_until
        b.opens_in_row = opens
        b.isolated = isolated
        b.window = window if same_window else None
        b.epoch += 1
        b.snapshot = (state, b.epoch)


def _bucket(old: Any, new: Any) -> None:
    """Tokens (at most the new burst) and the time they were counted at."""
    with old._lock:
        tokens, stamp = old._tokens, old._stamp
    with new._lock:
        new._tokens = min(tokens, new._capacity)
        new._stamp = stamp


def _budget(old: Any, new: Any) -> None:
    """The tokens of a token-form budget (at most the new maximum)."""
    from otel_resilience.retry_budget._core import TokenCore
    from otel_resilience.retry_budget.options import MILLI

    a, b = old._core, new._core
    if isinstance(a, TokenCore) and isinstance(b, TokenCore):
        tokens = a.tokens(0.0)
        with b._lock:
            b._tokens = min(round(tokens * MILLI), b._max)
