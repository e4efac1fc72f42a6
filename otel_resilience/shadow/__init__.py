"""Shadow traffic: call a candidate beside the primary, in the background, and compare."""

from otel_resilience.shadow.compare import equal, json_structure_equal, text_similarity
from otel_resilience.shadow.options import ShadowOptions
from otel_resilience.shadow.strategy import Shadow, ShadowStats

__all__ = [
    "Shadow",
    "ShadowOptions",
    "ShadowStats",
    "equal",
    "json_structure_equal",
    "text_similarity",
]
