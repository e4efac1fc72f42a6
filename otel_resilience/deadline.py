"""Deadline propagation: the time by which the current operation must be over.

Every :class:`~otel_resilience.timeout.Timeout` and every Retry with a ``deadline`` publish an
absolute deadline in a context variable while what they bound runs; nested ones keep the
earliest. Code called inside (an HTTP or LLM client) reads :func:`remaining` to cap its own
timeouts. A deadline is stored with the clock that set it and read on that clock, so a
Timeout on a :class:`~otel_resilience.testing.FakeClock` publishes fake time.

The variable is a :class:`contextvars.ContextVar`: asyncio tasks inherit the deadline of the
code that created them, threads started with a copied context too; plain new threads do not.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING

from otel_resilience._clock import SYSTEM_CLOCK
from otel_resilience._validate import check_clock, check_seconds

if TYPE_CHECKING:
    from otel_resilience._clock import Clock

__all__ = ["remaining", "scope"]

_log = logging.getLogger(__name__)

#: ``(at, clock)``: the earliest deadline in force, in monotonic seconds on ``clock``.
_DEADLINE: ContextVar[tuple[float, Clock] | None] = ContextVar(
    "otel_resilience_deadline", default=None
)


def remaining() -> float | None:
    """Seconds left before the current deadline (never negative), or ``None`` without one."""
    current = _DEADLINE.get()
    if current is None:
        return None
    left = current[0] - current[1].monotonic()
    return left if left > 0.0 else 0.0


@contextmanager
def scope(seconds: float, *, clock: Clock | None = None) -> Iterator[None]:
    """Publish a deadline ``seconds`` from now (on ``clock``) for the ``with`` block.

    An earlier deadline already in force stays in force. The block is not interrupted: this
    only tells :func:`remaining`, Retry and instrumented clients how much time is left.
    """
    check_seconds("seconds", seconds)
    check_clock("clock", clock)
    use = clock if clock is not None else SYSTEM_CLOCK
    token = tighten(use.monotonic() + seconds, use)
    try:
        yield
    finally:
        restore(token)


# -- internal helpers (CallContext and the strategies build on them) ---------------------------


def current() -> tuple[float, Clock] | None:
    """The deadline in force as ``(at, clock)``, or ``None``."""
    return _DEADLINE.get()


def deadline_on(clock: Clock) -> float | None:
    """The deadline in force as a monotonic time on ``clock`` (converted if set on another)."""
    current = _DEADLINE.get()
    if current is None:
        return None
    at, its_clock = current
    if its_clock is clock:
        return at
    return clock.monotonic() + (at - its_clock.monotonic())


def tighten(at: float, clock: Clock) -> Token[tuple[float, Clock] | None]:
    """Make ``at`` (on ``clock``) the deadline unless an earlier one stands; returns the token."""
    current = _DEADLINE.get()
    if current is not None:
        cur_at, cur_clock = current
        if cur_clock is clock:
            earlier = cur_at <= at
        else:  # different clocks: compare the time left on each
            earlier = cur_at - cur_clock.monotonic() <= at - clock.monotonic()
        if earlier:
            return _DEADLINE.set(current)
    return _DEADLINE.set((at, clock))


def restore(token: Token[tuple[float, Clock] | None]) -> None:
    """Undo :func:`tighten`; a token from another context is ignored (logged), not raised."""
    try:
        _DEADLINE.reset(token)
    except ValueError:  # created in another context (a task or thread): nothing of ours to undo
        _log.debug("otel-resilience: deadline token from another context", exc_info=True)
