"""Cross-process cache keys: the same call in any process gives the same string.

A call is named by its function's module and qualified name (plus its closure's values and a
partial's bound arguments) and its arguments, encoded as tagged JSON and hashed (SHA-256: the
arguments never reach Redis in clear). Only values with a stable encoding take part: strings,
numbers, bools, None, bytes, and tuples, lists, dicts, sets and frozensets of them. Anything
else (an object whose identity is its address, a bound method's instance) has no stable key:
the call uses the local cache only (give ``key=`` to share it).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from types import FunctionType
from typing import Any

__all__ = ["stable_call_key", "stable_key"]

_NUMBERS = (int, float, bool)


def _enc(obj: Any, depth: int = 0) -> Any:
    """A JSON value standing for ``obj``, distinct for distinct types; TypeError if none."""
    kind = type(obj)
    if kind is str or obj is None or kind in _NUMBERS:
        return obj
    if depth > 50:
        raise TypeError("nested too deep")
    if kind is tuple:
        return ["t", *(_enc(v, depth + 1) for v in obj)]
    if kind is list:
        return ["l", *(_enc(v, depth + 1) for v in obj)]
    if kind is dict:
        if not obj:  # no keyword arguments, the common case
            return ["d"]
        items = sorted((_dump(_enc(k, depth + 1)), _enc(v, depth + 1)) for k, v in obj.items())
        return ["d", *items]
    if kind is set or kind is frozenset:
        return ["s" if kind is set else "f", *sorted(_dump(_enc(v, depth + 1)) for v in obj)]
    if kind is bytes:
        return ["b", obj.hex()]
    raise TypeError(f"{kind.__qualname__} has no stable key")


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=True)


def _c_dump() -> Callable[[Any], str] | None:
    """The C encoder behind ``_ENCODER``, made once: ``json.dumps`` with options builds an
    encoder per call (three times the cost of a small key). None where it is missing or does
    not write what ``_ENCODER`` writes: keys must not change across Python builds."""
    try:
        make = getattr(json.encoder, "c_make_encoder", None)  # private: checked below
        if make is None:
            return None
        # No circular-reference markers: _enc builds a fresh tree of bounded depth.
        chunks = make(
            None, None, json.encoder.encode_basestring, None, ":", ",", False, False, True
        )

        def dump(value: Any) -> str:
            return "".join(chunks(value, 0))

        sample = ["é", 1, -2.5, float("nan"), None, True, ["t", {"k": "v"}]]
        return dump if dump(sample) == _ENCODER.encode(sample) else None
    except Exception:  # a Python without the C accelerator, or another signature
        return None


_dump: Callable[[Any], str] = _c_dump() or _ENCODER.encode


def _function(fn: Callable[..., Any]) -> Any:
    if isinstance(fn, functools.partial):
        kw = dict(fn.keywords)
        return ["p", _function(fn.func), _enc(fn.args), _enc(kw)]
    if type(fn) is not FunctionType:  # methods, callable objects: identity is per process
        raise TypeError(f"{type(fn).__qualname__} has no stable identity")
    cells = [_enc(c.cell_contents) for c in fn.__closure__ or ()]
    return [fn.__module__, fn.__qualname__, *cells]


def _digest(parts: Any) -> str:
    return hashlib.sha256(_dump(parts).encode()).hexdigest()


def stable_call_key(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> str | None:
    """The digest of a call, or None when some part of it has no stable encoding."""
    try:
        return _digest(["c", _function(fn), _enc(args), _enc(kwargs)])
    except (TypeError, ValueError):  # ValueError: an empty closure cell
        return None


def stable_key(key: Any) -> str | None:
    """The digest of a key given by the cache's ``key`` function, or None."""
    try:
        return _digest(["k", _enc(key)])
    except (TypeError, ValueError):
        return None
