"""Retry options: validated, frozen, and turned into tenacity wait strategies once."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from otel_resilience._util import category_name
from otel_resilience._validate import (
    check_callable,
    check_choice,
    check_classifier,
    check_count,
    check_flag,
    check_seconds,
)

__all__ = ["BACKOFF_KINDS", "Backoff", "RetryOptions", "RetryPolicy", "validate_backoff"]

Backoff = Literal["constant", "linear", "exponential", "decorrelated"]
BACKOFF_KINDS: tuple[str, ...] = ("constant", "linear", "exponential", "decorrelated")


def _check_delay(name: str, value: float | None) -> None:
    check_seconds(name, value, optional=True)


def _check_attempts(name: str, value: int | None) -> None:
    if value is not None:
        check_count(name, value)


def _check_jitter(name: str, value: bool | float | None) -> None:
    if value is None or isinstance(value, bool):
        return
    if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a bool or a fraction in [0, 1], got {value!r}")


def validate_backoff(name: str, value: str | None) -> None:
    """Raise ValueError naming ``name`` unless ``value`` is a known backoff kind (or None)."""
    if value is not None and value not in BACKOFF_KINDS:
        raise ValueError(f"{name} must be one of {', '.join(BACKOFF_KINDS)}; got {value!r}")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Per-error-category overrides of a Retry's limits and backoff.

    Any field left ``None`` inherits the Retry's own value. ``max_attempts`` bounds how many
    attempts of one call may fail with this category (the Retry's own ``max_attempts`` still
    bounds the whole call); the delay before the n-th retry of this category is computed with
    n counting only this category's failures.
    """

    max_attempts: int | None = None
    backoff: Backoff | None = None
    base_delay: float | None = None
    max_delay: float | None = None
    jitter: bool | float | None = None

    def __post_init__(self) -> None:
        _check_attempts("max_attempts", self.max_attempts)
        validate_backoff("backoff", self.backoff)
        _check_delay("base_delay", self.base_delay)
        _check_delay("max_delay", self.max_delay)
        _check_jitter("jitter", self.jitter)


@dataclass(frozen=True, slots=True)
class ResolvedPolicy:
    """A policy with every field filled in and its tenacity wait built."""

    max_attempts: int
    backoff: str
    base_delay: float
    max_delay: float
    jitter: float  # fraction of the delay that may be taken off at random
    wait: Callable[[Any], float] | None = field(default=None, compare=False)

    @classmethod
    def build(
        cls,
        max_attempts: int,
        backoff: str,
        base_delay: float,
        max_delay: float,
        jitter: bool | float,
    ) -> ResolvedPolicy:
        """Fill in the wait strategy (tenacity's) for the kinds it provides."""
        import tenacity  # lazy: only a Retry that is built pays for importing it

        fraction = (0.5 if jitter else 0.0) if isinstance(jitter, bool) else float(jitter)
        wait: Any
        if backoff == "constant":
            wait = tenacity.wait_fixed(base_delay)
        elif backoff == "linear":
            wait = tenacity.wait_incrementing(start=base_delay, increment=base_delay, max=max_delay)
        elif backoff == "exponential":
            wait = tenacity.wait_exponential(
                multiplier=base_delay, exp_base=2, min=0, max=max_delay
            )
        else:  # decorrelated: tenacity has no such wait; computed by the core from its state
            wait = None
        return cls(
            max_attempts, backoff, float(base_delay), float(max_delay), fraction, cast(Any, wait)
        )


def resolve_policies(
    default: ResolvedPolicy, policies: Mapping[Any, RetryPolicy] | None
) -> dict[str, ResolvedPolicy]:
    """Resolve per-category policies against the Retry's own settings."""
    resolved: dict[str, ResolvedPolicy] = {}
    if policies is not None and not isinstance(policies, Mapping):
        raise ValueError(f"policies must map error categories to RetryPolicy, got {policies!r}")
    for key, policy in (policies or {}).items():
        if not isinstance(policy, RetryPolicy):
            raise ValueError(f"policies[{key!r}] must be a RetryPolicy, got {policy!r}")
        base = policy.base_delay if policy.base_delay is not None else default.base_delay
        cap = policy.max_delay if policy.max_delay is not None else default.max_delay
        if cap < base:
            raise ValueError(f"policies[{key!r}]: max_delay ({cap}) must be >= base_delay ({base})")
        resolved[category_name("policies", key)] = ResolvedPolicy.build(
            policy.max_attempts if policy.max_attempts is not None else default.max_attempts,
            policy.backoff or default.backoff,
            base,
            cap,
            policy.jitter if policy.jitter is not None else default.jitter,
        )
    return resolved


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryOptions:
    """Every option of a :class:`~otel_resilience.Retry`, validated at construction."""

    max_attempts: int = 3
    backoff: Backoff = "exponential"
    base_delay: float = 0.2
    max_delay: float = 10.0
    jitter: bool | float = True
    deadline: float | None = None
    retry_on: Any = None
    retry_if_result: Callable[[Any], bool] | None = None
    policies: Mapping[Any, RetryPolicy] | None = None
    respect_retry_after: bool = True
    clamp_retry_after: bool = False
    on_exhausted: Literal["raise", "wrap"] = "raise"
    classifier: Any = None
    random: Callable[[], float] | None = None
    budget: Any = None

    def __post_init__(self) -> None:
        check_count("max_attempts", self.max_attempts)
        check_choice("backoff", self.backoff, BACKOFF_KINDS)
        check_seconds("base_delay", self.base_delay)
        check_seconds("max_delay", self.max_delay)
        if self.jitter is None:
            raise ValueError("jitter must be a bool or a fraction in [0, 1], got None")
        _check_jitter("jitter", self.jitter)
        if self.max_delay < self.base_delay:
            raise ValueError(
                f"max_delay must be >= base_delay ({self.base_delay}), got {self.max_delay!r}"
            )
        check_seconds("deadline", self.deadline, positive=True, optional=True)
        check_callable("retry_if_result", self.retry_if_result)
        check_callable("random", self.random)
        check_classifier("classifier", self.classifier)
        check_flag("respect_retry_after", self.respect_retry_after)
        check_flag("clamp_retry_after", self.clamp_retry_after)
        check_choice("on_exhausted", self.on_exhausted, ("raise", "wrap"))
        if self.budget is not None:
            from otel_resilience.retry_budget import RetryBudget  # lazy: unused without one

            if not isinstance(self.budget, RetryBudget):
                raise ValueError(f"budget must be a RetryBudget or None, got {self.budget!r}")
