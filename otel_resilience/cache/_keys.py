"""Default cache keys: what the function is, and its arguments, normalised.

A function without a closure is identified by itself. A closure is identified by its code and
the objects it captured, by identity (not by the function object, which a closure re-creates
on each call, nor by its name alone, which closures made by one factory share): two calls hit
the same entry when the same code with the same captured objects got the same arguments. A
bound method is identified by its function and its instance; any other callable (a partial,
an object with ``__call__``) by itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable
from types import CodeType, FunctionType
from typing import Any

__all__ = ["CALL_KEY", "call_key", "frozen_call_key", "key_matcher"]

#: First item of default keys: ``(CALL_KEY, function identity, args, kwargs)``.
CALL_KEY: Any = object()


class _Same:
    """A captured object, equal only to itself (it may be mutable, or unhashable)."""

    __slots__ = ("obj",)

    def __init__(self, obj: object) -> None:
        self.obj = obj

    def __hash__(self) -> int:
        return id(self.obj)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.obj is self.obj


def _identity(fn: Any) -> Any:
    if type(fn) is FunctionType:
        closure = fn.__closure__
        if closure is None:  # the function object: hashing a code object would cost more
            return fn
        try:
            return (_Same(fn.__code__), tuple(_Same(cell.cell_contents) for cell in closure))
        except ValueError:  # an empty cell: the function object itself, then
            return fn
    return fn


def call_key(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Hashable:
    """The key of a call; keyword order does not matter. May be unhashable (see below)."""
    return (CALL_KEY, _identity(fn), args, tuple(sorted(kwargs.items())) if kwargs else ())


def frozen_call_key(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Hashable:
    """:func:`call_key` with lists, dicts and sets made hashable; TypeError if still not."""
    key = (
        CALL_KEY,
        _freeze(_identity(fn)),
        _freeze(args),
        tuple(sorted((k, _freeze(v)) for k, v in kwargs.items())),
    )
    hash(key)
    return key


def _freeze(obj: Any) -> Any:
    """A hashable stand-in for ``obj``, tagged with its type so ``[1]`` and ``(1,)`` differ."""
    if isinstance(obj, tuple):
        return tuple(_freeze(v) for v in obj)
    if isinstance(obj, list):
        return (list, tuple(_freeze(v) for v in obj))
    if isinstance(obj, dict):
        return (dict, frozenset((k, _freeze(v)) for k, v in obj.items()))
    if isinstance(obj, (set, frozenset)):
        return (type(obj), frozenset(_freeze(v) for v in obj))
    return obj


def key_name(key: Hashable) -> str | None:
    """The string a regex is searched in: a string key, or a default key's qualified name."""
    if isinstance(key, str):
        return key
    if not (isinstance(key, tuple) and len(key) == 4 and key[0] is CALL_KEY):
        return None
    ident = key[1]
    if isinstance(ident, tuple) and ident and isinstance(ident[0], _Same):
        ident = ident[0].obj
    if isinstance(ident, CodeType):
        return getattr(ident, "co_qualname", ident.co_name)  # co_qualname: 3.11+
    qualname = getattr(ident, "__qualname__", None)
    return qualname if isinstance(qualname, str) else repr(ident)


def key_matcher(pattern: str | re.Pattern[str] | Callable[[Hashable], bool]) -> Callable[..., bool]:
    """A predicate on keys: ``pattern`` itself, or a regex searched in :func:`key_name`."""
    if isinstance(pattern, str):
        pattern = re.compile(pattern)
    if not isinstance(pattern, re.Pattern):
        if callable(pattern):
            return pattern
        raise ValueError(
            f"pattern must be a regex string, a compiled regex or a predicate, got {pattern!r}"
        )
    search = pattern.search

    def match(key: Hashable) -> bool:
        name = key_name(key)
        return name is not None and search(name) is not None

    return match
