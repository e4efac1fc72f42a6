"""The strategy contract: the per-call context, decisions, and the binding to a Pipeline.

Two kinds of strategies build on it:

- *Deciding* strategies (Retry, CircuitBreaker, and next Fallback, RateLimiter, Cache) only
  decide. They implement hooks (:class:`DecidingStrategy`) that return small decision values,
  and one sync and one async runner (``_runner``) drive every one of them.
- *Shaping* strategies (Timeout, Hedging, Bulkhead) change how the call executes. They keep an
  I/O-free core and override ``_run`` / ``_arun`` with thin adapters.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Any, TypeVar

from otel_resilience import semconv
from otel_resilience._clock import SYSTEM_CLOCK, Clock
from otel_resilience._telemetry import Instruments, Telemetry
from otel_resilience._util import error_type, result_error_type
from otel_resilience._validate import check_clock
from otel_resilience.classify._results import is_http_failure, plain_types
from otel_resilience.errors import RejectedError

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from otel_resilience.classify import ErrorClassifier, ErrorInfo

__all__ = [
    "Again",
    "CallContext",
    "CallShared",
    "Decision",
    "DecidingStrategy",
    "Fail",
    "Finish",
    "Strategy",
    "Substitute",
    "UsageError",
    "Wait",
    "no_verdict",
]

_log = logging.getLogger(__name__)
T = TypeVar("T")

#: The deadline of the innermost call in progress, in monotonic seconds on its pipeline's clock.
_DEADLINE: ContextVar[float | None] = ContextVar("otel_resilience_deadline", default=None)


class UsageError(TypeError):
    """The pipeline was called the wrong way (a coroutine function through ``call()``...)."""


#: Errors that are no verdict on the dependency: strategies let them pass untouched.
_NO_VERDICT = (RejectedError, UsageError)


def no_verdict(exc: BaseException) -> bool:
    """Whether ``exc`` is a refusal or a misuse: never retried, never a breaker failure."""
    return isinstance(exc, _NO_VERDICT)


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


class Substitute(Decision):
    """Call ``fn`` with the call's own arguments; its outcome goes through the hooks again."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn


# -- the call ----------------------------------------------------------------------------------


class CallShared:
    """What every call of one pipeline shares: its name, clock, classifier and predicate."""

    __slots__ = ("classifier", "clock", "default_predicate", "is_failure_result", "name")

    def __init__(
        self,
        name: str,
        clock: Clock,
        classifier: ErrorClassifier,
        is_failure_result: Callable[[Any], bool] | None,
    ) -> None:
        self.name = name
        self.clock = clock
        self.classifier = classifier
        self.default_predicate = is_failure_result is None
        self.is_failure_result = is_failure_result or is_http_failure


class CallContext:
    """One call through a pipeline, as its strategies see it.

    ``fn``, ``args`` and ``kwargs`` are the protected call; ``clock`` the pipeline's clock;
    ``deadline`` the monotonic time (on ``clock``) by which the call must be over, or ``None``.
    A strategy may read it and, around what it runs, tighten it with :meth:`tighten_deadline`
    (restoring it with :meth:`restore_deadline`). The deadline lives in a context variable,
    so concurrent attempts (tasks, or threads run in a copied context) each see their own, and
    code called inside the pipeline (an instrumented client) can read it too.
    ``span`` is the pipeline span when it records, else ``None``: strategies test it before any
    telemetry work. ``attempts`` counts the calls that reached ``fn``.

    Strategies keep per-call state in their own locals (the runners hold it), never here, so
    concurrent attempts of one call (hedging) do not race on shared fields.
    """

    __slots__ = (
        "_classified",
        "_verdict",
        "args",
        "attempts",
        "failed_result",
        "fn",
        "inst",
        "kwargs",
        "outcome",
        "shared",
        "span",
    )

    def __init__(
        self,
        shared: CallShared,
        inst: Instruments,
        span: Span | None,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        self.shared = shared
        self.inst = inst
        self.span = span
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.attempts = 0
        self.outcome: str | None = None
        # One tuple each, replaced whole: a concurrent attempt never sees half an update.
        self._classified: tuple[object, object, ErrorInfo] | None = None
        self._verdict: tuple[object, bool | None] | None = None
        #: ``(result, info)`` of a returned value a strategy judged a failure and passed on.
        self.failed_result: tuple[object, ErrorInfo] | None = None

    @property
    def pipeline(self) -> str:
        """The pipeline's name."""
        return self.shared.name

    @property
    def clock(self) -> Clock:
        """The pipeline's clock."""
        return self.shared.clock

    @property
    def classifier(self) -> ErrorClassifier:
        """The pipeline's classifier."""
        return self.shared.classifier

    def set_outcome(self, outcome: str) -> None:
        """Report the call's outcome; only the values in ``semconv.OUTCOMES`` are valid."""
        if outcome not in semconv.OUTCOMES:
            raise ValueError(f"outcome must be one of {sorted(semconv.OUTCOMES)}, got {outcome!r}")
        self.outcome = outcome

    @property
    def deadline(self) -> float | None:
        """The monotonic time (on the pipeline's clock) the call must end by, or ``None``."""
        return _DEADLINE.get()

    def tighten_deadline(self, at: float) -> Token[float | None]:
        """Make ``at`` the deadline unless an earlier one stands; restore with the token."""
        current = _DEADLINE.get()
        return _DEADLINE.set(at if current is None or at < current else current)

    def restore_deadline(self, token: Token[float | None]) -> None:
        """Undo :meth:`tighten_deadline` (in the same context)."""
        _DEADLINE.reset(token)

    def time_left(self) -> float | None:
        """Seconds until ``deadline`` (negative once passed), or ``None`` without one."""
        deadline = _DEADLINE.get()
        return None if deadline is None else deadline - self.clock.monotonic()

    def classify(self, classifier: ErrorClassifier, obj: object) -> ErrorInfo:
        """Classify an exception or a response, reusing the last answer for the same pair."""
        last = self._classified
        if last is not None and last[0] is obj and last[1] is classifier:
            return last[2]
        info = classifier.classify(obj)
        self._classified = (obj, classifier, info)
        return info

    def result_failed(
        self, result: object, predicate: Callable[[Any], bool] | None = None
    ) -> bool | None:
        """Whether ``result`` is a failure, by ``predicate`` or else the pipeline's.

        The pipeline's verdict is computed once per result and shared by every strategy. A
        predicate that raises gives no verdict (``None``): the result goes on as a result and
        breakers count nothing.
        """
        if predicate is None:
            shared = self.shared
            if shared.default_predicate and type(result) in plain_types:
                return False  # the common case: a type already known not to be a response
            last = self._verdict
            if last is not None and last[0] is result:
                return last[1]
            predicate = shared.is_failure_result
            cache = True
        else:
            cache = False
        failed: bool | None
        try:
            failed = bool(predicate(result))
        except Exception:
            _log.debug("otel-resilience: is_failure_result raised", exc_info=True)
            failed = None
        if cache:
            self._verdict = (result, failed)
        return failed

    def result_info(self, result: object) -> ErrorInfo | None:
        """The classification of ``result`` if it ended the call as a failure, else ``None``."""
        marked = self.failed_result
        if marked is not None and marked[0] is result:
            return marked[1]
        if self.result_failed(result):
            return self.classify(self.classifier, result)
        return None

    # -- attempt events (recorded where the attempt happens: before any strategy reacts) -----

    def attempt_failed(self, started: float, exc: BaseException | None, result: object) -> None:
        """Record a failed attempt (an exception, or a result that is a failure)."""
        span = self.span
        if span is None:
            return
        obj = exc if exc is not None else result
        info = self.classify(self.classifier, obj)
        span.add_event(
            semconv.SPAN_EVENT_ATTEMPT,
            {
                semconv.ATTEMPT_NUMBER: self.attempts,
                semconv.ATTEMPT_DURATION: self.clock.monotonic() - started,
                semconv.ATTEMPT_OUTCOME: semconv.OUTCOME_FAILURE,
                semconv.ERROR_TYPE: error_type(exc) if exc is not None else result_error_type(obj),
                semconv.ERROR_CATEGORY: info.category.value,
            },
        )

    def attempt_succeeded(self, started: float) -> None:
        """Record a successful attempt that followed failed ones."""
        if self.span is not None:
            self.span.add_event(
                semconv.SPAN_EVENT_ATTEMPT,
                {
                    semconv.ATTEMPT_NUMBER: self.attempts,
                    semconv.ATTEMPT_DURATION: self.clock.monotonic() - started,
                    semconv.ATTEMPT_OUTCOME: semconv.OUTCOME_SUCCESS,
                },
            )


# -- strategies --------------------------------------------------------------------------------

_GLOBAL_TELEMETRY = Telemetry()  # shared by strategies not yet in a pipeline: nothing per strategy


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

    def _run(self, nxt: Callable[[], T], ctx: CallContext) -> T:
        raise NotImplementedError

    async def _arun(self, nxt: Callable[[], Awaitable[T]], ctx: CallContext) -> T:
        raise NotImplementedError


class DecidingStrategy(Strategy):
    """A strategy that only decides; the shared runners (sync and async) carry out its decisions.

    Hooks, each called with the call's context and the per-call ``state``:

    - ``enter(ctx)``: before the inner call. Return the per-call state, or raise a
      :class:`~otel_resilience.RejectedError` to refuse, or return a :class:`Finish` /
      :class:`Fail` to end at once, or a :class:`Wait` to be asked again after a delay. A
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
