"""RetryBudget options: validated once, frozen."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from otel_resilience._validate import check_choice, check_seconds

__all__ = ["BUDGET_KINDS", "BudgetKind", "RetryBudgetOptions"]

BudgetKind = Literal["tokens", "percent"]
BUDGET_KINDS: tuple[str, ...] = ("tokens", "percent")

#: Tokens are kept in thousandths (as gRPC does): exact arithmetic, no drift at the threshold.
MILLI = 1000
#: gRPC's bounds: at most 1000 tokens, ratios in thousandths.
_MAX_TOKENS = 1000
_MAX = 1_000_000


def _check_number(field: str, value: object, low: float, high: float) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not low <= value <= high:  # type: ignore[operator]
        raise ValueError(f"{field} must be a finite number in [{low:g}, {high:g}], got {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryBudgetOptions:
    """Every option of a :class:`~otel_resilience.retry_budget.RetryBudget`.

    ``kind="tokens"`` (gRPC retry throttling) uses ``max_tokens`` and ``token_ratio``;
    ``kind="percent"`` (Finagle/Envoy style) uses ``percent``, ``min_retries_per_second`` and
    ``window``. The options of the other kind are validated but unused.
    """

    kind: BudgetKind = "tokens"
    max_tokens: float = 10
    token_ratio: float = 0.1
    percent: float = 20.0
    min_retries_per_second: float = 10.0
    window: float = 10.0

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, BUDGET_KINDS)
        _check_number("max_tokens", self.max_tokens, 1, _MAX_TOKENS)
        _check_number("token_ratio", self.token_ratio, 0.001, _MAX_TOKENS)
        _check_number("percent", self.percent, 0, 100)
        _check_number("min_retries_per_second", self.min_retries_per_second, 0, _MAX)
        check_seconds("window", self.window, positive=True)
        if self.kind == "percent" and self.percent == 0 and self.min_retries_per_second == 0:
            raise ValueError(
                "percent and min_retries_per_second must not both be 0 (no retry could ever start)"
            )

    @property
    def max_milli(self) -> int:
        """``max_tokens`` in thousandths of a token."""
        return round(self.max_tokens * MILLI)

    @property
    def ratio_milli(self) -> int:
        """``token_ratio`` in thousandths of a token (rounded, as gRPC does)."""
        return max(1, round(self.token_ratio * MILLI))
