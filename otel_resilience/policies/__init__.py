"""Policies as configuration: pipelines declared in a TOML file, presets, live reload.

``load_policies("policies.toml").pipeline("payments")`` is used like a Pipeline (``call``,
``acall``, decorator) and follows reloads of the file. See docs/configuration.md.
"""

from otel_resilience.policies._errors import PolicyError
from otel_resilience.policies._schema import policies_schema
from otel_resilience.policies.presets import PRESETS, preset
from otel_resilience.policies.registry import (
    CONFIG_ENV,
    Policies,
    PolicyHandle,
    load_policies,
)

__all__ = [
    "CONFIG_ENV",
    "PRESETS",
    "Policies",
    "PolicyError",
    "PolicyHandle",
    "load_policies",
    "policies_schema",
    "preset",
]
