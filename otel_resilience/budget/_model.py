"""Budget options, violations and the error raised for them."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Literal

from otel_resilience.errors import ResilienceError

__all__ = ["BudgetExceededError", "BudgetOptions", "Violation"]

BudgetMode = Literal["raise", "record"]
MemoryMode = Literal["rss", "tracemalloc"]


@dataclass(frozen=True, slots=True)
class Violation:
    """One resource over its limit: ``resource`` (duration, cpu, memory), ``limit``, ``used``."""

    resource: str
    limit: float
    used: float

    def __str__(self) -> str:
        unit = "bytes" if self.resource == "memory" else "s"
        return f"{self.resource} {self.used:g} {unit} > limit {self.limit:g} {unit}"


class BudgetExceededError(ResilienceError):
    """A block guarded by a :class:`~otel_resilience.Budget` used more than a limit.

    ``violations`` lists each resource over its limit.
    """

    def __init__(self, name: str, violations: tuple[Violation, ...]) -> None:
        self.name = name
        self.violations = violations
        super().__init__(f"budget {name!r} exceeded: " + "; ".join(map(str, violations)))

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.name, self.violations))


def _limit(name: str, value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be a positive number or None; got {value!r}")


@dataclass(frozen=True, kw_only=True)
class BudgetOptions:
    """Limits (seconds, CPU seconds, bytes; ``None`` = unlimited) and what a violation does."""

    max_duration: float | None = None
    max_cpu: float | None = None
    max_memory: int | None = None
    mode: BudgetMode = "raise"
    memory: MemoryMode = "rss"
    name: str | None = None

    def __post_init__(self) -> None:
        _limit("max_duration", self.max_duration)
        _limit("max_cpu", self.max_cpu)
        _limit("max_memory", self.max_memory)
        if self.mode not in ("raise", "record"):
            raise ValueError(f"mode must be 'raise' or 'record'; got {self.mode!r}")
        if self.memory not in ("rss", "tracemalloc"):
            raise ValueError(f"memory must be 'rss' or 'tracemalloc'; got {self.memory!r}")
        if self.memory == "rss" and self.max_memory is not None and sys.platform == "win32":
            raise ValueError("memory: 'rss' is not measured on Windows; use 'tracemalloc'")
        if self.name is not None and (not isinstance(self.name, str) or not self.name):
            raise ValueError(f"name must be a non-empty string or None; got {self.name!r}")
