"""Hedging options, validated once at construction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from otel_resilience._filter import ExceptionFilter
from otel_resilience._validate import check_count, check_seconds

__all__ = ["HedgingOptions"]


@dataclass(frozen=True, slots=True, kw_only=True)
class HedgingOptions:
    """The options of a :class:`~otel_resilience.hedging.Hedging`.

    ``max_hedges``: extra attempts at most (``>= 1``). ``delay``: seconds without an answer
    before the next attempt starts (``>= 0``). ``on``: the failures that start the next attempt
    at once (Retry's ``retry_on`` forms: categories, exception types, or a predicate); default:
    every ``Exception``. Any other failure ends the call at once.
    """

    max_hedges: int = 1
    delay: float = 0.1
    on: Any = None

    def __post_init__(self) -> None:
        check_count("max_hedges", self.max_hedges, maximum=16)
        check_seconds("delay", self.delay)
        ExceptionFilter("on", self.on)  # raises ValueError naming ``on``
