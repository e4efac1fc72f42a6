"""What a policies file may declare: one table entry per strategy kind and per shared object.

Options are the constructors' keyword arguments, read from their signatures, so a new keyword
of a strategy is configurable from files (and appears in the JSON Schema) without a change here.
Adding a strategy kind or a shared object is one entry in :data:`STRATEGIES` / :data:`SHARED`;
classes are imported on first use, so loading a file only imports what it names.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import importlib
import inspect
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Union

__all__ = [
    "REQUIRED",
    "VARIANT_KEY",
    "exception_class",
    "SHARED",
    "SHARED_BY_STRATEGY",
    "STRATEGIES",
    "Kind",
    "Option",
    "json_type",
]

# Keywords never configurable from a file: the clock comes from load_policies, private ones are
# internal, and functions or objects cannot be written in TOML (a state store comes from
# configure_store or OTEL_RESILIENCE_REDIS_URL).
_NEVER = frozenset({"clock", "classifier", "random", "_options", "store"})


@dataclass(frozen=True, slots=True)
class Option:
    """One keyword argument of a constructor: its name, type hint and default (or ``REQUIRED``)."""

    name: str
    hint: Any
    default: Any


REQUIRED = inspect.Parameter.empty
#: The key that picks a kind's factory method (see :attr:`Kind.variants`).
VARIANT_KEY = "type"


@dataclass(frozen=True, slots=True)
class Kind:
    """A strategy kind (``retry``) or a shared object section (``rate_limiters``).

    ``target`` is ``"module:Class"``; ``refs`` maps an option that names a shared object to the
    section it lives in (``{"budget": "budgets"}``); ``exclude`` lists keywords that take
    functions or objects and so cannot come from a file.
    """

    key: str
    target: str
    exclude: frozenset[str] = frozenset()
    refs: Mapping[str, str] = field(default_factory=dict)
    #: Extra keywords only the file knows (not the constructor's), e.g. a registry reference.
    file_only: Mapping[str, Any] = field(default_factory=dict)
    #: A strategy kind whose options this object also takes (a registry's per-key defaults).
    defaults_of: str | None = None
    #: Shared objects take their name from their table (``[rate_limiters.api]``), not an option.
    named_by_table: bool = False
    #: Factory methods of the class, picked by the ``type`` key of the table
    #: (``{ chaos = { type = "fault", rate = 0.1 } }`` calls ``Chaos.fault(rate=0.1)``).
    variants: tuple[str, ...] = ()
    #: Per option, a function turning the TOML value into what the constructor takes (it raises
    #: ValueError for a bad value), e.g. an exception class from its name.
    convert: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)
    #: The TOML type of a converted option when it is not a string (``dict``: a table).
    convert_hints: Mapping[str, Any] = field(default_factory=dict)
    #: Keywords filled from load_policies' own arguments (``clock``, ``meter_provider``).
    from_loader: tuple[str, ...] = ()

    def factory(self, variant: str | None = None) -> Any:
        """The class, or its factory method ``variant`` (imported now, once per process)."""
        module, _, name = self.target.partition(":")
        cls = getattr(importlib.import_module(module), name)
        return getattr(cls, variant) if variant else cls

    def options(self, variant: str | None = None) -> dict[str, Option]:
        """The configurable keyword arguments, in signature order."""
        if self.variants and variant is None:  # the union, for override tables
            union: dict[str, Option] = {}
            for each in self.variants:
                union.update(self.options(each))
            return union
        made = self.factory(variant)
        hints = _hints(made if variant else made.__init__)
        found: dict[str, Option] = {}
        # The signature of the class or bound factory method: no self/cls. Options are passed
        # by keyword, so positional-or-keyword parameters are options too.
        for p in inspect.signature(made).parameters.values():
            if p.kind not in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD):
                continue
            if p.name in _NEVER or p.name in self.exclude:
                continue
            if self.named_by_table and p.name == "name":
                continue
            if p.name in self.refs:  # the file names a shared object: a string
                found[p.name] = Option(p.name, str, p.default)
                continue
            if p.name in self.convert:  # the file writes a name, e.g. of an exception class
                found[p.name] = Option(p.name, self.convert_hints.get(p.name, str), p.default)
                continue
            hint = hints.get(p.name, Any)
            if json_type(hint) is None:  # functions and objects: code only
                continue
            found[p.name] = Option(p.name, hint, p.default)
        if self.defaults_of is not None:
            for name, option in STRATEGIES[self.defaults_of].options().items():
                if name != "name":
                    found.setdefault(name, option)
        return found


def _hints(fn: Any) -> dict[str, Any]:
    """``fn``'s evaluated annotations; one naming a class imported only for type checkers
    (``if TYPE_CHECKING:``) stays unresolved (:class:`_Unresolved`), matching no TOML value."""
    try:
        return typing.get_type_hints(fn)
    except NameError:
        pass
    globalns = getattr(fn, "__globals__", {})
    hints: dict[str, Any] = {}
    for name, annotation in getattr(fn, "__annotations__", {}).items():

        def probe() -> None: ...

        probe.__annotations__ = {name: annotation}
        try:  # get_type_hints, one annotation at a time
            hints[name] = typing.get_type_hints(probe, globalns=globalns)[name]
        except NameError:
            hints[name] = _Unresolved
    return hints


class _Unresolved:
    """Stands for an annotation naming a class that is not importable at run time."""


_SEQUENCES = (
    collections.abc.Iterable,
    collections.abc.Sequence,
    collections.abc.Collection,
    collections.abc.Set,
    frozenset,
    set,
    list,
    tuple,
)


def json_type(hint: Any) -> dict[str, Any] | None:
    """The JSON Schema of values of type ``hint`` a TOML file can hold; ``None``: none can."""
    if hint is Any:
        return {}
    if hint is dict:  # a table of options (converted, e.g. into an AdaptiveThreshold)
        return {"type": "object"}
    simple = {bool: "boolean", int: "integer", float: "number", str: "string"}.get(hint)
    if simple is not None:
        return {"type": simple}
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        return {"enum": list(args)}
    if origin is Union or origin is types.UnionType:
        parts = [json_type(a) for a in args if a is not type(None)]
        found = [p for p in parts if p is not None]
        if not found:
            return None
        if {} in found:
            return {}
        return found[0] if len(found) == 1 else {"anyOf": found}
    if origin in _SEQUENCES:
        item = json_type(args[0]) if args else {}
        return {"type": "array", "items": item if item is not None else {}}
    return None  # callables, mappings of objects, clocks, classifiers


def adaptive_threshold(table: Any) -> Any:
    """``adaptive = { min_ratio = 0.2, ... }``: an AdaptiveThreshold of those options."""
    from otel_resilience.circuit_breaker import AdaptiveThreshold

    if not isinstance(table, dict):
        raise ValueError(f"must be a table of AdaptiveThreshold options, got {table!r}")
    known = {f.name for f in dataclasses.fields(AdaptiveThreshold)}
    unknown = sorted(set(table) - known, key=str)
    if unknown:
        raise ValueError(f"has unknown options {unknown}; known: {', '.join(sorted(known))}")
    return AdaptiveThreshold(**table)


def exception_class(name: Any) -> type[BaseException]:
    """The exception class a file names: a builtin (``"ConnectionError"``) or one of
    :mod:`otel_resilience.errors`. Nothing else is imported on a file's say-so."""
    import builtins

    from otel_resilience import errors

    found = getattr(builtins, name, None) if isinstance(name, str) else None
    if found is None and isinstance(name, str) and name in errors.__all__:
        found = getattr(errors, name)
    if not (isinstance(found, type) and issubclass(found, BaseException)):
        raise ValueError(
            f"must name a builtin exception or one of otel_resilience.errors, got {name!r}"
        )
    return found


# One entry per strategy key of a pipeline, in the order the docs list them.
STRATEGIES: dict[str, Kind] = {
    k.key: k
    for k in (
        Kind(
            "retry",
            "otel_resilience.retry:Retry",
            exclude=frozenset({"policies"}),
            refs={"budget": "budgets"},
        ),
        Kind(
            "circuit_breaker",
            "otel_resilience.circuit_breaker:CircuitBreaker",
            refs={"registry": "breaker_registries"},
            file_only={"registry": str, "key": str},
            convert={"adaptive": adaptive_threshold},
            convert_hints={"adaptive": dict},
        ),
        Kind("timeout", "otel_resilience.timeout:Timeout"),
        Kind("bulkhead", "otel_resilience.bulkhead:Bulkhead"),
        Kind("rate_limiter", "otel_resilience.rate_limiter:RateLimiter"),
        Kind("fallback", "otel_resilience.fallback:Fallback", exclude=frozenset({"chain"})),
        Kind("cache", "otel_resilience.cache:ResponseCache"),
        Kind("hedging", "otel_resilience.hedging:Hedging"),
        Kind(
            "chaos",
            "otel_resilience.chaos:Chaos",
            variants=("fault", "latency", "result"),
            convert={"error": exception_class},
        ),
    )
}

# Shared objects: ``[section.NAME]`` tables, referenced by name from strategies.
SHARED: dict[str, Kind] = {
    k.key: k
    for k in (
        Kind("rate_limiters", "otel_resilience.rate_limiter:RateLimiter", named_by_table=True),
        Kind(
            "breaker_registries",
            "otel_resilience.circuit_breaker:CircuitBreakerRegistry",
            defaults_of="circuit_breaker",
            named_by_table=True,
        ),
        Kind("budgets", "otel_resilience.retry_budget:RetryBudget", named_by_table=True),
        Kind(
            "slos",
            "otel_resilience.slo:SLO",
            exclude=frozenset({"meter_provider"}),
            named_by_table=True,
            from_loader=("clock", "meter_provider"),
        ),
    )
}

# Where a string in place of a strategy's options table points: ``{ rate_limiter = "api" }``.
SHARED_BY_STRATEGY: dict[str, str] = {"rate_limiter": "rate_limiters"}
