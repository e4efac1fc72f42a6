"""Retry budget: gRPC-style retry throttling (or a percentage of requests) shared by Retries."""

from otel_resilience.retry_budget.budget import RetryBudget
from otel_resilience.retry_budget.options import RetryBudgetOptions

__all__ = ["RetryBudget", "RetryBudgetOptions"]
