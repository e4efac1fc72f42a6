"""Retry: run the protected call again when it fails in a way worth retrying."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from otel_resilience import semconv
from otel_resilience._clock import Clock
from otel_resilience._filter import ExceptionFilter
from otel_resilience._strategy import Again, CallContext, DecidingStrategy, Decision, Fail
from otel_resilience._telemetry import Telemetry
from otel_resilience._util import error_type, result_error_type
from otel_resilience.classify import DEFAULT_CLASSIFIER, ErrorClassifier, ErrorInfo
from otel_resilience.errors import RetryExhaustedError
from otel_resilience.retry._core import RetryRun, next_delay, policy_index
from otel_resilience.retry.options import (
    Backoff,
    ResolvedPolicy,
    RetryOptions,
    RetryPolicy,
    resolve_policies,
)

if TYPE_CHECKING:
    from otel_resilience.retry_budget import RetryBudget

__all__ = ["Retry", "attempts_of"]

RetryOn = Iterable[Any] | Callable[[BaseException], bool] | None

_ATTEMPTS_ATTR = "resilience_attempts"


def attempts_of(exc: BaseException) -> int | None:
    """How many attempts a Retry made before giving up with ``exc`` (``None`` if unknown)."""
    value = getattr(exc, _ATTEMPTS_ATTR, None)
    return value if isinstance(value, int) else None


class Retry(DecidingStrategy):
    """Retry failed attempts with backoff, honouring Retry-After, a deadline and error categories.

    An exception is retried when the classifier calls it retryable; ``retry_on`` replaces that
    test: an iterable of error categories and/or exception types, or a predicate on the
    exception. A returned value is retried when it is a failure: by ``retry_if_result`` if
    given, else by the pipeline's ``is_failure_result`` (error responses of the HTTP clients we
    know, by default); its Retry-After header is honoured too. On exhaustion the last error is
    re-raised with ``attempts_of(exc)`` set, or, with ``on_exhausted="wrap"``, a
    :class:`RetryExhaustedError` is raised; an exhausted result is returned as it is (or
    wrapped). Every give-up records its reason. Options are those of :class:`RetryOptions`.

    With ``budget`` (a :class:`~otel_resilience.retry_budget.RetryBudget`, shareable by many
    Retries), a retry the budget refuses is not started: the failure is returned at once,
    with reason ``budget``.
    """

    __slots__ = (
        "_budget",
        "_classifier",
        "_policies",
        "_policy",
        "_random",
        "_retry_on",
        "_tally",
        "deadline",
        "max_attempts",
        "options",
    )

    strategy_name = semconv.STRATEGY_RETRY

    def __init__(
        self,
        *,
        max_attempts: int = 3,
        backoff: Backoff = "exponential",
        base_delay: float = 0.2,
        max_delay: float = 10.0,
        jitter: bool | float = True,
        deadline: float | None = None,
        retry_on: RetryOn = None,
        retry_if_result: Callable[[Any], bool] | None = None,
        policies: Mapping[Any, RetryPolicy] | None = None,
        respect_retry_after: bool = True,
        clamp_retry_after: bool = False,
        on_exhausted: Literal["raise", "wrap"] = "raise",
        classifier: ErrorClassifier | None = None,
        random: Callable[[], float] | None = None,
        budget: RetryBudget | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.options = RetryOptions(
            max_attempts=max_attempts,
            backoff=backoff,
            base_delay=base_delay,
            max_delay=max_delay,
            jitter=jitter,
            deadline=deadline,
            retry_on=retry_on,
            retry_if_result=retry_if_result,
            policies=policies,
            respect_retry_after=respect_retry_after,
            clamp_retry_after=clamp_retry_after,
            on_exhausted=on_exhausted,
            classifier=classifier,
            random=random,
            budget=budget,
        )
        super().__init__(clock=clock, result_predicate=retry_if_result)
        if deadline is None:
            self._entry = None  # an outer deadline is read at the first failure
            # A success needs nothing from a Retry without a deadline, or one C call to count
            # it into a token budget.
            self._success = _budget_success if budget is not None else None
            if budget is not None and budget._tally is not None:
                self._success = _tally_success
        self._budget = budget
        self._tally = None if budget is None else budget._tally
        self.max_attempts = max_attempts
        self.deadline = deadline
        self._policy = ResolvedPolicy.build(max_attempts, backoff, base_delay, max_delay, jitter)
        self._policies = resolve_policies(self._policy, policies)
        self._retry_on = ExceptionFilter("retry_on", retry_on)
        self._classifier = classifier or DEFAULT_CLASSIFIER
        if random is None:
            import random as stdlib_random  # lazy: its import costs start-up time

            random = stdlib_random.random
        self._random = random

    def __repr__(self) -> str:
        p = self._policy
        return (
            f"Retry(max_attempts={p.max_attempts}, backoff={p.backoff!r}, "
            f"base_delay={p.base_delay}, max_delay={p.max_delay}, deadline={self.deadline})"
        )

    # -- hooks (driven by the shared sync and async runners) ----------------------------------

    def enter(self, ctx: CallContext) -> tuple[float, Any]:
        """Publish the deadline; the start time and its token (asked only when there is one)."""
        now = self._clock.monotonic()
        return now, ctx.tighten_deadline(now + self.deadline)  # type: ignore[operator]

    def on_success(self, ctx: CallContext, state: Any, result: Any) -> None:
        """Withdraw the published deadline (asked only when there is one)."""
        ctx.restore_deadline(state[1] if type(state) is tuple else state.token)
        if self._budget is not None:
            self._budget._success(type(state) is tuple, self._clock)

    def _bind(self, pipeline_name: str, clock: Clock, telemetry: Telemetry) -> bool:
        if not super()._bind(pipeline_name, clock, telemetry):
            return False
        if self._budget is not None:  # names the budget and reports its gauge
            self._budget._adopt(pipeline_name, telemetry.providers[1], self._clock)
        return True

    def on_abandon(self, ctx: CallContext, state: Any) -> None:
        """Withdraw the published deadline, if any."""
        if type(state) is tuple:
            ctx.restore_deadline(state[1])
        elif type(state) is RetryRun and state.token is not None:
            ctx.restore_deadline(state.token)

    def on_failure(
        self, ctx: CallContext, state: Any, exc: Exception | None, result: Any
    ) -> Decision | None:
        if type(state) is RetryRun:
            run = state
        elif type(state) is tuple:  # the first failure of a call with a deadline
            run = self._start(ctx, state[0])
            run.token = state[1]
        else:
            run = self._start(ctx, state)
        decision = self._on_failure(ctx, run, exc, result)
        if run.token is not None and not isinstance(decision, Again):  # the call ends here
            ctx.restore_deadline(run.token)
        return decision

    def _on_failure(
        self, ctx: CallContext, run: RetryRun, exc: Exception | None, result: Any
    ) -> Decision | None:
        wrap = self.options.on_exhausted == "wrap"
        if exc is None:  # a result that is a failure
            info = ctx.classify(self._classifier, result)
            decision = self._decide(ctx, run, info, result_error_type(result), True)
            if decision is not None:
                return decision
            ctx.failed_result = (result, info)  # the call ends on it: its outcome is a failure
            if wrap:
                return Fail(RetryExhaustedError(run.attempts, None, result, run.gave_up or ""))
            return None
        info = ctx.classify(self._classifier, exc)
        decision = self._decide(ctx, run, info, error_type(exc), self._wants_retry(ctx, exc, info))
        if decision is not None:
            return decision
        with contextlib.suppress(Exception):  # __slots__ or a hostile __setattr__: not ours to fix
            setattr(exc, _ATTEMPTS_ATTR, run.attempts)
        if wrap and run.gave_up != semconv.RETRY_REASON_NOT_RETRYABLE:
            return Fail(RetryExhaustedError(run.attempts, exc, reason=run.gave_up or ""))
        return None

    def on_again(self, ctx: CallContext, state: Any) -> None:
        state.attempts += 1

    # -- the decision, shared by errors and results -------------------------------------------

    def _start(self, ctx: CallContext, started: float | None) -> RetryRun:
        now = self._clock.monotonic() if started is None else started
        deadline_at = None if self.deadline is None else now + self.deadline
        if ctx.deadline is not None and (deadline_at is None or ctx.deadline < deadline_at):
            deadline_at = ctx.deadline  # an outer deadline bounds our retries too
        return RetryRun(now, deadline_at)

    def _wants_retry(self, ctx: CallContext, exc: BaseException, info: ErrorInfo) -> bool:
        retry_on = self._retry_on
        if retry_on.given:  # an explicit list, even an empty one, replaces the default
            return retry_on.matches(ctx, self._classifier, exc)
        return info.retryable

    def _decide(
        self, ctx: CallContext, run: RetryRun, info: ErrorInfo, kind: str, wanted: bool
    ) -> Again | None:
        """An Again to retry, or None with ``run.gave_up`` set; records the decision."""
        now = self._clock.monotonic()
        delay: float | None = None
        if not wanted:
            run.gave_up = semconv.RETRY_REASON_NOT_RETRYABLE
            run.requested_delay = info.retry_after
            if self._budget is not None and run.attempts == 1:  # still a request (percent kind)
                self._budget._request(self._clock)
        else:
            category = info.category.value
            policy = self._policies.get(category)
            n = policy_index(run, category, policy is not None)
            retry_after = info.retry_after if self.options.respect_retry_after else None
            delay = next_delay(
                run,
                policy or self._policy,
                self.max_attempts,
                n,
                retry_after,
                self.options.clamp_retry_after,
                now,
                self._random,
            )
            budget = self._budget
            if budget is not None:  # charged for every failure worth retrying
                first = run.attempts == 1
                if not budget._failure(first, delay is not None, self._clock) and delay is not None:
                    run.gave_up = semconv.RETRY_REASON_BUDGET
                    delay = None
        self._record(run, ctx, kind, info, delay)
        return None if delay is None else Again(delay, run)

    def _record(
        self, run: RetryRun, ctx: CallContext, kind: str, info: ErrorInfo, delay: float | None
    ) -> None:
        reason = run.gave_up
        if delay is not None:
            event, span_event = semconv.EVENT_RETRY, semconv.SPAN_EVENT_RETRY
        elif reason != semconv.RETRY_REASON_NOT_RETRYABLE or run.attempts > 1:
            event, span_event = semconv.EVENT_RETRY_EXHAUSTED, semconv.SPAN_EVENT_RETRY_EXHAUSTED
        else:
            return  # a first attempt that cannot be retried: nothing was given up
        # The metric point carries the reason (a handful of values), never the requested delay:
        # an unbounded number as a metric attribute makes one series per value.
        extra = None if delay is not None else {semconv.RETRY_REASON: reason}
        span = ctx.span
        if span is not None:
            attrs: dict[str, Any] = {
                semconv.ATTEMPT_NUMBER: ctx.attempts or run.attempts,
                semconv.ERROR_TYPE: kind,
                semconv.ERROR_CATEGORY: info.category.value,
            }
            if delay is not None:
                attrs[semconv.RETRY_DELAY] = delay
            else:
                attrs[semconv.RETRY_REASON] = reason
            if run.requested_delay is not None:
                attrs[semconv.RETRY_REQUESTED_DELAY] = run.requested_delay
            span.add_event(span_event, attrs)
        ctx.inst.count(ctx.pipeline, self.strategy_name, event, extra)
        if reason == semconv.RETRY_REASON_BUDGET and self._budget is not None:
            ctx.inst.count(
                ctx.pipeline,
                self.strategy_name,
                semconv.EVENT_RETRY_BUDGET_EXHAUSTED,
                {semconv.RETRY_BUDGET_NAME: self._budget.name},
            )


def _tally_success(level: Retry, ctx: CallContext, state: Any, result: Any) -> None:
    """A success of a Retry without deadline and a token budget: count it, nothing else."""
    level._tally.append(None)  # type: ignore[union-attr]


def _budget_success(level: Retry, ctx: CallContext, state: Any, result: Any) -> None:
    """A success of a Retry without deadline and a percent budget (reads the clock)."""
    level._budget._success(state is None, level._clock)  # type: ignore[union-attr]
