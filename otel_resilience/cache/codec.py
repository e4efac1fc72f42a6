"""Codecs of a ResponseCache's shared (L2) entries: values to bytes and back.

The default, :data:`JSON_CODEC`, stores only what JSON gives back unchanged (``None``, bools,
ints, floats, strings, lists and dicts with string keys, exactly those types): anything else
is "cannot encode" and stays in the local cache. :class:`PickleCodec` stores any picklable
value but runs code on decode: it is never used unless given explicitly, and only where every
process writing to the Redis is trusted.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = ["JSON_CODEC", "Codec", "JsonCodec", "PickleCodec"]

_SCALARS = (str, int, float, bool, type(None))


@runtime_checkable
class Codec(Protocol):
    """Turns cached values into bytes and back; ``encode`` raises for what it cannot encode."""

    def encode(self, value: Any) -> bytes:
        """The bytes of ``value``; any exception means "keep it local"."""
        ...

    def decode(self, data: bytes) -> Any:
        """The value of ``data`` (made by :meth:`encode`, possibly in another process)."""
        ...


def _check(value: Any, depth: int = 0) -> None:
    """TypeError unless JSON gives ``value`` back with the same types (no tuple, no int key)."""
    kind = type(value)
    if kind in _SCALARS:
        return
    if depth > 100:
        raise TypeError("nested too deep for the JSON codec")
    if kind is list:
        for item in value:
            _check(item, depth + 1)
    elif kind is dict:
        for k, v in value.items():
            if type(k) is not str:
                raise TypeError(f"dict key {type(k).__name__} is not a str")
            _check(v, depth + 1)
    else:
        raise TypeError(f"{kind.__qualname__} does not survive a JSON round trip")


_RAW_DECODE: Any = None


def _raw_decoder() -> Any:
    """``JSONDecoder().raw_decode``, made once: ``json.loads`` costs about twice as much on a
    small document (encoding detection, and a whitespace check after the value)."""
    global _RAW_DECODE
    import json  # here: a cache without a shared level never imports it

    _RAW_DECODE = json.JSONDecoder().raw_decode
    return _RAW_DECODE


class JsonCodec:
    """JSON (UTF-8), refusing values that would come back as another type."""

    __slots__ = ()

    def encode(self, value: Any) -> bytes:
        """Compact JSON; TypeError for tuples, sets, objects, non-str keys, subclasses."""
        import json  # here: a cache without a shared level never imports it

        _check(value)
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()

    def decode(self, data: bytes) -> Any:
        """The value back."""
        raw = _RAW_DECODE or _raw_decoder()
        if type(data) is bytes:  # what the store reads: one UTF-8 document, no detection
            try:
                text = data.decode()
                value, end = raw(text)
            except ValueError:  # UnicodeDecodeError too: json.loads says what is wrong
                pass
            else:
                if end == len(text):
                    return value
        import json

        return json.loads(data)  # other inputs, trailing whitespace, or the error

    def __repr__(self) -> str:
        return "JsonCodec()"


class PickleCodec:
    """pickle: any picklable value. Decoding runs code: only with a Redis no stranger writes to."""

    __slots__ = ("protocol",)

    def __init__(self, protocol: int | None = None) -> None:
        import pickle

        self.protocol = pickle.HIGHEST_PROTOCOL if protocol is None else protocol

    def encode(self, value: Any) -> bytes:
        """``pickle.dumps(value)``."""
        import pickle

        return pickle.dumps(value, self.protocol)

    def decode(self, data: bytes) -> Any:
        """``pickle.loads(data)``."""
        import pickle

        return pickle.loads(data)  # opted into explicitly: see the class docstring

    def __repr__(self) -> str:
        return f"PickleCodec(protocol={self.protocol})"


#: The default codec.
JSON_CODEC = JsonCodec()
