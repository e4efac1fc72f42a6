"""Exceptions raised by otel-resilience itself."""

from __future__ import annotations

from typing import Any

__all__ = [
    "BulkheadFullError",
    "CircuitOpenError",
    "RateLimitedError",
    "RejectedError",
    "ResilienceError",
    "ResilienceTimeoutError",
    "RetryExhaustedError",
]


class ResilienceError(Exception):
    """Base class of every exception otel-resilience raises on its own behalf."""


class RejectedError(ResilienceError):
    """A strategy refused to call the protected function (open breaker, full bulkhead, ...).

    A refusal is a decision, not a verdict on the dependency: outer strategies neither retry it
    nor count it as a failure, the call's outcome is ``rejected`` and it is not an attempt.
    ``retry_after`` is the number of seconds after which a call may be admitted, if known.
    """

    retry_after: float | None = None


class CircuitOpenError(RejectedError):
    """Raised instead of calling the protected function while a circuit breaker is open.

    ``retry_after`` is the number of seconds until the breaker lets a probe through, or ``None``
    when it was isolated by hand and stays open until :meth:`CircuitBreaker.reset`.
    """

    def __init__(self, breaker_name: str, retry_after: float | None) -> None:
        self.breaker_name = breaker_name
        self.retry_after = retry_after
        when = "until reset" if retry_after is None else f"for another {retry_after:.3f}s"
        super().__init__(f"circuit breaker {breaker_name!r} is open {when}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.breaker_name, self.retry_after))


class RetryExhaustedError(ResilienceError):
    """Raised by a Retry with ``on_exhausted="wrap"`` once it gives up.

    ``attempts`` is how many attempts were made; ``last_error`` the final exception (also the
    ``__cause__``), or ``None`` when the last attempt returned a result that asked for a retry,
    which is then in ``last_result``.
    """

    def __init__(
        self,
        attempts: int,
        last_error: BaseException | None = None,
        last_result: object = None,
        reason: str = "attempts",
    ) -> None:
        self.attempts = attempts
        self.last_error = last_error
        self.last_result = last_result
        self.reason = reason
        what = type(last_error).__name__ if last_error is not None else "a rejected result"
        super().__init__(f"gave up after {attempts} attempt(s) ({reason}): last was {what}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.attempts, self.last_error, self.last_result, self.reason))


class ResilienceTimeoutError(ResilienceError, TimeoutError):
    """Raised by a Timeout when the call it bounds ran past ``timeout`` seconds.

    ``late_result`` is what a sync call returned after its deadline (``None`` otherwise).
    """

    late_result: object = None

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        super().__init__(f"timed out after {timeout:g}s")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.timeout,))


class BulkheadFullError(RejectedError):
    """Raised instead of calling the function when a bulkhead has no room (nor queue slot)."""

    def __init__(self, bulkhead_name: str, max_concurrent: int) -> None:
        self.bulkhead_name = bulkhead_name
        self.max_concurrent = max_concurrent
        super().__init__(f"bulkhead {bulkhead_name!r} is full ({max_concurrent} running)")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.bulkhead_name, self.max_concurrent))


class RateLimitedError(RejectedError):
    """Raised instead of calling the function when a rate limiter has no permit to give.

    ``retry_after`` is the number of seconds until a permit is expected to be free.
    """

    def __init__(self, limiter_name: str, retry_after: float | None) -> None:
        self.limiter_name = limiter_name
        self.retry_after = retry_after
        when = "" if retry_after is None else f" for another {retry_after:.3f}s"
        super().__init__(f"rate limiter {limiter_name!r} has no permit{when}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.limiter_name, self.retry_after))
