"""Bulkhead options, validated at construction."""

from __future__ import annotations

from dataclasses import dataclass

from otel_resilience._validate import check_count, check_seconds

__all__ = ["MAX_PERMITS", "BulkheadOptions"]

#: Upper bound of ``max_concurrent`` and ``max_queue``: larger values are configuration mistakes.
MAX_PERMITS = 1_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class BulkheadOptions:
    """Every tunable of a Bulkhead; see :class:`~otel_resilience.bulkhead.Bulkhead`."""

    max_concurrent: int
    max_queue: int = 0
    queue_timeout: float | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        check_count("max_concurrent", self.max_concurrent, maximum=MAX_PERMITS)
        check_count("max_queue", self.max_queue, minimum=0, maximum=MAX_PERMITS)
        check_seconds("queue_timeout", self.queue_timeout, optional=True)
        if self.name is not None and (not isinstance(self.name, str) or not self.name):
            raise ValueError(f"name must be a non-empty string or None, got {self.name!r}")
