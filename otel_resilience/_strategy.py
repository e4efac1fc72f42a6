"""The strategy contract: decisions, hooks, and the binding to a Pipeline.

Two kinds of strategies build on it:

- *Deciding* strategies (Retry, CircuitBreaker, and next Fallback, RateLimiter, Cache) only
  decide. They implement hooks (:class:`DecidingStrategy`) that return small decision values,
  and one sync and one async runner (``_runner``) drive every one of them.
- *Shaping* strategies (Timeout, Hedging, Bulkhead) change how the call executes. They keep an
  I/O-free core and override ``_run`` / ``_arun`` with thin adapters.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from otel_resilience._clock import SYSTEM_CLOCK, Clock
from otel_resilience._context import CallContext, CallShared
from otel_resilience._telemetry import Telemetry
from otel_resilience._validate import check_clock
from otel_resilience.errors import RejectedError

__all__ = [
    "Again",
    "CallContext",
    "CallShared",
    "Decision",
    "DecidingStrategy",
    "KEEP_STATE",
    "Fail",
    "Finish",
    "Prepare",
    "Strategy",
    "Substitute",
    "UsageError",
    "Wait",
]

T = TypeVar("T")


class UsageError(TypeError):
    """The pipeline was called the wrong way (a coroutine function through ``call()``...)."""


#: Errors that are no verdict on the dependency: strategies let them pass untouched.
_NO_VERDICT = (RejectedError, UsageError)


# -- decisions ---------------------------------------------------------------------------------


class Decision:
    """What a deciding strategy's hook asks its runner to do; ``None`` means "go on"."""

    __slots__ = ()


class Again(Decision):
    """Run the inner path again after ``delay`` seconds; ``state`` replaces the call's state."""

    __slots__ = ("delay", "state")

    def __init__(self, delay: float, state: object) -> None:
        self.delay = delay
        self.state = state


class Wait(Decision):
    """From ``enter``: sleep ``delay`` seconds, then ask ``enter`` again."""

    __slots__ = ("delay",)

    def __init__(self, delay: float) -> None:
        self.delay = delay


class Prepare(Decision):
    """From ``enter``: run ``run(ctx)`` (sync calls) or await ``arun(ctx)`` (async calls) first.

    What it returns stands for ``enter``'s answer (a state, or another entry decision), so
    work that must be awaited in async calls (a breaker's health probe) can come before the
    call without ``enter`` itself awaiting anything.
    """

    __slots__ = ("arun", "run")

    def __init__(
        self, run: Callable[[CallContext], Any], arun: Callable[[CallContext], Awaitable[Any]]
    ) -> None:
        self.run = run
        self.arun = arun


class Finish(Decision):
    """End this layer returning ``value`` (a cached or substitute value)."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value


class Fail(Decision):
    """End this layer raising ``error`` (chained to the attempt's exception, if any)."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


#: ``Substitute.state`` when the decision keeps the call's state as it is.
KEEP_STATE: Any = object()


class Substitute(Decision):
    """Call ``fn`` with the call's own arguments; its outcome goes through the hooks again.

    ``state``, when given, replaces the call's state (as :class:`Again`'s does), so a strategy
    without ``enter`` (nothing to pay on the success path) can start keeping state here.
    """

    __slots__ = ("fn", "state")

    def __init__(self, fn: Callable[..., Any], state: Any = KEEP_STATE) -> None:
        self.fn = fn
        self.state = state


# -- strategies --------------------------------------------------------------------------------

_GLOBAL_TELEMETRY = Telemetry()  # shared by strategies not yet in a pipeline: nothing per strategy


#: What :attr:`Strategy._peek` returns when it cannot answer a call on its own.
NO_ANSWER: Any = object()


class Strategy:
    """Base class of the strategies a :class:`~otel_resilience.Pipeline` composes.

    A strategy uses its pipeline's telemetry providers and, unless given its own, its clock.
    Adding one strategy to two pipelines is fine when they share clock and providers; with
    different ones it is an error (which one would it report to?).
    """

    __slots__ = ("_binding", "_clock", "_clock_given", "_telemetry")

    strategy_name = "strategy"

    def __init__(self, *, clock: Clock | None = None) -> None:
        check_clock("clock", clock)
        self._clock_given = clock is not None
        self._clock: Clock = clock if clock is not None else SYSTEM_CLOCK
        self._telemetry = _GLOBAL_TELEMETRY
        self._binding: tuple[str, object, tuple[object, ...]] | None = None

    @property
    def clock(self) -> Clock:
        """The clock this strategy reads and sleeps on."""
        return self._clock

    def _bind(self, pipeline_name: str, clock: Clock, telemetry: Telemetry) -> bool:
        """Join a pipeline; ``True`` the first time. Conflicting bindings raise ValueError."""
        if self._binding is not None:
            first, first_clock, first_providers = self._binding
            if first_clock is not clock and not self._clock_given:
                raise ValueError(
                    f"{self!r} already belongs to pipeline {first!r} with another clock; "
                    "give each pipeline its own strategy instance"
                )
            ours = telemetry.providers
            if any(a is not b for a, b in zip(first_providers, ours, strict=True)):
                raise ValueError(
                    f"{self!r} already belongs to pipeline {first!r} with other telemetry "
                    "providers; give each pipeline its own strategy instance"
                )
            return False
        self._binding = (pipeline_name, clock, telemetry.providers)
        if not self._clock_given:
            self._clock = clock
        self._telemetry = telemetry
        return True

    def _peek(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """An I/O-free answer to a call before the pipeline builds it (a cache hit).

        Return :data:`NO_ANSWER` to let the call run. A pipeline asks only its outermost
        strategy, and only when nothing records telemetry (an answer then has nothing to
        report), and only when the strategy's class overrides this method.
        """
        return NO_ANSWER

    def _passthrough(self) -> bool:
        """``True`` when this strategy leaves every call untouched (a Chaos switched off).

        A pipeline builds no layer for it then, so it costs nothing per call; it is asked once,
        when the pipeline is built.
        """
        return False

    def _run(self, nxt: Callable[[], T], ctx: CallContext) -> T:
        raise NotImplementedError

    async def _arun(self, nxt: Callable[[], Awaitable[T]], ctx: CallContext) -> T:
        raise NotImplementedError


class DecidingStrategy(Strategy):
    """A strategy that only decides; the shared runners (sync and async) carry out its decisions.

    Hooks, each called with the call's context and the per-call ``state``:

    - ``enter(ctx)``: before the inner call. Return the per-call state, or raise a
      :class:`~otel_resilience.RejectedError` to refuse, or return a :class:`Finish` /
      :class:`Fail` to end at once, or a :class:`Wait` to be asked again after a delay, or a
      :class:`Prepare` to run something first (its answer then stands for ``enter``'s). A
      strategy that needs no state sets ``self._entry = None`` and is not asked.
    - ``on_success(ctx, state, result)``: a result that is no failure. Set
      ``self._success = None`` when it has nothing to do (then it costs nothing).
    - ``on_failure(ctx, state, exc, result)``: an exception (``exc``), or a result that is a
      failure (``exc`` is ``None``) by ``result_predicate`` or else the pipeline's.
    - ``on_again(ctx, state)``: after an :class:`Again`'s sleep, before the inner call reruns.
    - ``on_abandon(ctx, state)``: the call left with no verdict (a refusal or misuse from
      further in, a cancellation, an interrupt, a predicate that raised): release what
      ``enter`` took.

    ``on_success`` and ``on_failure`` return ``None`` to pass the outcome on, or
    :class:`Again`, :class:`Finish`, :class:`Fail` or :class:`Substitute`.
    """

    __slots__ = ("_entry", "_success", "result_predicate")

    #: ``True`` when refusals from further in (a ``RejectedError``: an open breaker, a full
    #: bulkhead) reach ``on_failure`` instead of ``on_abandon`` (a Fallback serves them).
    sees_refusals: bool = False

    def __init__(
        self, *, clock: Clock | None = None, result_predicate: Callable[[Any], bool] | None = None
    ) -> None:
        super().__init__(clock=clock)
        self.result_predicate = result_predicate
        # Plain functions (called with the strategy), or None to skip: no bound methods, so no
        # reference cycle and no bytes per strategy beyond the two slots.
        self._entry: Callable[[Any, CallContext], Any] | None = type(self).enter
        self._success: Callable[[Any, CallContext, Any, Any], Decision | None] | None = type(
            self
        ).on_success

    def enter(self, ctx: CallContext) -> Any:
        """Before the inner call: the per-call state (see the class docstring)."""
        return None

    def on_success(self, ctx: CallContext, state: Any, result: Any) -> Decision | None:
        """A result that is no failure."""
        return None

    def on_failure(
        self, ctx: CallContext, state: Any, exc: Exception | None, result: Any
    ) -> Decision | None:
        """An exception, or a result that is a failure."""
        return None

    def on_again(self, ctx: CallContext, state: Any) -> None:
        """After an Again's sleep, before the inner call runs again."""
        return None

    def on_abandon(self, ctx: CallContext, state: Any) -> None:
        """The call left this strategy with no verdict: release what ``enter`` took."""
        return None
