"""Cheap reads of the SDKs' response objects, for the per-chunk path of streams.

``getattr`` on a pydantic model for a name it lacks runs pydantic's ``__getattr__``, which
raises and formats an ``AttributeError`` (tens of thousands of instructions), and
``isinstance(x, Mapping)`` is an ABC check. :func:`view` decides once per type how its
instances keep their fields, then hands out a mapping to ``.get`` from, with the values
``getattr(obj, name, None)`` would give:

* dicts and other mappings: themselves;
* pydantic v2 models: their ``__dict__`` (the declared fields, defaults filled in), merged over
  ``__pydantic_extra__`` when the model holds undeclared fields (rare: a copy, then);
* pydantic v1 models: their ``__dict__`` (extras included);
* anything else: a read-only view through ``getattr``.

Class attributes (properties, methods) are not seen in a model's ``__dict__``: the readers only
ask for data fields, which the SDKs' models declare as fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["get", "view"]

_MAPPING, _V2, _V1, _OTHER = range(4)
#: Kind of each type seen (bounded: types beyond it are decided again per object).
_KINDS: dict[type, int] = {dict: _MAPPING}
_MAX_KINDS = 512


class _Attrs:
    """``getattr`` behind the ``.get`` of a mapping, for objects of no known kind."""

    __slots__ = ("_obj",)

    def __init__(self, obj: Any) -> None:
        self._obj = obj

    def get(self, name: str, default: Any = None) -> Any:
        return getattr(self._obj, name, default)


def view(obj: Any) -> Mapping[str, Any]:
    """``obj``'s fields as a mapping to read with ``.get`` (never raises for a missing name)."""
    cls = type(obj)
    kind = _KINDS.get(cls)
    if kind is None:
        kind = _kind(cls)
        if len(_KINDS) < _MAX_KINDS:
            _KINDS[cls] = kind
    if kind == _V2:
        extra = obj.__pydantic_extra__
        return {**extra, **obj.__dict__} if extra else obj.__dict__
    if kind == _MAPPING:
        return obj  # type: ignore[no-any-return]
    if kind == _V1:
        return obj.__dict__  # type: ignore[no-any-return]
    return _Attrs(obj)  # type: ignore[return-value]


def _kind(cls: type) -> int:
    if issubclass(cls, Mapping):
        return _MAPPING
    # pydantic's own slots (pydantic is never imported here: the SDKs bring it)
    if _has(cls, "__pydantic_extra__"):
        return _V2
    if _has(cls, "__fields_set__") and _has(cls, "__fields__"):
        return _V1
    return _OTHER


def _has(cls: type, name: str) -> bool:
    return any(name in vars(base) for base in cls.__mro__)


def get(obj: Any, name: str) -> Any:
    """``getattr(obj, name, None)``, or ``obj.get(name)`` for a mapping: without exceptions."""
    if obj is None:
        return None
    return view(obj).get(name)
