"""The link between one CircuitBreaker and the fleet's copy of its state in Redis.

The breaker keeps deciding on its local core. The link only counts: a success is
``next(link.ok)`` (one C call, atomic under the GIL, no lock, no I/O); failures and slow calls
take a small lock. The store's sync thread drains the counts every ``sync_interval`` (a
failure or a local transition wakes it at once) into one Lua call per breaker, which adds them
to the fleet's window, trips the fleet's breaker, and answers the fleet's state; a new fleet
version is applied to the local core (:func:`follow`). A link with nothing to send is skipped
(:meth:`BreakerLink.dirty`): the round reads the fleet's change log once instead, and fetches
only the breakers that moved (see ``_sync.py``).
"""

from __future__ import annotations

import threading
import weakref
from collections import deque
from itertools import count
from typing import TYPE_CHECKING, Any

from otel_resilience.circuit_breaker._core import CLOSED, HALF_OPEN, OPEN, BreakerCore, Transition

if TYPE_CHECKING:
    from otel_resilience.circuit_breaker.strategy import CircuitBreaker
    from otel_resilience.store.redis_store import RedisStateStore

__all__ = ["BreakerLink", "follow"]

WANT_OPEN = "open"
WANT_PROBE_OK = "probe_ok"


class BreakerLink:
    """Counts of one breaker not yet sent, local decisions to send, the fleet version seen."""

    __slots__ = (
        "__weakref__",
        "_breaker",
        "_fails",
        "_lock",
        "_ok_seen",
        "_oks",
        "_other",
        "_slows",
        "fresh",
        "keys",
        "name",
        "ok",
        "static",
        "store",
        "ver",
        "wants",
    )

    script = "sync"

    def __init__(self, breaker: CircuitBreaker, store: RedisStateStore, name: str) -> None:
        self._breaker = weakref.ref(breaker)
        self.store = store
        self.name = name
        base = f"{store.options.prefix}:cb:{{{name}}}"  # one hash slot per breaker (Cluster)
        fleet = f"{store.options.prefix}:cb:"
        self.keys = (base, base + ":w", base + ":p", base + ":l", fleet + "fleet", fleet + "log")
        self.static = _static_args(breaker, store.options.key_ttl)
        self.reset()

    def reset(self) -> None:
        """Fresh counts and no fleet version seen (new link, or a forked child)."""
        #: The success path: ``next(link.ok)``.
        self.ok = count()
        self._ok_seen = -1
        self._oks = 0  # successes read off ``ok`` and not sent yet (the sync thread's alone)
        #: Never synced (or its last sync failed): the next round reads the fleet's state.
        self.fresh = True
        self._lock = threading.Lock()
        self._other = self._fails = self._slows = 0
        self.wants: deque[tuple[str, int]] = deque(maxlen=8)
        self.ver = 0

    @property
    def breaker(self) -> CircuitBreaker | None:
        """The breaker, while it lives."""
        return self._breaker()

    def outcome(self, failed: bool, slow: bool) -> None:
        """A call that was not a plain success; a failure wakes the sync thread."""
        with self._lock:
            self._other += 1
            self._fails += failed
            self._slows += slow
        if failed or slow:
            self.store.kick()

    def want(self, kind: str) -> None:
        """Send a local decision (``open``, ``probe_ok``) made in the current fleet version."""
        self.wants.append((kind, self.ver))
        self.store.kick()

    def _take_oks(self) -> None:
        seen = next(self.ok)  # each read takes one number itself: hence the -1
        self._oks += seen - self._ok_seen - 1
        self._ok_seen = seen

    def dirty(self) -> bool:
        """Whether the next round must send this link: counts, a decision, or no state yet.

        Lock-free (a count racing with this read is seen next round; a failure also kicks)."""
        self._take_oks()
        return bool(self.fresh or self._oks or self._other or self.wants)

    def batch(self) -> list[list[Any]]:
        """The script arguments of one sync (the counts go with the first decision)."""
        self._take_oks()
        calls, self._oks = self._oks, 0
        with self._lock:
            calls += self._other
            fails, slows = self._fails, self._slows
            self._other = self._fails = self._slows = 0
        wants = [self.wants.popleft() for _ in range(len(self.wants))] or [("", self.ver)]
        out = []
        for kind, base in wants:
            out.append(
                [calls, fails, slows, *self.static[:8], kind, base, *self.static[8:], self.name]
            )
            calls = fails = slows = 0
        return out

    def requeue(self, args: list[list[Any]]) -> None:
        """A sync failed: keep its decisions for the next one (counts are dropped), and read
        the fleet's state again then (a change may have gone by meanwhile)."""
        self.fresh = True
        for a in args:
            if a[11]:
                self.wants.append((a[11], a[12]))

    def apply(self, reply: list[Any], now: float) -> None:
        """Take the fleet's state into the local core when its version moved."""
        st, ver, remaining, opens = (int(x) for x in reply)
        self.fresh = False
        if ver == self.ver:
            return
        self.ver = ver
        breaker = self._breaker()
        if breaker is None:
            return
        transition = follow(breaker._core, st, remaining / 1000.0, opens, now)
        if transition is not None:
            breaker._emit(transition, None)


def _static_args(breaker: CircuitBreaker, key_ttl: float) -> list[Any]:
    opts = breaker.options
    width: float
    if opts.window_type == "count":
        width, size, span = 0.0, int(opts.window), 0.0
    else:
        width, size, span = (
            opts.window * 1000.0 / opts.window_buckets,
            opts.window_buckets,
            opts.window,
        )
    longest = opts.max_break_duration or opts.break_duration
    if opts.break_duration_multiplier > 1.0 and opts.max_break_duration is None:
        longest = key_ttl
    ttl = max(key_ttl, 2.0 * span, 2.0 * longest)
    slow = opts.slow_call_duration
    sratio = opts.slow_call_ratio if isinstance(slow, (int, float)) else -1
    return [
        f"{width:.3f}",
        size,
        opts.minimum_calls,
        opts.failure_ratio,
        sratio,
        round(opts.break_duration * 1000),
        opts.break_duration_multiplier,
        round((opts.max_break_duration or 0.0) * 1000),
        opts.half_open_max_calls,
        round(ttl * 1000),
    ]


def follow(
    core: BreakerCore, st: int, remaining: float, opens: int, now: float
) -> Transition | None:
    """Make the local core agree with the fleet: closed, or open for ``remaining`` seconds
    (an elapsed break: open until now, so the next call half-opens and asks for a probe slot).
    An isolated breaker stays isolated."""
    with core._lock or core._new_lock():
        if core.isolated:
            return None
        state = core.state
        if st == 0:
            return None if state is CLOSED else core._move(CLOSED, now)
        until = now + max(remaining, 0.0)
        if state is HALF_OPEN and remaining <= 0.0:
            return None  # already probing this opening
        transition = None if state is OPEN else core._move(OPEN, now)
        core.open_until = until
        core.opens_in_row = opens
        return transition
