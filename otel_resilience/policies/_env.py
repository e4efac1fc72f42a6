"""``OTEL_RESILIENCE_*`` environment variables that override single values of a policies file.

``OTEL_RESILIENCE_PIPELINES__PAYMENTS__RETRY__MAX_ATTEMPTS=5`` sets ``max_attempts`` of the
``retry`` strategy of pipeline ``payments``; ``OTEL_RESILIENCE_RATE_LIMITERS__API__RATE=20``
sets ``rate`` of ``[rate_limiters.api]``. Segments are separated by a double underscore and
matched case-insensitively; values are read as TOML values (``5``, ``0.5``, ``true``,
``["timeout"]``), else as a string. Variables without a double underscore
(``OTEL_RESILIENCE_CONFIG``, the exporters' settings) are not overrides.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otel_resilience.policies._errors import PolicyError
from otel_resilience.policies._kinds import SHARED, STRATEGIES
from otel_resilience.policies._toml import tomllib

__all__ = ["PREFIX", "apply_overrides"]

PREFIX = "OTEL_RESILIENCE_"


def apply_overrides(data: dict[str, Any], environ: Mapping[str, str]) -> dict[str, str]:
    """Write the overrides of ``environ`` into ``data``; returns ``{toml path: variable}``."""
    sources: dict[str, str] = {}
    for var in sorted(environ):
        if not var.upper().startswith(PREFIX) or "__" not in var:
            continue
        parts = [p.lower() for p in var[len(PREFIX) :].split("__")]
        section = parts[0]
        if section == "pipelines" and len(parts) == 4:
            name = _existing(data, section, parts[1], var)
            kind, option = parts[2], parts[3]
            if kind not in STRATEGIES:
                raise PolicyError(var, f"unknown strategy {kind!r}; known: {', '.join(STRATEGIES)}")
            target = data[section][name].setdefault(kind, {})
            if not isinstance(target, dict):
                raise PolicyError(var, f"pipelines.{name}.{kind} is not a table")
            path = f"{section}.{name}.{kind}.{option}"
        elif section in SHARED and len(parts) == 3:
            name = _existing(data, section, parts[1], var)
            target, option = data[section][name], parts[2]
            path = f"{section}.{name}.{option}"
        else:
            raise PolicyError(
                var,
                "must be OTEL_RESILIENCE_PIPELINES__NAME__STRATEGY__OPTION or "
                f"OTEL_RESILIENCE_<{'|'.join(s.upper() for s in SHARED)}>__NAME__OPTION",
            )
        target[option] = _value(environ[var])
        sources[path] = var
    return sources


def _existing(data: dict[str, Any], section: str, lowered: str, var: str) -> str:
    table = data.get(section)
    names = [n for n in table if n.lower() == lowered] if isinstance(table, dict) else []
    if len(names) != 1:
        raise PolicyError(var, f"names no single [{section}.{lowered}] of the file")
    return str(names[0])


def _value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw
