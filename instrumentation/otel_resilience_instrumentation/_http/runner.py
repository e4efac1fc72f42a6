"""HttpRunner: one logical HTTP request through the per-host pipeline, one span per attempt.

The decisions (pass through or not, retry or not, which pipeline) are made once, in
:meth:`HttpRunner._plan`; :meth:`HttpRunner.send` and :meth:`HttpRunner.asend` are the sync
and async twins that carry them out.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from opentelemetry import context as otel_context
from opentelemetry.instrumentation.utils import (
    is_http_instrumentation_enabled,
    is_instrumentation_enabled,
    suppress_http_instrumentation,
)

from otel_resilience import CircuitBreakerRegistry, Pipeline, Retry, deadline
from otel_resilience._clock import Clock
from otel_resilience._registry import BoundedRegistry
from otel_resilience.classify import DEFAULT_CLASSIFIER, ErrorCategory
from otel_resilience_instrumentation._http.attrs import Target
from otel_resilience_instrumentation._http.config import load_policies, match
from otel_resilience_instrumentation._http.policy import HttpPolicy
from otel_resilience_instrumentation._http.telemetry import AttemptRecord, BodyDone, HttpTelemetry

__all__ = ["Attempt", "HttpRequest", "HttpRunner", "ResponseAdapter"]

R = TypeVar("R")
R_contra = TypeVar("R_contra", contravariant=True)

#: Pipelines kept per runner (two per host at most: with and without retry); LRU beyond.
MAX_HOSTS = 1024


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """The client-neutral description of one request, built by the adapter.

    ``headers`` is the client's own (case-insensitive) mapping or any mapping; it is only read
    (for the idempotency header). ``replayable`` is ``False`` when the body cannot be sent
    twice (a generator, a file being read): such a request is never retried.
    """

    method: str
    url: str
    headers: Mapping[str, str]
    replayable: bool = True


@dataclass(frozen=True, slots=True)
class Attempt:
    """What the adapter applies to the outgoing request of one attempt.

    ``number`` is 1-based. ``headers`` (``traceparent``, ``tracestate``, baggage) must be set
    on the request, replacing any previous attempt's. ``timeout``, when not ``None``, is the
    most seconds the attempt may take (the deadline's remaining time): cap every timeout of
    the client's request at it.
    """

    number: int
    headers: Mapping[str, str]
    timeout: float | None


#: The attempt of a request passed straight through (suppressed, disabled host).
PASS_THROUGH = Attempt(1, {}, None)


class ResponseAdapter(Protocol[R_contra]):
    """What the core needs to know about a client's response type."""

    def status(self, response: R_contra) -> int:
        """The response's status code."""

    def protocol_version(self, response: R_contra) -> str | None:
        """``"1.1"``, ``"2"``... or ``None`` when unknown."""

    def watch_body(self, response: R_contra, done: BodyDone) -> None:
        """Arrange for ``done(None)`` once the body is consumed or the response closed, and
        ``done(exc)`` if reading it fails; call ``done(None)`` at once when there is no body
        left to read. ``done`` is idempotent and never raises."""


class _Count:
    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0


def _is_idempotent(policy: HttpPolicy, request: HttpRequest) -> bool:
    method = request.method.upper()
    if method in policy.retry_methods or policy.retry_non_idempotent:
        return True
    try:
        return request.headers.get(policy.idempotency_header) is not None or any(
            k.lower() == policy.idempotency_header.lower() for k in request.headers
        )
    except Exception:  # an odd mapping: no proof of idempotency, no retry
        return False


class HttpRunner(Generic[R]):
    """Runs a client's requests through per-host pipelines (Retry + CircuitBreaker).

    One runner per instrumented client library: ``adapter`` knows its response type,
    ``policies`` (merged with the environment, see :mod:`.config`) decide per host. The
    telemetry providers default to the global ones; ``clock`` serves backoff sleeps and
    breaker windows (a FakeClock in tests).
    """

    def __init__(
        self,
        adapter: ResponseAdapter[R],
        *,
        policies: Mapping[str, HttpPolicy] | None = None,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        logger_provider: Any = None,
        clock: Clock | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.adapter = adapter
        self.policies = load_policies(policies, environ)
        self._providers = {
            "tracer_provider": tracer_provider,
            "meter_provider": meter_provider,
            "logger_provider": logger_provider,
        }
        self._clock = clock
        self._telemetry = HttpTelemetry(tracer_provider, meter_provider)
        self._breakers: dict[HttpPolicy, CircuitBreakerRegistry] = {}
        self._pipelines: BoundedRegistry[Pipeline] = BoundedRegistry(self._pipeline, MAX_HOSTS)

    # -- the decision, shared by send and asend --------------------------------------------------

    def _plan(self, request: HttpRequest) -> tuple[Pipeline, Target, HttpPolicy] | None:
        """``None`` to pass the request straight through, else its pipeline and target."""
        if not (is_instrumentation_enabled() and is_http_instrumentation_enabled()):
            return None
        target = Target.of(request.method, request.url)
        policy = match(self.policies, target.host, target.key)
        if not policy.enabled:
            return None
        retry = policy.max_attempts > 1 and request.replayable and _is_idempotent(policy, request)
        return self._pipelines.get((target.key, target.host, retry)), target, policy

    def _pipeline(self, key: Hashable) -> Pipeline:
        name: str
        host: str
        retry: bool
        name, host, retry = key  # type: ignore[misc]
        policy = match(self.policies, host, name)
        adapter = self.adapter
        statuses = policy.retry_statuses
        strategies: list[Any] = []
        if retry:
            categories = set()
            if policy.retry_connection_errors:
                categories.add(ErrorCategory.CONNECTION)
            if policy.retry_timeouts:
                categories.add(ErrorCategory.TIMEOUT)

            def retry_on(exc: BaseException) -> bool:
                # Both the category and the classifier's verdict: a certificate error is a
                # connection error that no retry can fix.
                info = DEFAULT_CLASSIFIER.classify(exc)
                return info.retryable and info.category in categories

            strategies.append(
                Retry(
                    max_attempts=policy.max_attempts,
                    backoff=policy.backoff,
                    base_delay=policy.base_delay,
                    max_delay=policy.max_delay,
                    jitter=policy.jitter,
                    retry_on=retry_on,
                    retry_if_result=lambda r: adapter.status(r) in statuses,
                    respect_retry_after=policy.respect_retry_after,
                )
            )
        if policy.breaker:
            strategies.append(self._breaker_registry(policy).get(name))
        return Pipeline(
            f"HTTP {name}",
            *strategies,
            clock=self._clock,
            is_failure_result=lambda r: (s := adapter.status(r)) >= 500 or s in statuses,
            **self._providers,
        )

    def _breaker_registry(self, policy: HttpPolicy) -> CircuitBreakerRegistry:
        registry = self._breakers.get(policy)
        if registry is None:
            extras: dict[str, Any] = {} if self._clock is None else {"clock": self._clock}
            registry = CircuitBreakerRegistry(
                max_size=MAX_HOSTS,
                failure_ratio=policy.failure_ratio,
                minimum_calls=policy.minimum_calls,
                window=policy.window,
                break_duration=policy.break_duration,
                **extras,
            )
            registry = self._breakers.setdefault(policy, registry)
        return registry

    def _start(
        self, target: Target, policy: HttpPolicy, count: _Count
    ) -> tuple[AttemptRecord, Attempt]:
        count.n += 1
        record = self._telemetry.start(target, count.n - 1)
        remaining = deadline.remaining() if policy.cap_timeout_to_deadline else None
        return record, Attempt(count.n, record.headers(), remaining)

    def _responded(self, record: AttemptRecord, response: R) -> R:
        adapter = self.adapter
        try:
            record.responded(adapter.status(response), adapter.protocol_version(response))
            adapter.watch_body(response, record.body_done)
        except Exception:  # an adapter bug must not fail the request: end the span now
            record.end()
        return response

    # -- sync ------------------------------------------------------------------------------------

    def send(self, request: HttpRequest, send: Callable[[Attempt], R]) -> R:
        """Send ``request``: ``send(attempt)`` once per attempt, returning the client's
        response (headers read, body not handed to the caller yet) or raising."""
        plan = self._plan(request)
        if plan is None:
            return send(PASS_THROUGH)
        pipeline, target, policy = plan
        return pipeline.call(self._attempt, send, target, policy, _Count())

    def _attempt(
        self, send: Callable[[Attempt], R], target: Target, policy: HttpPolicy, count: _Count
    ) -> R:
        record, attempt = self._start(target, policy, count)
        token = otel_context.attach(record.context())
        try:
            with suppress_http_instrumentation():  # a contrib instrumentor inside us stays quiet
                response = send(attempt)
        except BaseException as exc:
            record.failed(exc)
            raise
        finally:
            otel_context.detach(token)
        return self._responded(record, response)

    # -- async -----------------------------------------------------------------------------------

    async def asend(self, request: HttpRequest, send: Callable[[Attempt], Awaitable[R]]) -> R:
        """Async twin of :meth:`send`: ``await send(attempt)`` once per attempt."""
        plan = self._plan(request)
        if plan is None:
            return await send(PASS_THROUGH)
        pipeline, target, policy = plan
        return await pipeline.acall(self._aattempt, send, target, policy, _Count())

    async def _aattempt(
        self,
        send: Callable[[Attempt], Awaitable[R]],
        target: Target,
        policy: HttpPolicy,
        count: _Count,
    ) -> R:
        record, attempt = self._start(target, policy, count)
        token = otel_context.attach(record.context())
        try:
            with suppress_http_instrumentation():
                response = await send(attempt)
        except BaseException as exc:
            record.failed(exc)
            raise
        finally:
            otel_context.detach(token)
        return self._responded(record, response)
