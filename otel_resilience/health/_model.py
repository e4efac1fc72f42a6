"""Health statuses, check results and the validated options of one registered check."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CheckOptions", "HealthResult", "HealthStatus"]


class HealthStatus(str, enum.Enum):
    """The health of one check, or of the whole registry."""

    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"
    UNKNOWN = "unknown"  # not checked yet

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class HealthResult:
    """What a check may return instead of a bool: a status and optional details.

    ``details`` should hold small, non-sensitive facts (counts, versions): it is shown on the
    endpoints and in :meth:`HealthRegistry.report`.
    """

    status: HealthStatus
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.status, HealthStatus):
            try:
                object.__setattr__(self, "status", HealthStatus(self.status))
            except ValueError:
                raise ValueError(f"status must be a HealthStatus, got {self.status!r}") from None


def _positive(name: str, value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


@dataclass(frozen=True, kw_only=True)
class CheckOptions:
    """Options of one registered check, validated at construction."""

    timeout: float = 5.0
    interval: float = 30.0
    critical: bool = True
    #: Consecutive failures before the check reads unhealthy; fewer read degraded.
    failure_threshold: int = 1

    def __post_init__(self) -> None:
        _positive("timeout", self.timeout)
        _positive("interval", self.interval)
        if not isinstance(self.critical, bool):
            raise ValueError(f"critical must be a bool, got {self.critical!r}")
        if (
            isinstance(self.failure_threshold, bool)
            or not isinstance(self.failure_threshold, int)
            or self.failure_threshold < 1
        ):
            raise ValueError(
                f"failure_threshold must be an int >= 1, got {self.failure_threshold!r}"
            )


@dataclass(frozen=True, kw_only=True)
class RegistryOptions:
    """Options of a HealthRegistry, validated at construction."""

    #: Seconds over which each check's success rate is computed.
    window: float = 300.0
    #: At most this many outcomes per check are kept for the success rate.
    window_size: int = 256
    #: At most this many status changes are kept for :meth:`HealthRegistry.events`.
    max_events: int = 100

    def __post_init__(self) -> None:
        _positive("window", self.window)
        for name in ("window_size", "max_events"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
