"""HttpPolicy: what the HTTP instrumentors do for the requests to one host.

Every field has the default a careful user would choose (docs/instrumentation.md gives each
reason); every one can be changed per host. Validated at construction: a wrong value raises
``ValueError`` naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from otel_resilience._validate import check_count, check_flag, check_ratio, check_seconds
from otel_resilience.retry.options import BACKOFF_KINDS, Backoff

if TYPE_CHECKING:
    from otel_resilience_instrumentation._http.types import HttpRequest

__all__ = ["IDEMPOTENT_METHODS", "RETRY_STATUSES", "HttpPolicy", "is_idempotent"]

#: Methods safe to send twice (RFC 9110 9.2.2, less TRACE which nobody retries).
IDEMPOTENT_METHODS: frozenset[str] = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
#: Statuses that say "try again": timeout, too many requests, and the gateway/unavailable family.
RETRY_STATUSES: frozenset[int] = frozenset({408, 429, 502, 503, 504})


def _methods(name: str, value: Any) -> frozenset[str]:
    if isinstance(value, str) or not all(isinstance(m, str) and m for m in value):
        raise ValueError(f"{name} must be a collection of method names, got {value!r}")
    return frozenset(m.upper() for m in value)


def _statuses(name: str, value: Any) -> frozenset[int]:
    ok = not isinstance(value, (str, bytes)) and all(
        isinstance(s, int) and not isinstance(s, bool) and 100 <= s <= 599 for s in value
    )
    if not ok:
        raise ValueError(f"{name} must be a collection of HTTP status codes, got {value!r}")
    return frozenset(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpPolicy:
    """Resilience for the HTTP requests to one host (or the default for every host).

    ``enabled=False`` passes the host's requests straight through: no span, no retry, no
    breaker. Retries (``max_attempts`` in all, exponential ``backoff`` from ``base_delay``
    with ``jitter``, each delay at most ``max_delay``) happen only for the ``retry_methods``,
    plus POST/PATCH when the request carries ``idempotency_header`` or ``retry_non_idempotent``
    is set; only on connection errors and timeouts (each switchable) and on
    ``retry_statuses``. A ``Retry-After`` longer than ``max_delay`` returns the response at
    once. With ``breaker`` on, one circuit breaker per host (failure ratio, minimum calls,
    window and break duration as named) rejects requests with ``CircuitOpenError`` while
    open. ``cap_timeout_to_deadline`` caps each request's timeout at the time left before the
    deadline of an enclosing ``Timeout`` (``otel_resilience.deadline.remaining()``).
    """

    enabled: bool = True
    max_attempts: int = 3
    backoff: Backoff = "exponential"
    base_delay: float = 0.2
    max_delay: float = 30.0
    jitter: bool | float = True
    retry_methods: frozenset[str] = IDEMPOTENT_METHODS
    retry_non_idempotent: bool = False
    idempotency_header: str = "Idempotency-Key"
    retry_statuses: frozenset[int] = RETRY_STATUSES
    retry_connection_errors: bool = True
    retry_timeouts: bool = True
    respect_retry_after: bool = True
    breaker: bool = True
    failure_ratio: float = 0.5
    minimum_calls: int = 20
    window: float = 30.0
    break_duration: float = 15.0
    cap_timeout_to_deadline: bool = True

    def __post_init__(self) -> None:
        for name in (
            "enabled",
            "retry_non_idempotent",
            "retry_connection_errors",
            "retry_timeouts",
            "respect_retry_after",
            "breaker",
            "cap_timeout_to_deadline",
        ):
            check_flag(name, getattr(self, name))
        check_count("max_attempts", self.max_attempts)
        if self.backoff not in BACKOFF_KINDS:
            raise ValueError(
                f"backoff must be one of {', '.join(BACKOFF_KINDS)}; got {self.backoff!r}"
            )
        check_seconds("base_delay", self.base_delay)
        check_seconds("max_delay", self.max_delay)
        if self.max_delay < self.base_delay:
            raise ValueError(
                f"max_delay must be >= base_delay ({self.base_delay}), got {self.max_delay!r}"
            )
        if not isinstance(self.jitter, bool) and not (
            isinstance(self.jitter, (int, float)) and 0.0 <= self.jitter <= 1.0
        ):
            raise ValueError(f"jitter must be a bool or a fraction in [0, 1], got {self.jitter!r}")
        object.__setattr__(self, "retry_methods", _methods("retry_methods", self.retry_methods))
        object.__setattr__(self, "retry_statuses", _statuses("retry_statuses", self.retry_statuses))
        if not isinstance(self.idempotency_header, str) or not self.idempotency_header:
            raise ValueError(
                f"idempotency_header must be a non-empty string, got {self.idempotency_header!r}"
            )
        check_ratio("failure_ratio", self.failure_ratio)
        check_count("minimum_calls", self.minimum_calls)
        check_seconds("window", self.window, positive=True)
        check_seconds("break_duration", self.break_duration, positive=True)


def is_idempotent(policy: HttpPolicy, request: HttpRequest) -> bool:
    """Whether ``request`` may be sent again: its method, the policy, or its idempotency key."""
    if request.method.upper() in policy.retry_methods or policy.retry_non_idempotent:
        return True
    wanted = policy.idempotency_header
    try:
        if request.headers.get(wanted) is not None:  # the clients' mappings ignore case
            return True
        wanted = wanted.lower()
        return any(k.lower() == wanted for k in request.headers)
    except Exception:  # an odd mapping: no proof of idempotency, no retry
        return False
