"""The fleet rate limiter's side of the Redis store: GCRA grants, and giving one back.

A grant is a :data:`~otel_resilience.store.Grant` tuple; one that reserved permits is a
:class:`Reservation`, which also remembers the theoretical arrival time (TAT) it left on the
server. A caller cancelled while waiting for its permit gives it back with :func:`release`:
the TAT moves back by the permits' emission intervals only if it is still the one this grant
set, that is if nobody was admitted after it (the local bucket's rule, and Go's
``rate.Reservation.Cancel``): otherwise the slot stays spent and the rate bound holds.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from otel_resilience.store._protocol import Grant

if TYPE_CHECKING:
    from otel_resilience.store.redis_store import RedisStateStore

__all__ = ["Reservation", "aacquire", "acquire", "arelease", "release"]

#: Release tasks in flight: the loop holds tasks weakly.
_RELEASING: set[asyncio.Task[Any]] = set()


class Reservation(tuple[bool, float]):
    """``(True, seconds)`` from the fleet's GCRA, with what it takes to give it back."""

    store: RedisStateStore
    name: str
    keys: list[str]
    #: The TAT this grant left (µs, as stored) and the µs it added.
    tat: str
    amount: str


def _keys(store: RedisStateStore, name: str) -> list[str]:
    return [f"{store.options.prefix}:rl:{{{name}}}"]


def _args(per_second: float, burst: int, max_wait: float, n: int) -> list[Any]:
    return [f"{1e6 / per_second:.3f}", burst, round(max_wait * 1e6), n]


def _grant(store: RedisStateStore, name: str, keys: list[str], reply: Any) -> Grant:
    code = int(reply[0])
    if code < 0:
        return False, (-code - 1) / 1e6
    if code == 0:  # no wait: nothing a cancellation could give back
        return True, 0.0
    grant = Reservation((True, code / 1e6))
    grant.store, grant.name, grant.keys = store, name, keys
    grant.tat, grant.amount = _text(reply[1]), _text(reply[2])
    return grant


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def acquire(
    store: RedisStateStore, name: str, per_second: float, burst: int, max_wait: float, n: int
) -> Grant | None:
    """Take ``n`` permits of limiter ``name`` (one Lua call), or None when the store is down."""
    keys, args = _keys(store, name), _args(per_second, burst, max_wait, n)
    reply = store.run(name, lambda c, s: s["gcra"](keys=keys, args=args))
    return None if reply is None else _grant(store, name, keys, reply)


async def aacquire(
    store: RedisStateStore, name: str, per_second: float, burst: int, max_wait: float, n: int
) -> Grant | None:
    """:func:`acquire` without blocking the loop."""
    keys, args = _keys(store, name), _args(per_second, burst, max_wait, n)
    reply = await store.arun(name, lambda c, s: s["gcra"](keys=keys, args=args))
    return None if reply is None else _grant(store, name, keys, reply)


def release(grant: Grant) -> bool:
    """Give back a fleet reservation (sync): True if the server took it back."""
    if not isinstance(grant, Reservation):
        return False
    args = [grant.tat, grant.amount]
    done = grant.store.run(grant.name, lambda c, s: s["gcra_release"](keys=grant.keys, args=args))
    return bool(done)


def arelease(grant: Grant) -> None:
    """Give back a fleet reservation from a cancelled task: in a task of its own, so the
    cancellation goes on at once, and outside the call's deadline (which may be why it was
    cancelled); a server that cannot answer keeps the slot spent."""
    if not isinstance(grant, Reservation):
        return
    task = asyncio.get_running_loop().create_task(_arelease(grant))
    _RELEASING.add(task)
    task.add_done_callback(_RELEASING.discard)


async def _arelease(grant: Reservation) -> bool:
    from otel_resilience import deadline

    deadline._DEADLINE.set(None)  # this task's own context: the caller's is untouched
    args = [grant.tat, grant.amount]
    done = await grant.store.arun(
        grant.name, lambda c, s: s["gcra_release"](keys=grant.keys, args=args)
    )
    return bool(done)
