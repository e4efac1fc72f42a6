"""Validation of options, one message style: ``"{field} must be ..., got {value!r}"``.

Every strategy's options dataclass calls these from ``__post_init__`` so that invalid
configuration fails at construction, with a ``ValueError`` naming the field.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = [
    "MAX_SECONDS",
    "check_callable",
    "check_choice",
    "check_classifier",
    "check_clock",
    "check_count",
    "check_flag",
    "check_ratio",
    "check_seconds",
]

#: The longest duration any option accepts (one week): longer waits are configuration mistakes,
#: and :func:`time.sleep` overflows on values far beyond it.
MAX_SECONDS = 7 * 24 * 3600.0


def check_seconds(
    field: str, value: object, *, positive: bool = False, optional: bool = False
) -> None:
    """A finite number of seconds in ``[0, MAX_SECONDS]`` (``> 0`` when ``positive``)."""
    if value is None and optional:
        return
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (positive and value == 0) or value > MAX_SECONDS:  # type: ignore[operator]
        low = "> 0" if positive else ">= 0"
        raise ValueError(
            f"{field} must be a finite number of seconds {low} and <= {MAX_SECONDS:g}, "
            f"got {value!r}"
        )


def check_count(field: str, value: object, *, minimum: int = 1, maximum: int | None = None) -> None:
    """An integer (not a bool) in ``[minimum, maximum]``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{field} must be an integer >= {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{field} must be an integer <= {maximum}, got {value!r}")


def check_ratio(field: str, value: object) -> None:
    """A ratio in ``(0, 1]``."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not 0.0 < value <= 1.0:  # type: ignore[operator]
        raise ValueError(f"{field} must be a ratio in (0, 1], got {value!r}")


def check_flag(field: str, value: object) -> None:
    """A real bool: ``"false"`` is a non-empty string, hence truthy, hence refused."""
    if not isinstance(value, bool):
        raise ValueError(f"{field} must be True or False, got {value!r}")


def check_callable(field: str, value: object) -> None:
    """``None`` or a callable."""
    if value is not None and not callable(value):
        raise ValueError(f"{field} must be callable, got {value!r}")


def check_clock(field: str, value: object) -> None:
    """``None`` or an object with a clock's ``monotonic()``, ``sleep()`` and ``asleep()``."""
    if value is None:
        return
    if not all(callable(getattr(value, m, None)) for m in ("monotonic", "sleep", "asleep")):
        raise ValueError(f"{field} must have monotonic(), sleep() and asleep(), got {value!r}")


def check_classifier(field: str, value: object) -> None:
    """``None`` or an object with ``classify()``."""
    if value is not None and not callable(getattr(value, "classify", None)):
        raise ValueError(f"{field} must be an ErrorClassifier, got {value!r}")


def check_choice(field: str, value: Any, choices: tuple[str, ...]) -> None:
    """One of ``choices``."""
    if value not in choices:
        raise ValueError(f"{field} must be one of {', '.join(map(repr, choices))}, got {value!r}")
