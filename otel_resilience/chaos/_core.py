"""When chaos may run (the production guard), and which calls it hits: I/O-free.

Chaos is off unless switched on explicitly: ``enabled=True`` in code (or in a policy file),
or ``OTEL_RESILIENCE_CHAOS=true`` in the environment. Even then it stays off in an
environment named like production (``OTEL_RESILIENCE_ENVIRONMENT``, else
``deployment.environment.name`` / ``deployment.environment`` in ``OTEL_RESOURCE_ATTRIBUTES``)
unless ``OTEL_RESILIENCE_CHAOS_ALLOW_PRODUCTION=true`` says so too: two independent switches,
one of them set where the process is deployed, must agree.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Mapping

__all__ = [
    "ENV_ALLOW_PRODUCTION",
    "ENV_CHAOS",
    "ENV_ENVIRONMENT",
    "PRODUCTION_NAMES",
    "Dice",
    "environment_name",
    "fresh_error",
    "resolve_enabled",
]

ENV_CHAOS = "OTEL_RESILIENCE_CHAOS"
ENV_ENVIRONMENT = "OTEL_RESILIENCE_ENVIRONMENT"
ENV_ALLOW_PRODUCTION = "OTEL_RESILIENCE_CHAOS_ALLOW_PRODUCTION"
_RESOURCE_KEYS = ("deployment.environment.name", "deployment.environment")
#: Environment names treated as production (compared case-insensitively).
PRODUCTION_NAMES = frozenset({"production", "prod", "prd", "live"})


def _true(value: str | None) -> bool:
    return value is not None and value.strip().lower() == "true"


def environment_name(env: Mapping[str, str]) -> str | None:
    """The deployment environment's name, from our variable or the OpenTelemetry resource."""
    name = env.get(ENV_ENVIRONMENT, "").strip()
    if name:
        return name
    for pair in env.get("OTEL_RESOURCE_ATTRIBUTES", "").split(","):
        key, _, value = pair.partition("=")
        if key.strip() in _RESOURCE_KEYS and value.strip():
            return value.strip()
    return None


def resolve_enabled(enabled: bool | None, env: Mapping[str, str]) -> tuple[bool, str | None]:
    """``(on, why_not)``: ``why_not`` explains a request that the production guard refused."""
    wanted = _true(env.get(ENV_CHAOS)) if enabled is None else enabled
    if not wanted:
        return False, None
    name = environment_name(env)
    if (
        name is not None
        and name.lower() in PRODUCTION_NAMES
        and not _true(env.get(ENV_ALLOW_PRODUCTION))
    ):
        return False, (
            f"chaos injection stays off: the environment is {name!r} "
            f"(set {ENV_ALLOW_PRODUCTION}=true to allow it there)"
        )
    return True, None


class Dice:
    """Draws whether a call is hit: ``random.Random(seed)``, whose ``random()`` is atomic."""

    __slots__ = ("_draw", "rate")

    def __init__(self, rate: float, seed: int | None) -> None:
        self.rate = rate
        self._draw = random.Random(seed).random

    def hit(self) -> bool:
        """``True`` for a share ``rate`` of the draws."""
        return self._draw() < self.rate


def fresh_error(error: BaseException | type[BaseException]) -> BaseException:
    """A new exception per injection: re-raising one instance would pile up its traceback.

    A class is called with a message. An instance is copied (``copy.copy``); one whose
    constructor cannot be called again from its ``args`` (``httpx.HTTPStatusError`` takes
    keyword-only arguments) is rebuilt without its ``__init__``, with the same ``args`` and
    attributes; failing that, the instance itself is raised, its old traceback dropped.
    """
    if isinstance(error, type):
        return error("injected by otel-resilience Chaos")
    try:
        return copy.copy(error)
    except Exception:  # its constructor wants other arguments: rebuilt below
        pass
    kind = type(error)
    try:
        new = kind.__new__(kind, *error.args)
        new.__dict__.update(getattr(error, "__dict__", {}))
        return new
    except Exception:
        return error.with_traceback(None)
