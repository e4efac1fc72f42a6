"""Bulkhead: bound concurrent calls of threads and tasks together, queue a few, refuse the rest."""

from otel_resilience.bulkhead.options import BulkheadOptions
from otel_resilience.bulkhead.strategy import Bulkhead

__all__ = ["Bulkhead", "BulkheadOptions"]
