"""The options of a Fallback, validated at construction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from otel_resilience._filter import ExceptionFilter
from otel_resilience._validate import check_callable
from otel_resilience.fallback._core import NO_VALUE, normalise_chain

__all__ = ["FallbackOptions"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FallbackOptions:
    """Every option of a :class:`~otel_resilience.fallback.Fallback`, validated at construction.

    Exactly one of ``value``, ``handler`` and ``chain`` is given.
    """

    value: Any = NO_VALUE
    handler: Callable[[Any], Any] | None = None
    chain: Sequence[Any] | None = None
    on: Any = None
    on_result: Callable[[Any], bool] | None = None

    def __post_init__(self) -> None:
        given = [
            name
            for name, unset in (
                ("value", self.value is NO_VALUE),
                ("handler", self.handler is None),
                ("chain", self.chain is None),
            )
            if not unset
        ]
        if len(given) != 1:
            raise ValueError(
                "value, handler, chain: give exactly one of them, got "
                + (", ".join(given) if given else "none")
            )
        if self.handler is not None and not callable(self.handler):
            raise ValueError(f"handler must be callable, got {self.handler!r}")
        if self.chain is not None:
            normalise_chain(self.chain)  # raises ValueError naming chain[i]
        ExceptionFilter("on", self.on)  # raises ValueError naming on
        check_callable("on_result", self.on_result)
