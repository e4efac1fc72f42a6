"""Compare functions for :class:`~otel_resilience.Shadow`: score a candidate against the primary.

A compare function takes ``(primary_result, candidate_result)`` and returns ``True`` / ``False``
or a score from 0 (nothing alike) to 1 (the same).
"""

from __future__ import annotations

import difflib
import json
from typing import Any

__all__ = ["equal", "json_structure_equal", "text_similarity"]


def equal(primary: Any, candidate: Any) -> bool:
    """``primary == candidate`` (the default)."""
    return bool(primary == candidate)


def text_similarity(primary: Any, candidate: Any) -> float:
    """How alike the two texts are, 0 to 1 (:class:`difflib.SequenceMatcher` ratio).

    Values that are not strings are compared by their ``str()``.
    """
    a = primary if isinstance(primary, str) else str(primary)
    b = candidate if isinstance(candidate, str) else str(candidate)
    if a == b:
        return 1.0
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def json_structure_equal(primary: Any, candidate: Any) -> bool:
    """Whether both have the same JSON shape: the same keys, list lengths and value kinds.

    Values themselves may differ (two answers with the same fields). Strings are parsed as
    JSON first when both parse; otherwise they are compared as strings (kind only).
    """
    return bool(_shape(_parsed(primary)) == _shape(_parsed(candidate)))


def _parsed(value: Any) -> Any:
    if isinstance(value, (str, bytes, bytearray)):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _shape(value: Any) -> Any:
    if isinstance(value, dict):
        return ("object", tuple(sorted((str(k), _shape(v)) for k, v in value.items())))
    if isinstance(value, (list, tuple)):
        return ("array", tuple(_shape(v) for v in value))
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return type(value).__qualname__
