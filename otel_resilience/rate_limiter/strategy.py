"""RateLimiter: at most ``rate`` calls per ``per`` seconds (token bucket), refuse or wait."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from otel_resilience import semconv
from otel_resilience._clock import Clock
from otel_resilience._strategy import CallContext, Strategy
from otel_resilience._telemetry import Telemetry
from otel_resilience._validate import check_count
from otel_resilience.errors import RateLimitedError
from otel_resilience.rate_limiter._core import BucketCore, NoPermit
from otel_resilience.rate_limiter._shared import FleetPermits
from otel_resilience.rate_limiter.options import RateLimiterOptions
from otel_resilience.store._protocol import Grant
from otel_resilience.store.config import resolve_store

__all__ = ["RateLimiter"]

T = TypeVar("T")
#: A waiter's reservation: the local bucket's ticket, or the fleet's grant.
Ticket = int | Grant


class RateLimiter(Strategy):
    """Let at most ``rate`` calls start per ``per`` seconds, in bursts of up to ``burst``.

    A token bucket on the strategy's clock: it starts full (``burst`` permits, by default
    ``rate`` rounded down) and refills at ``rate / per`` permits a second. A call that finds
    it empty waits for its permit when that comes within ``max_wait`` seconds (and before the
    call's deadline, if one is published), else it is refused at once with
    :class:`~otel_resilience.errors.RateLimitedError` carrying ``retry_after``. Waiters are
    served in arrival order. One limiter is shared by all its callers: sync and async, threads
    and tasks, every pipeline it is in.

    It is a *shaping* strategy (``_run`` / ``_arun``): a waiter holds a reservation while it
    sleeps and must give it back when cancelled during that sleep, which the deciding runner's
    ``Wait`` decision has no hook for.

    With ``store=`` a shared store, limiters of the same name in every process share one
    budget (GCRA, one round trip per call; ``prefetch=k`` takes ``k`` permits per round trip);
    when the store cannot answer, each process falls back to its own bucket at the full rate.
    See docs/shared-state.md.
    """

    __slots__ = ("_core", "_fleet", "_max_wait", "_name", "options")

    strategy_name = semconv.STRATEGY_RATE_LIMITER

    def __init__(
        self,
        *,
        rate: float,
        per: float = 1.0,
        burst: int | None = None,
        max_wait: float = 0.0,
        name: str | None = None,
        clock: Clock | None = None,
        store: Any = None,
        prefetch: int = 1,
        _options: RateLimiterOptions | None = None,
    ) -> None:
        if name is not None and (not isinstance(name, str) or not name):
            raise ValueError(f"name must be a non-empty string or None, got {name!r}")
        if _options is not None:  # a registry shares one validated options object
            self.options = _options
        else:
            self.options = RateLimiterOptions(rate=rate, per=per, burst=burst, max_wait=max_wait)
        super().__init__(clock=clock)
        self._name = name
        self._max_wait = self.options.max_wait
        self._core = BucketCore(self.options.capacity, self.options.per_second)
        check_count("prefetch", prefetch, maximum=self.options.capacity)
        shared = resolve_store("store", store)
        self._fleet = (
            None if shared is None else FleetPermits(shared, prefetch, self.options.per_second)
        )

    @property
    def name(self) -> str:
        """The limiter's name (its pipeline's name when none was given)."""
        return self._name or "rate_limiter"

    @property
    def waiting(self) -> int:
        """Calls sleeping for their permit now."""
        return self._core.waiting

    def available(self) -> float:
        """Permits free now (negative while waiters hold reserved permits)."""
        return self._core.available(self._clock.monotonic())

    def __repr__(self) -> str:
        o = self.options
        return f"RateLimiter(name={self.name!r}, rate={o.rate!r}, per={o.per!r})"

    def _bind(self, pipeline_name: str, clock: Clock, telemetry: Telemetry) -> bool:
        if not super()._bind(pipeline_name, clock, telemetry):
            return False
        if self._name is None:
            self._name = pipeline_name
        return True

    # -- admission (shared by the sync and async adapters) --------------------------------------

    def _max_wait_of(self, ctx: CallContext) -> float:
        max_wait = self._max_wait
        if max_wait:  # never wait past the call's deadline: it would be refused anyway
            left = ctx.time_left()
            if left is not None and left < max_wait:
                max_wait = left if left > 0.0 else 0.0
        return max_wait

    def _granted(self, ctx: CallContext, grant: Grant) -> tuple[float, Ticket]:
        """A fleet grant as ``(delay, ticket)``: the ticket is the grant (to give it back)."""
        ok, seconds = grant
        if not ok:
            raise self._rejected(ctx, seconds)
        return seconds, grant

    def _admit(self, ctx: CallContext) -> tuple[float, Ticket]:
        """``(delay, ticket)`` of this call's permit, or RateLimitedError."""
        max_wait = self._max_wait_of(ctx)
        fleet = self._fleet
        if fleet is not None:
            grant = fleet.acquire(self, self._clock.monotonic(), max_wait)
            if grant is not None:
                return self._granted(ctx, grant)
        return self._local(ctx, max_wait)

    async def _aadmit(self, ctx: CallContext) -> tuple[float, Ticket]:
        max_wait = self._max_wait_of(ctx)
        fleet = self._fleet
        if fleet is not None:
            grant = await fleet.aacquire(self, self._clock.monotonic(), max_wait)
            if grant is not None:
                return self._granted(ctx, grant)
        return self._local(ctx, max_wait)

    def _local(self, ctx: CallContext, max_wait: float) -> tuple[float, int]:
        try:
            return self._core.reserve(self._clock.monotonic(), max_wait)
        except NoPermit as no:
            raise self._rejected(ctx, no.retry_after) from None

    def _rejected(self, ctx: CallContext, retry_after: float) -> RateLimitedError:
        ctx.set_outcome(semconv.OUTCOME_REJECTED)
        if ctx.span is not None:
            ctx.span.add_event(
                semconv.SPAN_EVENT_RATE_LIMITER_REJECTED,
                {
                    semconv.RATE_LIMITER_NAME: self.name,
                    semconv.RATE_LIMITER_RETRY_AFTER: retry_after,
                },
            )
        ctx.inst.count(ctx.pipeline, self.strategy_name, semconv.EVENT_RATE_LIMITED)
        return RateLimitedError(self.name, retry_after)

    def _waited(self, ctx: CallContext, delay: float, ticket: Ticket) -> None:
        if isinstance(ticket, int):
            self._core.done(ticket)
        if ctx.span is not None:
            ctx.span.add_event(
                semconv.SPAN_EVENT_RATE_LIMITER_WAITED,
                {semconv.RATE_LIMITER_NAME: self.name, semconv.RATE_LIMITER_WAIT: delay},
            )

    def _give_back(self, ticket: Ticket, in_loop: bool) -> None:
        # Both sides return the permit only if nobody reserved after it: the rate bound holds.
        if isinstance(ticket, int):
            self._core.cancel(ticket)
        elif self._fleet is not None:
            self._fleet.give_back(ticket, in_loop)

    # -- adapters -------------------------------------------------------------------------------

    def _run(self, nxt: Callable[[], T], ctx: CallContext) -> T:
        delay, ticket = self._admit(ctx)
        if delay:
            try:
                self._clock.sleep(delay)
            except BaseException:  # interrupted while waiting: give the reservation back
                self._give_back(ticket, in_loop=False)
                raise
            self._waited(ctx, delay, ticket)
        return nxt()

    async def _arun(self, nxt: Callable[[], Awaitable[T]], ctx: CallContext) -> T:
        if self._fleet is not None:
            delay, ticket = await self._aadmit(ctx)
        else:
            delay, ticket = self._admit(ctx)
        if delay:
            try:
                await self._clock.asleep(delay)
            except BaseException:  # cancelled while waiting: give the reservation back
                self._give_back(ticket, in_loop=True)
                raise
            self._waited(ctx, delay, ticket)
        return await nxt()
