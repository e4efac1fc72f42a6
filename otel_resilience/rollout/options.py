"""The options of a Rollout, validated at construction."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from otel_resilience._validate import MAX_SECONDS, check_callable, check_count, check_seconds
from otel_resilience._variants import check_name

__all__ = ["RolloutOptions", "normalise_schedule"]


def normalise_schedule(schedule: object) -> tuple[tuple[float, float], ...]:
    """``schedule`` as ``((seconds, share), ...)``: seconds rising from 0, shares in [0, 1]."""
    if isinstance(schedule, (str, bytes)) or not isinstance(schedule, Sequence) or not schedule:
        raise ValueError(
            f"schedule must be a non-empty list of (seconds, share) pairs, got {schedule!r}"
        )
    out: list[tuple[float, float]] = []
    for i, step in enumerate(schedule):
        ok = isinstance(step, (tuple, list)) and len(step) == 2
        if ok:
            seconds, share = step
            ok = all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                for v in (seconds, share)
            )
        if not ok or not 0 <= seconds <= MAX_SECONDS or not 0 <= share <= 1:
            raise ValueError(
                f"schedule[{i}] must be a (seconds >= 0, share from 0 to 1) pair, got {step!r}"
            )
        if out and seconds <= out[-1][0]:
            raise ValueError(
                f"schedule[{i}] must start after schedule[{i - 1}] ({out[-1][0]:g} s), "
                f"got {seconds!r}"
            )
        out.append((float(seconds), float(share)))
    return tuple(out)


@dataclass(frozen=True, slots=True, kw_only=True)
class RolloutOptions:
    """Every option of a :class:`~otel_resilience.Rollout` (see its docstring)."""

    candidate: Callable[..., Any]
    schedule: Sequence[tuple[float, float]]
    key: Callable[..., Any] | None = None
    window: float = 60.0
    margin: float = 0.05
    latency_margin: float | None = None
    min_calls: int = 20
    name: str | None = None

    def __post_init__(self) -> None:
        if not callable(self.candidate):
            raise ValueError(f"candidate must be callable, got {self.candidate!r}")
        normalise_schedule(self.schedule)
        check_callable("key", self.key)
        check_seconds("window", self.window, positive=True)
        ok = isinstance(self.margin, (int, float)) and not isinstance(self.margin, bool)
        if not ok or not 0 <= self.margin <= 1:
            raise ValueError(
                f"margin must be an error-rate difference from 0 to 1, got {self.margin!r}"
            )
        lm = self.latency_margin
        if lm is not None and (
            isinstance(lm, bool) or not isinstance(lm, (int, float)) or not 0 <= lm < math.inf
        ):
            raise ValueError(f"latency_margin must be a finite ratio >= 0 or None, got {lm!r}")
        check_count("min_calls", self.min_calls)
        check_name("name", self.name)
