"""LlmOptions: what the LLM instrumentors do for every managed call (defaults and their reasons in
docs/llm.md), validated at construction: a wrong value raises ``ValueError`` naming the field."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from otel_resilience._validate import (
    check_callable,
    check_count,
    check_flag,
    check_ratio,
    check_seconds,
)
from otel_resilience.retry.options import BACKOFF_KINDS, Backoff

__all__ = ["Alternative", "LlmOptions", "check_fallbacks"]

#: A fallback: another model of the same provider, or a callable taking the
#: :class:`~otel_resilience_instrumentation._llm.request.LlmRequest` and returning what the caller
#: expects (a sync callable for sync clients; for async clients it may return an awaitable).
Alternative = str | Callable[..., Any]


def check_fallbacks(value: object) -> dict[str, tuple[Alternative, ...]]:
    """``{model: [alternative, ...]}``, checked and frozen; ValueError naming ``fallbacks``."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"fallbacks must map model names to lists of alternatives, got {value!r}")
    out: dict[str, tuple[Alternative, ...]] = {}
    for model, alternatives in value.items():
        if not isinstance(model, str) or not model:
            raise ValueError(f"fallbacks keys must be model names, got {model!r}")
        if isinstance(alternatives, (str, bytes)) or not isinstance(alternatives, (list, tuple)):
            raise ValueError(f"fallbacks[{model!r}] must be a list, got {alternatives!r}")
        for alt in alternatives:
            if not (isinstance(alt, str) and alt) and not callable(alt):
                raise ValueError(
                    f"fallbacks[{model!r}] items must be model names or callables, got {alt!r}"
                )
        out[model] = tuple(alternatives)
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class LlmOptions:
    """Resilience of managed LLM calls, per provider + model.

    ``max_attempts`` in all per model (exponential ``backoff`` from ``base_delay`` with
    ``jitter``, each delay, Retry-After included, at most ``max_delay``: beyond it the model
    gives up at once and the next fallback is tried), on rate limits, overload, server errors,
    timeouts and connection errors. With ``breaker`` on, one circuit breaker per provider +
    model (``failure_ratio`` of at least ``minimum_calls`` in ``window`` seconds opens it for
    ``break_duration``). ``fallbacks`` maps a model to its alternatives. ``stall_timeout`` bounds
    the wait for each chunk of a stream; ``stream_buffer`` > 0 has a stream read up to that
    many chunks ahead of the caller (backpressure: reading stops while the buffer is full);
    ``on_stream_state_change(previous, state)`` is called on every state transition of a
    managed stream (the states' names, on the thread or task causing it). ``throttle`` waits
    client-side when the provider's rate-limit headers say nothing remains. ``capture_content``
    ``None`` reads ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``.
    """

    max_attempts: int = 3
    backoff: Backoff = "exponential"
    base_delay: float = 0.5
    max_delay: float = 60.0
    jitter: bool | float = True
    breaker: bool = True
    failure_ratio: float = 0.5
    minimum_calls: int = 10
    window: float = 60.0
    break_duration: float = 30.0
    stall_timeout: float = 120.0
    stream_buffer: int = 0
    on_stream_state_change: Callable[[str, str], None] | None = None
    throttle: bool = False
    capture_content: bool | None = None
    fallbacks: Mapping[str, tuple[Alternative, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
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
        check_flag("breaker", self.breaker)
        check_ratio("failure_ratio", self.failure_ratio)
        check_count("minimum_calls", self.minimum_calls)
        check_seconds("window", self.window, positive=True)
        check_seconds("break_duration", self.break_duration, positive=True)
        check_seconds("stall_timeout", self.stall_timeout, positive=True)
        check_count("stream_buffer", self.stream_buffer, minimum=0)
        check_callable("on_stream_state_change", self.on_stream_state_change)
        check_flag("throttle", self.throttle)
        if self.capture_content is not None:
            check_flag("capture_content", self.capture_content)
        object.__setattr__(self, "fallbacks", check_fallbacks(self.fallbacks))
