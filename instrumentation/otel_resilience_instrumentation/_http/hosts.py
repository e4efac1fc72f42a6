"""Per-host state: the policy of a host key and its pipelines (Retry + CircuitBreaker)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Any

from otel_resilience import CircuitBreaker, CircuitBreakerRegistry, Pipeline, Retry
from otel_resilience._clock import Clock
from otel_resilience._registry import BoundedRegistry
from otel_resilience.classify import DEFAULT_CLASSIFIER, ErrorCategory
from otel_resilience_instrumentation._http.config import match
from otel_resilience_instrumentation._http.policy import HttpPolicy
from otel_resilience_instrumentation._http.types import ResponseAdapter

__all__ = ["MAX_HOSTS", "Fast", "Host", "Hosts"]

#: Host keys remembered per runner (their policy, pipelines and breaker); LRU beyond.
MAX_HOSTS = 1024


class Fast:
    """What a request needs to skip its host's pipeline: the host's breaker (``None`` without
    one) and the test of a failed response (the pipeline's ``is_failure_result``).

    The runner sends a request's first attempt without the pipeline when nothing records and
    the breaker is closed; a response that is no failure then only counts as the breaker's
    success. Anything else (an error, a failed response) is handed to the pipeline as its first
    attempt's outcome, so Retry and the breaker decide exactly as they would have.
    """

    __slots__ = ("breaker", "failed", "statuses")
    # The runner calls the breaker's _closed_permit()/_closed_success() itself: a method of
    # this class in between costs as much as the rest of a success's bookkeeping.

    def __init__(
        self,
        breaker: CircuitBreaker | None,
        failed: Callable[[Any], bool],
        statuses: frozenset[int] = frozenset(),
    ) -> None:
        self.breaker = breaker
        self.failed = failed
        #: The retry statuses ``failed`` tests besides >= 500, for a caller testing inline.
        self.statuses = statuses


class Host:
    """A host key's policy and its two pipelines (with and without Retry), built on first use,
    and its :class:`Fast` path (set with the first pipeline)."""

    __slots__ = ("fast", "key", "pipelines", "policy")

    def __init__(self, key: str, policy: HttpPolicy) -> None:
        self.key = key
        self.policy = policy
        self.pipelines: dict[bool, Pipeline] = {}
        self.fast: Fast | None = None


class Hosts:
    """The hosts of one runner: policies matched once per key, pipelines, breakers."""

    def __init__(
        self,
        policies: Mapping[str, HttpPolicy],
        adapter: ResponseAdapter[Any],
        clock: Clock | None,
        providers: dict[str, Any],
    ) -> None:
        self.policies = policies
        self._adapter = adapter
        self._clock = clock
        self._providers = providers
        self._breakers: dict[HttpPolicy, CircuitBreakerRegistry] = {}
        self._hosts: BoundedRegistry[Host] = BoundedRegistry(self._host, MAX_HOSTS)

    def get(self, key: str, host: str) -> Host:
        """The state of host key ``key`` (``host`` or ``host:port``)."""
        return self._hosts.get((key, host))

    def pipeline(self, host: Host, retry: bool) -> Pipeline:
        """The host's pipeline with (``retry``) or without Retry."""
        pipeline = host.pipelines.get(retry)
        if pipeline is None:
            pipeline = host.pipelines.setdefault(retry, self._pipeline(host, retry))
        return pipeline

    def _host(self, key: Hashable) -> Host:
        name: object
        host: object
        name, host = key  # type: ignore[misc]
        return Host(str(name), match(self.policies, str(host), str(name)))

    def _pipeline(self, host: Host, retry: bool) -> Pipeline:
        policy, name, adapter = host.policy, host.key, self._adapter
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
        breaker = self._registry(policy).get(name) if policy.breaker else None
        if breaker is not None:
            strategies.append(breaker)

        def failed(r: Any) -> bool:
            return (s := adapter.status(r)) >= 500 or s in statuses

        pipeline = Pipeline(
            f"HTTP {name}",
            *strategies,
            clock=self._clock,
            is_failure_result=failed,
            **self._providers,
        )
        if host.fast is None:  # after the Pipeline bound the breaker to its clock
            host.fast = Fast(breaker, failed, statuses)
        return pipeline

    def _registry(self, policy: HttpPolicy) -> CircuitBreakerRegistry:
        """One bounded breaker registry per distinct policy; a breaker is named by its key."""
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
