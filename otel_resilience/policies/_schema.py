"""The JSON Schema of policies files, generated from the strategies' constructors."""

from __future__ import annotations

import json
from typing import Any

from otel_resilience.policies._kinds import (
    REQUIRED,
    SHARED,
    SHARED_BY_STRATEGY,
    STRATEGIES,
    VARIANT_KEY,
    Kind,
    json_type,
)
from otel_resilience.policies.presets import PRESETS

__all__ = ["policies_schema", "schema_text"]

_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def policies_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a policies file, as a dict."""
    defs: dict[str, Any] = {}
    for key, kind in STRATEGIES.items():
        options = _options(kind)
        if kind.variants:  # { type = "fault", rate = ... }: one alternative per factory method
            for variant in kind.variants:
                one = _options(kind, variant)
                one["properties"] = {VARIANT_KEY: {"const": variant}, **one["properties"]}
                one["required"] = [VARIANT_KEY, *one.get("required", ())]
                defs[f"{key}.{variant}"] = one
            options["properties"] = {
                VARIANT_KEY: {"enum": list(kind.variants)},
                **options["properties"],
            }
            options.pop("required", None)
            defs[f"{key}_override"] = options
            defs[key] = {"anyOf": [{"$ref": f"#/$defs/{key}.{v}"} for v in kind.variants]}
            continue
        for extra, typ in kind.file_only.items():
            options["properties"][extra] = json_type(typ)
        # A preset pipeline's `retry = {...}` overrides some keys: nothing is required there.
        defs[f"{key}_override"] = {k: v for k, v in options.items() if k != "required"}
        shared = SHARED_BY_STRATEGY.get(key)
        defs[key] = (
            {"anyOf": [options, {"type": "string", "description": f"a [{shared}.NAME]"}]}
            if shared
            else options
        )
    for key, kind in SHARED.items():
        defs[key] = _options(kind)
    defs["strategy"] = {
        "type": "object",
        "minProperties": 1,
        "maxProperties": 1,
        "additionalProperties": False,
        "properties": {k: {"$ref": f"#/$defs/{k}"} for k in STRATEGIES},
    }
    defs["pipeline"] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "preset": {"enum": sorted(PRESETS)},
            "strategies": {"type": "array", "items": {"$ref": "#/$defs/strategy"}},
            **{k: {"$ref": f"#/$defs/{k}_override"} for k in STRATEGIES},
        },
    }
    return {
        "$schema": _DIALECT,
        "title": "otel-resilience policies",
        "description": "Named pipelines and shared objects; see docs/configuration.md.",
        "type": "object",
        "additionalProperties": False,
        "minProperties": 1,  # [pipelines.NAME] tables, or only [http] host policies
        "properties": {
            "pipelines": {"type": "object", "additionalProperties": {"$ref": "#/$defs/pipeline"}},
            "http": {
                "type": "object",
                "description": "Host policies of the HTTP client instrumentors "
                "(otel-resilience-instrumentation; see docs/instrumentation.md).",
                "additionalProperties": False,
                "properties": {
                    "hosts": {"type": "object", "additionalProperties": {"type": "object"}}
                },
            },
            **{
                k: {"type": "object", "additionalProperties": {"$ref": f"#/$defs/{k}"}}
                for k in SHARED
            },
        },
        "$defs": defs,
    }


def schema_text() -> str:
    """The schema as the text of docs/policies.schema.json."""
    return json.dumps(policies_schema(), indent=2) + "\n"


def _options(kind: Kind, variant: str | None = None) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required = []
    for name, option in kind.options(variant).items():
        schema = dict(json_type(option.hint) or {})
        if option.default is REQUIRED:
            required.append(name)
        elif _plain(option.default):
            schema["default"] = option.default
        properties[name] = schema
    out: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
    }
    if required:
        out["required"] = required
    return out


def _plain(value: Any) -> bool:
    return value is not None and isinstance(value, (bool, int, float, str))
