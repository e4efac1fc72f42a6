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


#: Up to this many characters (both texts), the ratio is over characters; beyond, over words.
CHAR_LIMIT = 2_000
#: Beyond this many words (both texts), the order-free overlap of the words.
WORD_LIMIT = 20_000


def text_similarity(primary: Any, candidate: Any) -> float:
    """How alike the two texts are, 0 to 1 (:class:`difflib.SequenceMatcher` ratio).

    The ratio's cost grows with the product of the lengths (two 20 KB answers: ~15 s over
    characters), so long texts are compared by coarser units: over characters up to
    :data:`CHAR_LIMIT` characters in all, over words (split on whitespace) up to
    :data:`WORD_LIMIT` words, then by the share of words they have in common, in any order
    (``quick_ratio``, linear). Values that are not strings are compared by their ``str()``.
    """
    a = primary if isinstance(primary, str) else str(primary)
    b = candidate if isinstance(candidate, str) else str(candidate)
    if a == b:
        return 1.0
    if len(a) + len(b) <= CHAR_LIMIT:
        return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()
    words_a, words_b = a.split(), b.split()
    matcher = difflib.SequenceMatcher(None, words_a, words_b, autojunk=False)
    if len(words_a) + len(words_b) <= WORD_LIMIT:
        return matcher.ratio()
    return matcher.quick_ratio()


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
