"""Resource budgets: wall time, CPU time and memory limits of a block (see docs/budgets.md)."""

from __future__ import annotations

from ._model import BudgetExceededError, BudgetOptions, Violation
from .strategy import Budget

__all__ = ["Budget", "BudgetExceededError", "BudgetOptions", "Violation"]
