"""Turn a parsed policies document into pipelines, reusing unchanged stateful objects."""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from otel_resilience.policies._carry import carry_state
from otel_resilience.policies._errors import PolicyError
from otel_resilience.policies._kinds import (
    REQUIRED,
    SHARED,
    SHARED_BY_STRATEGY,
    STRATEGIES,
    VARIANT_KEY,
    Kind,
    Option,
)

__all__ = ["Built", "build"]

# An object's identity across reloads, and what it was built from.
Identity = tuple[str, ...]
Objects = dict[Identity, tuple[str, Any]]

_PIPELINE_KEYS = frozenset({"preset", "strategies"})


@dataclass(slots=True)
class Built:
    """The result of one successful build: pipelines by name and every object made or kept."""

    pipelines: dict[str, Any]
    objects: Objects = field(default_factory=dict)


def build(
    data: Mapping[str, Any],
    *,
    previous: Objects,
    pipeline_kwargs: Mapping[str, Any],
    presets: Mapping[str, Any],
    sources: Mapping[str, str] | None = None,
) -> Built:
    """Build every pipeline of ``data``; objects whose identity and options are unchanged since
    ``previous`` are reused (their state survives). Raises :class:`PolicyError`."""
    return _Builder(previous, pipeline_kwargs, presets, sources or {}).run(data)


class _Builder:
    def __init__(
        self,
        previous: Objects,
        pipeline_kwargs: Mapping[str, Any],
        presets: Mapping[str, Any],
        sources: Mapping[str, str],
    ) -> None:
        self.previous = previous
        self.pipeline_kwargs = pipeline_kwargs
        self.presets = presets
        self.sources = sources
        self.shared: dict[tuple[str, str], Any] = {}
        self.out = Built({})

    def run(self, data: Mapping[str, Any]) -> Built:
        # [http] holds the HTTP instrumentors' host policies (otel-resilience-instrumentation
        # reads and validates it): the core only lets it through.
        _check_keys(data, {"pipelines", "http", *SHARED}, "", "section")
        for section, kind in SHARED.items():
            for name, table in _table(data.get(section, {}), section).items():
                path = f"{section}.{name}"
                options = dict(_table(table, path))
                known = kind.options()
                _check_keys(options, known, path, "option")
                _check_required(options, known, path)
                if kind.defaults_of is not None:  # a registry's breaker options, as inline
                    _convert(STRATEGIES[kind.defaults_of], options, path)
                options["name"] = name
                for given in kind.from_loader:
                    if self.pipeline_kwargs.get(given) is not None:
                        options[given] = self.pipeline_kwargs[given]
                self.shared[section, name] = self._obtain(
                    ("shared", section, name), kind, options, path
                )
        pipelines = _table(data.get("pipelines", {}), "pipelines")
        if not pipelines and "http" not in data:
            raise PolicyError("pipelines", "no pipeline is declared ([pipelines.NAME] tables)")
        from otel_resilience.pipeline import Pipeline

        for name, table in pipelines.items():
            path = f"pipelines.{name}"
            strategies = []
            seen: dict[str, int] = {}
            for kind_key, value, entry_path in self._entries(_table(table, path), path):
                nth = seen[kind_key] = seen.get(kind_key, 0) + 1
                strategies.append(self._strategy(name, kind_key, value, entry_path, nth))
            make = functools.partial(Pipeline, name, *strategies, **self.pipeline_kwargs)
            self.out.pipelines[name] = _construct(make, path, {})
        return self.out

    def _entries(self, table: Mapping[str, Any], path: str) -> list[tuple[str, Any, str]]:
        """``(kind, options or reference, path)`` per strategy, outermost first, with the
        pipeline's ``KIND = {...}`` override tables merged in."""
        _check_keys(table, _PIPELINE_KEYS | set(STRATEGIES), path, "key")
        entries: list[tuple[str, Any, str]] = []
        if "preset" in table:
            if "strategies" in table:
                raise PolicyError(path, "give either preset or strategies, not both")
            name = table["preset"]
            if not isinstance(name, str) or name not in self.presets:
                known = ", ".join(sorted(self.presets))
                raise PolicyError(f"{path}.preset", f"unknown preset {name!r}; known: {known}")
            for entry in self.presets[name]:
                ((kind_key, options),) = entry.items()
                entries.append((kind_key, dict(options), f"{path}.{kind_key}"))
        else:
            items = table.get("strategies")
            if not isinstance(items, list):
                raise PolicyError(path, "needs strategies = [...] (or a preset)")
            for i, entry in enumerate(items):
                entry_path = f"{path}.strategies[{i}]"
                if not isinstance(entry, dict) or len(entry) != 1:
                    raise PolicyError(
                        entry_path, "must be a table with exactly one strategy, e.g. { retry = {} }"
                    )
                ((kind_key, value),) = entry.items()
                if kind_key not in STRATEGIES:
                    raise PolicyError(
                        f"{entry_path}.{kind_key}",
                        f"unknown strategy; known: {', '.join(STRATEGIES)}",
                    )
                value = dict(value) if isinstance(value, dict) else value
                entries.append((kind_key, value, f"{entry_path}.{kind_key}"))
        for kind_key in STRATEGIES:
            if kind_key not in table:
                continue
            override = _table(table[kind_key], f"{path}.{kind_key}")
            found = [e for e in entries if e[0] == kind_key]
            if not found:
                raise PolicyError(
                    f"{path}.{kind_key}", f"the pipeline has no {kind_key} to override"
                )
            if len(found) > 1 or not isinstance(found[0][1], dict):
                raise PolicyError(
                    f"{path}.{kind_key}",
                    f"the pipeline's {kind_key} is shared or not unique: change it where defined",
                )
            found[0][1].update(override)
        return entries

    def _strategy(self, pipeline: str, kind_key: str, value: Any, path: str, nth: int) -> Any:
        kind = STRATEGIES[kind_key]
        if isinstance(value, str) and kind_key in SHARED_BY_STRATEGY:
            return self._ref(SHARED_BY_STRATEGY[kind_key], value, path)
        options = dict(_table(value, path))
        variant = self._variant(kind, options, path)
        known = kind.options(variant)
        _check_keys(options, {*known, *kind.file_only}, path, "option")
        if "key" in options and "registry" not in options:
            raise PolicyError(f"{path}.key", "key needs registry = NAME (a breaker registry)")
        if "registry" not in options:
            _check_required(options, known, path)
        _convert(kind, options, path)
        if "registry" in kind.file_only and "registry" in options:
            extra = set(options) - {"registry", "key"}
            if extra or not isinstance(options.get("key"), str):
                raise PolicyError(
                    path, "a registry's breaker takes exactly registry = NAME and key = STRING"
                )
            registry = self._ref(kind.refs["registry"], options["registry"], f"{path}.registry")
            return _construct(lambda: registry.get(options["key"]), path, options)
        for option, section in kind.refs.items():
            if option in options and option not in kind.file_only:
                options[option] = self._ref(section, options[option], f"{path}.{option}")
        identity = ("pipeline", pipeline, kind_key, str(options.get("name") or f"#{nth}"))
        return self._obtain(identity, kind, options, path, variant)

    @staticmethod
    def _variant(kind: Kind, options: dict[str, Any], path: str) -> str | None:
        """Pop the ``type`` key of a kind with factory methods (``Chaos.fault``...)."""
        if not kind.variants:
            return None
        variant = options.pop(VARIANT_KEY, None)
        if variant not in kind.variants:
            raise PolicyError(
                f"{path}.{VARIANT_KEY}",
                f"must be one of {', '.join(map(repr, kind.variants))}, got {variant!r}",
            )
        return str(variant)

    def _ref(self, section: str, name: Any, path: str) -> Any:
        found = self.shared.get((section, name)) if isinstance(name, str) else None
        if found is None:
            defined = ", ".join(sorted(n for s, n in self.shared if s == section)) or "none"
            raise PolicyError(path, f"no [{section}.{name}] is defined (defined: {defined})")
        return found

    def _obtain(
        self,
        identity: Identity,
        kind: Kind,
        options: dict[str, Any],
        path: str,
        variant: str | None = None,
    ) -> Any:
        """The previous object when its options did not change, else a new one (which takes
        over the previous one's state: an open breaker stays open, tokens stay spent)."""
        fingerprint = json.dumps([variant, options], sort_keys=True, default=_fingerprint)
        before = self.previous.get(identity)
        if before is not None and before[0] == fingerprint:
            obj = before[1]
        else:
            factory = kind.factory(variant)
            obj = _construct(lambda: factory(**options), path, options, self.sources)
            if before is not None:
                carry_state(before[1], obj)
        self.out.objects[identity] = (fingerprint, obj)
        return obj


def _fingerprint(value: Any) -> str:
    """An option value JSON cannot hold: options objects by value, anything else by identity."""
    return repr(value) if dataclasses.is_dataclass(value) else f"@{id(value)}"


def _convert(kind: Kind, options: dict[str, Any], path: str) -> None:
    """Turn the file's values of ``kind``'s converted options into what its constructor takes."""
    for option, convert in kind.convert.items():
        if option in options:
            try:
                options[option] = convert(options[option])
            except ValueError as exc:
                raise PolicyError(f"{path}.{option}", f"{option} {exc}") from exc


def _construct(
    make: Callable[[], Any],
    path: str,
    options: Mapping[str, Any],
    sources: Mapping[str, str] | None = None,
) -> Any:
    """``make()``, its ValueError (or TypeError) re-raised naming the TOML path of the field."""
    try:
        return make()
    except (ValueError, TypeError) as exc:
        message = str(exc)
        field_name = message.split(" ", 1)[0].rstrip(":")
        where = f"{path}.{field_name}" if field_name in options else path
        origin = (sources or {}).get(_canonical(where))
        if origin is not None:
            message += f" (set by {origin})"
        raise PolicyError(where, message) from exc


def _canonical(path: str) -> str:
    """``pipelines.p.strategies[0].retry.x`` and ``pipelines.p.retry.x`` name the same value
    for environment overrides, which address strategies by kind."""
    head, sep, rest = path.partition(".strategies[")
    if not sep:
        return path
    return f"{head}.{rest.split('].', 1)[-1]}"


def _table(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise PolicyError(path, f"must be a table, got {value!r}")
    return value


def _check_required(options: Mapping[str, Any], known: Mapping[str, Option], path: str) -> None:
    for name, option in known.items():
        if option.default is REQUIRED and name not in options:
            raise PolicyError(f"{path}.{name}", f"{name} is required")


def _check_keys(table: Mapping[str, Any], known: Any, path: str, what: str) -> None:
    for key in table:
        if key not in known:
            where = f"{path}.{key}" if path else key
            raise PolicyError(where, f"unknown {what}; known: {', '.join(sorted(known))}")
