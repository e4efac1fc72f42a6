"""Samplers: trace-id ratio, rate limited, rule based, and the string specs that name them."""

from __future__ import annotations

import fnmatch
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, SpanKind, get_current_span
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

from otel_resilience import semconv

__all__ = [
    "RateLimitingSampler",
    "RuleBasedSampler",
    "SamplingRule",
    "parse_sampler",
    "rate_limited_sampler",
    "ratio_sampler",
]


_log = logging.getLogger(__name__)


def _parent_trace_state(parent_context: Context | None) -> TraceState | None:
    ctx = get_current_span(parent_context).get_span_context()
    return ctx.trace_state if ctx.is_valid else None


def _check_sampler(name: str, value: object) -> None:
    if not isinstance(value, Sampler):
        raise ValueError(f"{name}: must be a Sampler, got {type(value).__name__}")


def _safe_decision(parent_context: Context | None, attributes: Attributes) -> SamplingResult:
    """What a sampler that raised decides instead: the parent's flag, else record and sample
    (the SDK's default), so a broken sampler never fails the caller's span start."""
    try:
        parent = get_current_span(parent_context).get_span_context()
        keep = parent.trace_flags.sampled if parent.is_valid else True
        state = parent.trace_state if parent.is_valid else None
    except Exception:
        keep, state = True, None
    decision = Decision.RECORD_AND_SAMPLE if keep else Decision.DROP
    return SamplingResult(decision, attributes if keep else None, state)


_warned_samplers: set[str] = set()


def _sampler_failed(sampler: Sampler) -> None:
    name = type(sampler).__name__
    if name not in _warned_samplers:  # once per class: a broken sampler fails every span
        _warned_samplers.add(name)
        _log.warning(
            "sampler %s raised; falling back to the parent's decision", name, exc_info=True
        )


class RateLimitingSampler(Sampler):
    """Samples at most ``max_per_second`` spans per second (token bucket, burst of one second).

    Use it as the root of a :class:`ParentBased` sampler (see :func:`rate_limited_sampler`) so
    it limits traces, not spans. ``clock`` returns monotonic seconds; tests pass a fake one.
    """

    def __init__(self, max_per_second: float, clock: Callable[[], float] = time.monotonic) -> None:
        if (
            isinstance(max_per_second, bool)
            or not isinstance(max_per_second, (int, float))
            or not math.isfinite(max_per_second)
            or max_per_second < 0
        ):
            raise ValueError(
                f"max_per_second: must be a finite number >= 0, got {max_per_second!r}"
            )
        if not callable(clock):
            raise ValueError(f"clock: must be callable, got {type(clock).__name__}")
        self.max_per_second = float(max_per_second)
        self._clock = clock
        self._capacity = max(1.0, self.max_per_second)
        self._tokens = self._capacity if self.max_per_second else 0.0
        self._last = clock()
        self._lock = threading.Lock()

    def _take(self) -> bool:
        with self._lock:
            now = self._clock()
            elapsed = max(0.0, now - self._last)
            self._last = now
            self._tokens = min(self._capacity, self._tokens + elapsed * self.max_per_second)
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        """Sample while tokens remain (a failing clock: the parent's decision)."""
        try:
            take = self._take()
        except Exception:
            _sampler_failed(self)
            return _safe_decision(parent_context, attributes)
        if take:
            return SamplingResult(
                Decision.RECORD_AND_SAMPLE, attributes, _parent_trace_state(parent_context)
            )
        return SamplingResult(Decision.DROP, None, _parent_trace_state(parent_context))

    def get_description(self) -> str:
        """Name and rate."""
        return f"RateLimitingSampler{{{self.max_per_second:g}/s}}"


@dataclass(frozen=True)
class SamplingRule:
    """Spans whose name matches ``name`` (a glob, e.g. ``"GET /health*"``) and whose start
    attributes equal every entry of ``attributes`` are decided by ``sampler``.

    A rule with neither ``name`` nor ``attributes`` matches every span.
    """

    sampler: Sampler
    name: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_sampler("sampler", self.sampler)
        if self.name is not None and (not isinstance(self.name, str) or not self.name):
            raise ValueError(f"name: must be a non-empty glob or None, got {self.name!r}")
        if not isinstance(self.attributes, Mapping):
            raise ValueError(f"attributes: must be a mapping, got {type(self.attributes).__name__}")
        object.__setattr__(
            self, "_name_rx", re.compile(fnmatch.translate(self.name)) if self.name else None
        )

    def matches(self, name: str, attributes: Attributes) -> bool:
        """Whether this rule applies to a span starting with ``name`` and ``attributes``."""
        rx: re.Pattern[str] | None = getattr(self, "_name_rx")  # noqa: B009 - set in post-init
        if rx is not None and not rx.match(name):
            return False
        attrs = attributes or {}
        return all(attrs.get(k) == v for k, v in self.attributes.items())


class _RoutingSampler(Sampler):
    """A sampler that picks another sampler from the span's name and start attributes and lets
    it decide. When that raises, the parent's decision is taken (see :func:`_safe_decision`)."""

    def route(self, name: str, attributes: Attributes) -> Sampler:
        """The sampler that decides for a span starting with ``name`` and ``attributes``."""
        raise NotImplementedError

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        """Ask the routed sampler."""
        try:
            return self.route(name, attributes).should_sample(
                parent_context, trace_id, name, kind, attributes, links, trace_state
            )
        except Exception:
            _sampler_failed(self)
            return _safe_decision(parent_context, attributes)


class RuleBasedSampler(_RoutingSampler):
    """Decides root spans by the first matching :class:`SamplingRule`, else ``fallback``.

    A span with a valid parent (local or remote) follows the parent's sampled flag and no rule
    is consulted: a trace is kept or dropped as a whole, never left with holes or orphans.
    """

    def __init__(self, rules: Sequence[SamplingRule], fallback: Sampler = ALWAYS_ON) -> None:
        if isinstance(rules, (str, bytes)) or not all(isinstance(r, SamplingRule) for r in rules):
            raise ValueError("rules: every entry must be a SamplingRule")
        _check_sampler("fallback", fallback)
        self.rules = tuple(rules)
        self.fallback = fallback

    def route(self, name: str, attributes: Attributes) -> Sampler:
        """First match wins."""
        return next((r.sampler for r in self.rules if r.matches(name, attributes)), self.fallback)

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        """Follow a valid parent; route a root span through the rules."""
        try:
            parent = get_current_span(parent_context).get_span_context()
        except Exception:
            _sampler_failed(self)
            return _safe_decision(parent_context, attributes)
        if parent.is_valid:
            follow = ALWAYS_ON if parent.trace_flags.sampled else ALWAYS_OFF
            return follow.should_sample(
                parent_context, trace_id, name, kind, attributes, links, trace_state
            )
        return super().should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        """Rules and fallback."""
        rules = ",".join(f"{r.name or '*'}->{r.sampler.get_description()}" for r in self.rules)
        return f"RuleBasedSampler{{{rules};fallback={self.fallback.get_description()}}}"


class KeepMirroredEvents(_RoutingSampler):
    """Always samples spans that carry a mirrored resilience event; delegates the rest."""

    def __init__(self, delegate: Sampler) -> None:
        _check_sampler("delegate", delegate)
        self.delegate = delegate

    def route(self, name: str, attributes: Attributes) -> Sampler:
        """Marked spans are kept, the rest go to the delegate."""
        if attributes and attributes.get(semconv.MIRRORED_EVENT) is True:
            return ALWAYS_ON
        return self.delegate

    def get_description(self) -> str:
        """The delegate's description."""
        return self.delegate.get_description()


def ratio_sampler(ratio: float) -> Sampler:
    """Parent-based trace-id ratio: root spans kept with probability ``ratio``."""
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"ratio: must be within [0, 1], got {ratio!r}")
    return ParentBased(TraceIdRatioBased(ratio))


def rate_limited_sampler(
    max_per_second: float, clock: Callable[[], float] = time.monotonic
) -> Sampler:
    """Parent-based rate limit: at most ``max_per_second`` new traces per second."""
    return ParentBased(RateLimitingSampler(max_per_second, clock))


def _ratio(arg: str | None) -> float:
    try:
        return 1.0 if arg is None or arg == "" else float(arg)
    except ValueError:
        raise ValueError(f"sampler argument: {arg!r} is not a number") from None


def _rate(arg: str | None) -> float:
    if arg in (None, ""):
        raise ValueError("sampler argument: ratelimit needs traces per second, e.g. 'ratelimit:10'")
    return _ratio(arg)


_FACTORIES: dict[str, Callable[[str | None], Sampler]] = {
    "always_on": lambda _: ALWAYS_ON,
    "always_off": lambda _: ALWAYS_OFF,
    "parentbased_always_on": lambda _: ParentBased(ALWAYS_ON),
    "parentbased_always_off": lambda _: ParentBased(ALWAYS_OFF),
    "traceidratio": lambda a: TraceIdRatioBased(_ratio(a)),
    "parentbased_traceidratio": lambda a: ratio_sampler(_ratio(a)),
    "ratio": lambda a: ratio_sampler(_ratio(a)),
    "ratelimit": lambda a: rate_limited_sampler(_rate(a)),
    "resilience_ratelimit": lambda a: rate_limited_sampler(_rate(a)),
}

#: Names accepted by :func:`parse_sampler` and ``OTEL_TRACES_SAMPLER``.
SAMPLER_NAMES = tuple(_FACTORIES)


def parse_sampler(spec: str, arg: str | None = None) -> Sampler:
    """A sampler from ``"name"`` or ``"name:arg"`` (``arg`` may also be passed separately).

    Names: the standard ``always_on``, ``always_off``, ``traceidratio``,
    ``parentbased_always_on``, ``parentbased_always_off``, ``parentbased_traceidratio``, and
    ``ratio`` (= ``parentbased_traceidratio``) and ``ratelimit`` / ``resilience_ratelimit``
    (parent-based, at most ``arg`` traces per second). Raises ValueError naming an unknown one.
    """
    name, sep, inline = spec.strip().partition(":")
    name = name.strip().lower()
    if name not in _FACTORIES:
        raise ValueError(f"sampler: unknown sampler {name!r}; known: {', '.join(SAMPLER_NAMES)}")
    return _FACTORIES[name](inline.strip() if sep else arg)


def ratelimit_sampler_factory(arg: str | None = None) -> Sampler:
    """``opentelemetry_traces_sampler`` entry point; the SDK passes OTEL_TRACES_SAMPLER_ARG."""
    return rate_limited_sampler(_rate(arg))
