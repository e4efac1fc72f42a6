"""Small helpers shared by the strategies."""

from __future__ import annotations

from typing import Any

from otel_resilience._validate import check_callable, check_classifier, check_clock

__all__ = [
    "category_name",
    "check_callable",
    "check_classifier",
    "check_clock",
    "error_type",
    "result_error_type",
]

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
