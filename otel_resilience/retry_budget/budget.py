"""RetryBudget: a limit on retries shared by many Retry strategies, against retry storms."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from otel_resilience import semconv
from otel_resilience._clock import SYSTEM_CLOCK, Clock
from otel_resilience._validate import check_clock
from otel_resilience.retry_budget._core import PercentCore, TokenCore
from otel_resilience.retry_budget.options import BudgetKind, RetryBudgetOptions
from otel_resilience.store.config import resolve_store

if TYPE_CHECKING:
    from opentelemetry.metrics import Observation

__all__ = ["RetryBudget"]


class RetryBudget:
    """Caps the retries of every :class:`~otel_resilience.Retry` given it (``Retry(budget=b)``).

    By default (``kind="tokens"``) it is gRPC's retry throttling: the budget holds up to
    ``max_tokens`` tokens and starts full; every failed attempt that was worth retrying (the
    first and the last included) costs one token, every successful attempt gives back
    ``token_ratio``; while tokens are at or below half of ``max_tokens`` no retry starts: the
    failure reaches the caller at once. A dependency that fails everything thus sees at most
    ``max_tokens / 2`` retries, however many callers, until successes refill the budget.

    With ``kind="percent"`` (or :meth:`percent`, the Finagle/Envoy form), retries may be at
    most ``percent`` % of the requests (first attempts) of the last ``window`` seconds, plus
    ``min_retries_per_second * window``; time is read on ``clock`` (by default the clock of
    the first pipeline whose Retry uses the budget).

    One budget is meant to be shared: by the Retries of every pipeline calling one dependency,
    across threads and asyncio tasks. Its ``name`` (by default the first pipeline's name)
    labels the ``resilience.retry_budget.tokens`` gauge.

    With ``store=`` a shared store (token kind only), budgets of the same name in every
    process share one token count: each decides on its local copy, which the store's sync
    thread refreshes from the fleet every ``sync_interval`` (a failure triggers a sync at once).
    See docs/shared-state.md.
    """

    __slots__ = ("__weakref__", "_clock", "_core", "_link", "_name", "_store", "_tally", "options")

    def __init__(
        self,
        *,
        max_tokens: float = 10,
        token_ratio: float = 0.1,
        kind: BudgetKind = "tokens",
        percent: float = 20.0,
        min_retries_per_second: float = 10.0,
        window: float = 10.0,
        name: str | None = None,
        clock: Clock | None = None,
        store: Any = None,
    ) -> None:
        if name is not None and (not isinstance(name, str) or not name):
            raise ValueError(f"name must be a non-empty string or None, got {name!r}")
        check_clock("clock", clock)
        self.options = RetryBudgetOptions(
            kind=kind,
            max_tokens=max_tokens,
            token_ratio=token_ratio,
            percent=percent,
            min_retries_per_second=min_retries_per_second,
            window=window,
        )
        self._name = name
        self._clock = clock
        self._core: TokenCore | PercentCore
        if kind == "tokens":
            self._core = core = TokenCore(self.options)
            #: The success path of the token kind is ``next(_tally)``: no lock, no clock.
            self._tally: Any = core.successes
        else:
            self._core = PercentCore(self.options)
            self._tally = None
        self._store = resolve_store("store", store)
        self._link: Any = None
        if self._store is not None:
            if kind != "tokens":
                if store is not None:  # the process default does not apply to this kind
                    raise ValueError('store must be None for kind="percent" (tokens only)')
                self._store = None
            else:
                # Successes go to the fleet: a list the sync drains (still one C call each).
                self._tally = []
                if name is not None:
                    self._link = self._store.link_budget(self)

    @classmethod
    def percent(
        cls,
        *,
        percent: float = 20.0,
        min_retries_per_second: float = 10.0,
        window: float = 10.0,
        name: str | None = None,
        clock: Clock | None = None,
    ) -> RetryBudget:
        """The Finagle/Envoy form: ``RetryBudget(kind="percent", ...)``."""
        return cls(
            kind="percent",
            percent=percent,
            min_retries_per_second=min_retries_per_second,
            window=window,
            name=name,
            clock=clock,
        )

    @property
    def name(self) -> str:
        """The budget's name (its first pipeline's name when none was given)."""
        return self._name or "retry_budget"

    @property
    def kind(self) -> BudgetKind:
        """``"tokens"`` or ``"percent"``."""
        return self.options.kind

    def tokens(self) -> float:
        """Tokens left (``kind="tokens"``), or retries that may still start in the window."""
        return self._core.tokens(self._now(None))

    def token_observations(self) -> Iterator[Observation]:
        """The observation of the ``resilience.retry_budget.tokens`` gauge."""
        from opentelemetry.metrics import Observation

        yield Observation(self.tokens(), {semconv.RETRY_BUDGET_NAME: self.name})

    def __repr__(self) -> str:
        o = self.options
        if o.kind == "tokens":
            return (
                f"RetryBudget(name={self.name!r}, max_tokens={o.max_tokens!r}, "
                f"token_ratio={o.token_ratio!r})"
            )
        return (
            f"RetryBudget.percent(name={self.name!r}, percent={o.percent!r}, "
            f"min_retries_per_second={o.min_retries_per_second!r}, window={o.window!r})"
        )

    # -- used by Retry ---------------------------------------------------------------------------

    def _now(self, clock: Clock | None) -> float:
        if self._tally is not None:
            return 0.0  # the token kind never reads time
        return (self._clock or clock or SYSTEM_CLOCK).monotonic()

    def _success(self, first: bool, clock: Clock) -> None:
        self._core.success(first, self._now(clock))

    def _request(self, clock: Clock) -> None:
        """A first attempt failed in a way not worth retrying: no token, but a request."""
        if self._tally is None:
            self._core.success(True, self._now(clock))

    def _failure(self, first: bool, retry: bool, clock: Clock) -> bool:
        allowed = self._core.failure(first, retry, self._now(clock))
        link = self._link
        if link is not None:
            link.failure()
        return allowed

    def _adopt(self, pipeline_name: str, meter_provider: Any, clock: Clock) -> None:
        """A Retry using this budget joined a pipeline: name the budget, report its gauge."""
        from otel_resilience._telemetry import track_budget

        if self._name is None:
            self._name = pipeline_name
        if self._store is not None and self._link is None:
            self._link = self._store.link_budget(self)
        if self._clock is None:  # the first pipeline's clock, unless one was given
            self._clock = clock
        track_budget(meter_provider, self)
