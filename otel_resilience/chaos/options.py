"""Chaos options: validated once, frozen."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from otel_resilience._validate import check_choice, check_ratio, check_seconds

__all__ = ["CHAOS_KINDS", "ChaosKind", "ChaosOptions"]

ChaosKind = Literal["fault", "latency", "result"]
CHAOS_KINDS: tuple[str, ...] = ("fault", "latency", "result")


@dataclass(frozen=True, slots=True, kw_only=True)
class ChaosOptions:
    """What a :class:`~otel_resilience.chaos.Chaos` injects, into which share of calls.

    ``kind="fault"`` needs ``error`` (an exception instance or class), ``kind="latency"``
    needs ``seconds``; ``kind="result"`` returns ``value`` (``None`` unless given).
    ``enabled=None`` defers to the environment (``OTEL_RESILIENCE_CHAOS``).
    """

    kind: ChaosKind
    rate: float
    error: Any = None
    seconds: float | None = None
    value: Any = None
    seed: int | None = None
    enabled: bool | None = None

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, CHAOS_KINDS)
        check_ratio("rate", self.rate)
        if self.kind == "fault":
            error = self.error
            is_class = isinstance(error, type) and issubclass(error, Exception)
            if not (is_class or isinstance(error, Exception)):
                raise ValueError(f"error must be an Exception instance or class, got {error!r}")
        if self.kind == "latency":
            check_seconds("seconds", self.seconds, positive=True)
        if self.seed is not None and (
            isinstance(self.seed, bool) or not isinstance(self.seed, int)
        ):
            raise ValueError(f"seed must be an integer or None, got {self.seed!r}")
        if self.enabled is not None and not isinstance(self.enabled, bool):
            raise ValueError(f"enabled must be True, False or None, got {self.enabled!r}")
