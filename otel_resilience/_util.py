"""Small helpers shared by the strategies."""

from __future__ import annotations

from typing import Any

__all__ = ["category_name", "error_type", "result_error_type"]

_names: dict[type, str] = {}


def error_type(exc: BaseException) -> str:
    """The value of ``error.type`` for ``exc``: its fully-qualified class name.

    Builtins keep their bare name (``TimeoutError``), as Python's own tracebacks show them.
    """
    cls = type(exc)
    name = _names.get(cls)
    if name is None:
        module = cls.__module__
        name = cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"
        if len(_names) < 1024:  # bounded: classes created on the fly must not grow it forever
            _names[cls] = name
    return name


def result_error_type(value: Any) -> str:
    """The value of ``error.type`` for a returned result that failed: its HTTP status if any."""
    status = getattr(value, "status_code", None) or getattr(value, "status", None)
    if isinstance(status, int):
        return str(status)
    return "_OTHER"


def category_name(field: str, value: object) -> str:
    """The string of an error category, or ValueError naming ``field`` for a misspelt one."""
    from otel_resilience.classify import ErrorCategory

    try:
        return ErrorCategory(getattr(value, "value", value)).value
    except ValueError:
        known = ", ".join(c.value for c in ErrorCategory)
        raise ValueError(f"{field}: unknown error category {value!r} (known: {known})") from None


def check_callable(field: str, value: object) -> None:
    """ValueError naming ``field`` unless ``value`` is None or callable."""
    if value is not None and not callable(value):
        raise ValueError(f"{field} must be callable, got {value!r}")


def check_clock(field: str, value: object) -> None:
    """ValueError naming ``field`` unless ``value`` is None or has a clock's three methods."""
    if value is None:
        return
    if not all(callable(getattr(value, m, None)) for m in ("monotonic", "sleep", "asleep")):
        raise ValueError(f"{field} must have monotonic(), sleep() and asleep(), got {value!r}")


def check_classifier(field: str, value: object) -> None:
    """ValueError naming ``field`` unless ``value`` is None or has ``classify()``."""
    if value is not None and not callable(getattr(value, "classify", None)):
        raise ValueError(f"{field} must be an ErrorClassifier, got {value!r}")
