"""Small helpers shared by the strategies."""

from __future__ import annotations

from functools import lru_cache

__all__ = ["error_type"]


@lru_cache(maxsize=512)
def _type_name(cls: type) -> str:
    module = cls.__module__
    if module == "builtins":
        return cls.__qualname__
    return f"{module}.{cls.__qualname__}"


def error_type(exc: BaseException) -> str:
    """The value of ``error.type`` for ``exc``: its fully-qualified class name."""
    return _type_name(type(exc))
