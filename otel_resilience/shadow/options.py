"""The options of a Shadow, validated at construction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from otel_resilience._validate import check_callable, check_count, check_seconds
from otel_resilience._variants import check_name, check_percent

__all__ = ["ShadowOptions"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ShadowOptions:
    """Every option of a :class:`~otel_resilience.Shadow` (see its docstring)."""

    candidate: Callable[..., Any]
    percent: float = 100.0
    compare: Callable[[Any, Any], Any] | None = None
    max_in_flight: int = 4
    timeout: float = 30.0
    key: Callable[..., Any] | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        if not callable(self.candidate):
            raise ValueError(f"candidate must be callable, got {self.candidate!r}")
        check_percent("percent", self.percent)
        check_callable("compare", self.compare)
        check_count("max_in_flight", self.max_in_flight, maximum=1024)
        check_seconds("timeout", self.timeout, positive=True)
        check_callable("key", self.key)
        check_name("name", self.name)
