"""The options of an ABTest, validated at construction."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from otel_resilience._validate import check_callable, check_count
from otel_resilience._variants import check_name

__all__ = ["ABTestOptions"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ABTestOptions:
    """Every option of an :class:`~otel_resilience.ABTest` (see its docstring)."""

    variants: Mapping[str, Callable[..., Any]]
    key: Callable[..., Any] | None = None
    weights: Mapping[str, float] | None = None
    metric: Callable[[Any], float] | None = None
    control: str = "control"
    name: str | None = None
    max_samples: int = 100_000

    def __post_init__(self) -> None:
        check_name("control", self.control, optional=False)
        if not isinstance(self.variants, Mapping) or not self.variants:
            raise ValueError(
                f"variants must be a non-empty mapping of name to callable, got {self.variants!r}"
            )
        for name, fn in self.variants.items():
            if not isinstance(name, str) or not name or name == self.control:
                raise ValueError(
                    f"variants: names must be non-empty strings other than the control's "
                    f"({self.control!r}), got {name!r}"
                )
            if not callable(fn):
                raise ValueError(f"variants[{name!r}] must be callable, got {fn!r}")
        if self.weights is not None:
            arms = {self.control, *self.variants}
            if not isinstance(self.weights, Mapping) or set(self.weights) != arms:
                raise ValueError(
                    f"weights must map each of {sorted(arms)} to a weight, got {self.weights!r}"
                )
            for name, weight in self.weights.items():
                ok = isinstance(weight, (int, float)) and not isinstance(weight, bool)
                if not ok or not math.isfinite(weight) or weight < 0:
                    raise ValueError(f"weights[{name!r}] must be a number >= 0, got {weight!r}")
            if not sum(self.weights.values()) > 0:
                raise ValueError("weights must not all be 0")
        check_callable("key", self.key)
        check_callable("metric", self.metric)
        check_name("name", self.name)
        check_count("max_samples", self.max_samples, minimum=2)
