"""Retry options: validated, frozen, and turned into tenacity wait strategies once."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import tenacity

from otel_resilience._util import category_name

__all__ = ["BACKOFF_KINDS", "Backoff", "RetryPolicy", "validate_backoff"]

Backoff = Literal["constant", "linear", "exponential", "decorrelated"]
BACKOFF_KINDS: tuple[str, ...] = ("constant", "linear", "exponential", "decorrelated")


def _check_delay(name: str, value: float | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number of seconds, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


def _check_attempts(name: str, value: int | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


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


def check_retry_options(
    max_attempts: int,
    backoff: str,
    base_delay: float,
    max_delay: float,
    jitter: bool | float,
    deadline: float | None,
    on_exhausted: str,
) -> None:
    """Validate a Retry's own arguments, naming the offending field."""
    _check_attempts("max_attempts", max_attempts)
    if backoff is None:
        raise ValueError(f"backoff must be one of {', '.join(BACKOFF_KINDS)}; got None")
    validate_backoff("backoff", backoff)
    for name, value in (("base_delay", base_delay), ("max_delay", max_delay)):
        if value is None:
            raise ValueError(f"{name} must be a number of seconds, got None")
        _check_delay(name, value)
    _check_jitter("jitter", jitter)
    if jitter is None:
        raise ValueError("jitter must be a bool or a fraction in [0, 1], got None")
    if max_delay < base_delay:
        raise ValueError(f"max_delay ({max_delay}) must be >= base_delay ({base_delay})")
    _check_delay("deadline", deadline)
    if deadline is not None and deadline == 0:
        raise ValueError("deadline must be > 0 seconds (or None for no deadline)")
    if on_exhausted not in ("raise", "wrap"):
        raise ValueError(f"on_exhausted must be 'raise' or 'wrap', got {on_exhausted!r}")
