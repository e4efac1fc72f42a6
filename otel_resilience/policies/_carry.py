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
    from otel_resilience.retry_budget._core import TokenCore

    try:
        if isinstance(new, CircuitBreaker):
            new._core.adopt(old._core)
        elif isinstance(new, CircuitBreakerRegistry):
            for key, breaker in old._registry.items():
                new.get(key)._core.adopt(breaker._core)
        elif isinstance(new, RateLimiter):
            new._core.adopt(old._core)
        elif isinstance(new, RetryBudget) and type(old._core) is type(new._core) is TokenCore:
            new._core.adopt(old._core)  # a percent budget's window starts fresh
    except Exception:  # a reload never fails for this: the new object starts fresh
        _log.warning("otel-resilience: state of %r not carried over on reload", old, exc_info=True)
