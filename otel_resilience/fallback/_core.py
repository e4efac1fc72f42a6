"""I/O-free parts of Fallback: the chain's alternatives, the ``on`` test, the per-call run."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

__all__ = ["NO_VALUE", "Alternative", "FallbackRun", "name_of", "normalise_chain"]


class _NoValue:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NO_VALUE"


#: ``value``'s default: ``None`` is a fine fallback value, so "not given" needs its own marker.
NO_VALUE: Any = _NoValue()


class Alternative(NamedTuple):
    """One alternative of a chain: the name telemetry shows, and the callable."""

    name: str
    fn: Callable[..., Any]


def name_of(fn: object) -> str:
    """A callable's qualified name (a Pipeline-decorated function keeps its own)."""
    name = getattr(fn, "__qualname__", None)
    return name if isinstance(name, str) and name else type(fn).__qualname__


def normalise_chain(chain: object) -> tuple[Alternative, ...]:
    """``chain`` as named alternatives: callables or ``(name, callable)`` pairs, at least one."""
    if isinstance(chain, (str, bytes)) or not isinstance(chain, Iterable):
        raise ValueError(
            f"chain must be a list of callables or (name, callable) pairs, got {chain!r}"
        )
    out: list[Alternative] = []
    for i, item in enumerate(chain):
        if isinstance(item, tuple):
            if (
                len(item) != 2
                or not isinstance(item[0], str)
                or not item[0]
                or not callable(item[1])
            ):
                raise ValueError(
                    f"chain[{i}] must be a callable or a (non-empty name, callable) pair, "
                    f"got {item!r}"
                )
            out.append(Alternative(item[0], item[1]))
        elif callable(item):
            out.append(Alternative(name_of(item), item))
        else:
            raise ValueError(
                f"chain[{i}] must be a callable or a (name, callable) pair, got {item!r}"
            )
    if not out:
        raise ValueError("chain must hold at least one alternative, got an empty chain")
    return tuple(out)


class FallbackRun:
    """One call's fallback so far: alternatives started, and the failures before the last."""

    __slots__ = ("errors", "started")

    def __init__(self, first_failure: object) -> None:
        self.started = 0
        self.errors: list[object] = [first_failure]
