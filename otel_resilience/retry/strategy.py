"""Retry: run the protected call again when it fails in a way worth retrying."""

from __future__ import annotations

import contextlib
import random as _random
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar

from otel_resilience import semconv
from otel_resilience._clock import Clock
from otel_resilience._strategy import CallContext, Strategy
from otel_resilience._util import (
    category_name,
    check_callable,
    check_classifier,
    error_type,
    result_error_type,
)
from otel_resilience.classify import DEFAULT_CLASSIFIER, ErrorClassifier, ErrorInfo
from otel_resilience.errors import CircuitOpenError, RetryExhaustedError
from otel_resilience.retry.core import (
    GIVE_UP_NOT_RETRYABLE,
    RetryRun,
    next_delay,
    policy_index,
)
from otel_resilience.retry.options import (
    Backoff,
    ResolvedPolicy,
    RetryPolicy,
    check_retry_options,
    resolve_policies,
)

__all__ = ["Retry", "attempts_of"]

T = TypeVar("T")
RetryOn = Iterable[Any] | Callable[[BaseException], bool] | None

_ATTEMPTS_ATTR = "resilience_attempts"


def attempts_of(exc: BaseException) -> int | None:
    """How many attempts a Retry made before giving up with ``exc`` (``None`` if unknown)."""
    value = getattr(exc, _ATTEMPTS_ATTR, None)
    return value if isinstance(value, int) else None


class Retry(Strategy):
    """Retry failed attempts with backoff, honouring Retry-After, a deadline and error categories.

    By default an exception is retried when the classifier calls it retryable. ``retry_on``
    replaces that test: an iterable of error categories and/or exception types, or a predicate
    on the exception. ``retry_if_result`` retries returned values (e.g. a 503 response); the
    result is classified so its Retry-After header is honoured too. On exhaustion the last
    error is re-raised with ``attempts_of(exc)`` set (or, with ``on_exhausted="wrap"``, a
    :class:`RetryExhaustedError` is raised); an exhausted result is returned as it is.
    """

    strategy_name = semconv.STRATEGY_RETRY

    def __init__(
        self,
        max_attempts: int = 3,
        backoff: Backoff = "exponential",
        base_delay: float = 0.2,
        max_delay: float = 10.0,
        jitter: bool | float = True,
        *,
        deadline: float | None = None,
        retry_on: RetryOn = None,
        retry_if_result: Callable[[Any], bool] | None = None,
        policies: Mapping[Any, RetryPolicy] | None = None,
        respect_retry_after: bool = True,
        on_exhausted: str = "raise",
        classifier: ErrorClassifier | None = None,
        random: Callable[[], float] | None = None,
        clock: Clock | None = None,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        logger_provider: Any = None,
    ) -> None:
        check_retry_options(
            max_attempts, backoff, base_delay, max_delay, jitter, deadline, on_exhausted
        )
        check_callable("retry_if_result", retry_if_result)
        check_callable("random", random)
        check_classifier("classifier", classifier)
        if not isinstance(respect_retry_after, bool):
            raise ValueError(f"respect_retry_after must be a bool, got {respect_retry_after!r}")
        super().__init__(
            clock=clock,
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
            logger_provider=logger_provider,
        )
        self.max_attempts = max_attempts
        self.deadline = deadline
        self._policy = ResolvedPolicy.build(max_attempts, backoff, base_delay, max_delay, jitter)
        self._policies = resolve_policies(self._policy, policies)
        self._retry_types, self._retry_categories, self._retry_pred = _split_retry_on(retry_on)
        self._retry_listed = retry_on is not None and self._retry_pred is None
        self._retry_if_result = retry_if_result
        self._respect_retry_after = respect_retry_after
        self._wrap = on_exhausted == "wrap"
        self._classifier = classifier or DEFAULT_CLASSIFIER
        self._random = random or _random.random

    def __repr__(self) -> str:
        p = self._policy
        return (
            f"Retry(max_attempts={p.max_attempts}, backoff={p.backoff!r}, "
            f"base_delay={p.base_delay}, max_delay={p.max_delay}, deadline={self.deadline})"
        )

    # -- shared decision path (sync and async) ------------------------------------------------

    def _wants_retry(self, exc: BaseException, info: ErrorInfo) -> bool:
        if isinstance(exc, CircuitOpenError):
            return False  # an open breaker is a decision to fail fast; retrying defeats it
        if self._retry_pred is not None:
            return bool(self._retry_pred(exc))
        if self._retry_listed:  # an explicit list, even an empty one, replaces the default
            return isinstance(exc, self._retry_types) or info.category in self._retry_categories
        return info.retryable

    def _failed(
        self, run: RetryRun, ctx: CallContext, exc: BaseException | None, result: Any
    ) -> float | None:
        """Decide what follows a failed attempt; emit its telemetry. ``None`` means stop."""
        if exc is not None:
            info = ctx.classify(self._classifier, exc)
            kind = error_type(exc)
            wanted = self._wants_retry(exc, info)
        else:
            info = self._classifier.classify(result)
            ctx.failed_result = info
            kind = result_error_type(result)
            wanted = True
        now = self._clock.monotonic()
        delay: float | None = None
        if not wanted:
            run.gave_up = GIVE_UP_NOT_RETRYABLE
        else:
            category = info.category.value
            policy = self._policies.get(category)
            n = policy_index(run, category, policy is not None)
            retry_after = info.retry_after if self._respect_retry_after else None
            delay = next_delay(
                run, policy or self._policy, self.max_attempts, n, retry_after, now, self._random
            )
        self._record(run, ctx, now, kind, info, delay)
        return delay

    def _record(
        self,
        run: RetryRun,
        ctx: CallContext,
        now: float,
        kind: str,
        info: ErrorInfo,
        delay: float | None,
    ) -> None:
        span = ctx.span
        if span is not None:
            span.add_event(
                semconv.SPAN_EVENT_ATTEMPT,
                {
                    semconv.ATTEMPT_NUMBER: run.attempts,
                    semconv.ATTEMPT_DURATION: now - run.attempt_started,
                    semconv.ATTEMPT_OUTCOME: semconv.OUTCOME_FAILURE,
                    semconv.ERROR_TYPE: kind,
                    semconv.ERROR_CATEGORY: info.category.value,
                },
            )
        if delay is not None:
            event, span_event = semconv.EVENT_RETRY, semconv.SPAN_EVENT_RETRY
        elif run.gave_up != GIVE_UP_NOT_RETRYABLE:
            event, span_event = semconv.EVENT_RETRY_EXHAUSTED, semconv.SPAN_EVENT_RETRY_EXHAUSTED
        else:
            return
        if span is not None:
            attrs: dict[str, Any] = {
                semconv.ATTEMPT_NUMBER: run.attempts,
                semconv.ERROR_TYPE: kind,
                semconv.ERROR_CATEGORY: info.category.value,
            }
            if delay is not None:
                attrs[semconv.RETRY_DELAY] = delay
            span.add_event(span_event, attrs)
        self._telemetry.instruments().count(ctx.pipeline, self.strategy_name, event)

    def _succeeded_after_retries(self, run: RetryRun, ctx: CallContext) -> None:
        ctx.failed_result = None  # an earlier rejected result no longer decides the outcome
        if ctx.span is not None:
            ctx.span.add_event(
                semconv.SPAN_EVENT_ATTEMPT,
                {
                    semconv.ATTEMPT_NUMBER: run.attempts,
                    semconv.ATTEMPT_DURATION: self._clock.monotonic() - run.attempt_started,
                    semconv.ATTEMPT_OUTCOME: semconv.OUTCOME_SUCCESS,
                },
            )

    def _next_attempt(self, run: RetryRun, ctx: CallContext) -> None:
        run.attempts += 1
        ctx.attempts = run.attempts
        run.attempt_started = self._clock.monotonic()

    def _give_up(self, run: RetryRun, exc: BaseException) -> BaseException | None:
        """The exception to raise instead of ``exc``, if any; marks ``exc`` with the attempts."""
        with contextlib.suppress(AttributeError, TypeError):  # __slots__ exceptions can't be
            setattr(exc, _ATTEMPTS_ATTR, run.attempts)
        if self._wrap and run.gave_up != GIVE_UP_NOT_RETRYABLE:
            return RetryExhaustedError(run.attempts, exc, reason=run.gave_up or "attempts")
        return None

    def _exhausted_result(self, run: RetryRun, result: T) -> T:
        if self._wrap:
            raise RetryExhaustedError(run.attempts, None, result, run.gave_up or "attempts")
        return result

    def _started(self, ctx: CallContext) -> float | None:
        if self.deadline is not None or ctx.span is not None:
            return self._clock.monotonic()
        return None

    def _start(self, started: float | None) -> RetryRun:
        return RetryRun(self._clock.monotonic() if started is None else started, self.deadline)

    # -- runners: identical loops but for `await` ----------------------------------------------

    def _run(self, nxt: Callable[[], T], ctx: CallContext) -> T:
        run: RetryRun | None = None
        pred = self._retry_if_result
        # Attempt timing and the deadline need the start time; a RetryRun waits for a failure.
        started = self._started(ctx)
        while True:
            try:
                result = nxt()
            except Exception as exc:
                run = run or self._start(started)
                delay = self._failed(run, ctx, exc, None)
                if delay is None:
                    wrapped = self._give_up(run, exc)
                    if wrapped is not None:
                        raise wrapped from exc
                    raise
            else:
                if pred is None or not pred(result):
                    if run is not None and run.attempts > 1:
                        self._succeeded_after_retries(run, ctx)
                    return result
                run = run or self._start(started)
                delay = self._failed(run, ctx, None, result)
                if delay is None:
                    return self._exhausted_result(run, result)
            self._clock.sleep(delay)
            self._next_attempt(run, ctx)

    async def _arun(self, nxt: Callable[[], Awaitable[T]], ctx: CallContext) -> T:
        run: RetryRun | None = None
        pred = self._retry_if_result
        started = self._started(ctx)
        while True:
            try:
                result = await nxt()
            except Exception as exc:
                run = run or self._start(started)
                delay = self._failed(run, ctx, exc, None)
                if delay is None:
                    wrapped = self._give_up(run, exc)
                    if wrapped is not None:
                        raise wrapped from exc
                    raise
            else:
                if pred is None or not pred(result):
                    if run is not None and run.attempts > 1:
                        self._succeeded_after_retries(run, ctx)
                    return result
                run = run or self._start(started)
                delay = self._failed(run, ctx, None, result)
                if delay is None:
                    return self._exhausted_result(run, result)
            await self._clock.asleep(delay)
            self._next_attempt(run, ctx)


def _split_retry_on(
    retry_on: RetryOn,
) -> tuple[tuple[type[BaseException], ...], frozenset[str], Callable[[BaseException], bool] | None]:
    if retry_on is None:
        return (), frozenset(), None
    if callable(retry_on) and not isinstance(retry_on, type):
        return (), frozenset(), retry_on
    if isinstance(retry_on, (str, type)):
        retry_on = (retry_on,)
    if not isinstance(retry_on, Iterable):
        raise ValueError(
            "retry_on must be error categories and/or exception types, or a predicate; "
            f"got {retry_on!r}"
        )
    types: list[type[BaseException]] = []
    categories: set[str] = set()
    for item in retry_on:
        if isinstance(item, type) and issubclass(item, BaseException):
            types.append(item)
        elif isinstance(item, str):  # ErrorCategory is a str enum
            categories.add(category_name("retry_on", item))
        else:
            raise ValueError(
                f"retry_on items must be error categories or exception types, got {item!r}"
            )
    return tuple(types), frozenset(categories), None
