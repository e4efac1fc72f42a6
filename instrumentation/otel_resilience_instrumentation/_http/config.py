"""Where HTTP policies come from: code, the policy file, ``OTEL_RESILIENCE_HTTP_*``.

Sources, key by key, the later winning: the environment (its default policy under ``"*"``
and ``OTEL_RESILIENCE_HTTP_DISABLED_HOSTS``), then the policy file, then ``instrument(
policies=...)``. A key is ``"host"``, ``"host:port"``, ``"*.example.com"`` (any subdomain) or
``"*"`` (every other host); for a request the most specific key wins: ``host:port``, then
``host``, then the longest matching wildcard, then ``"*"``.

Environment variables (invalid values are logged as a warning naming the variable and that
setting keeps its default: a typo in the environment must not stop the application):

======================================================  ==========================================
``OTEL_RESILIENCE_HTTP_ENABLED``                        ``false``: every host passes through
``OTEL_RESILIENCE_HTTP_MAX_ATTEMPTS``                   attempts per request, ``1`` = no retry
``OTEL_RESILIENCE_HTTP_BASE_DELAY``                     first backoff delay, seconds
``OTEL_RESILIENCE_HTTP_MAX_DELAY``                      largest delay (and Retry-After honoured)
``OTEL_RESILIENCE_HTTP_RETRY_STATUSES``                 comma-separated status codes
``OTEL_RESILIENCE_HTTP_RETRY_METHODS``                  comma-separated methods
``OTEL_RESILIENCE_HTTP_RETRY_NON_IDEMPOTENT``           ``true``: retry POST/PATCH as well
``OTEL_RESILIENCE_HTTP_BREAKER``                        ``false``: no circuit breakers
``OTEL_RESILIENCE_HTTP_BREAKER_FAILURE_RATIO``          0..1
``OTEL_RESILIENCE_HTTP_BREAKER_MINIMUM_CALLS``          integer >= 1
``OTEL_RESILIENCE_HTTP_BREAKER_WINDOW``                 seconds
``OTEL_RESILIENCE_HTTP_BREAKER_BREAK_DURATION``         seconds
``OTEL_RESILIENCE_HTTP_DISABLED_HOSTS``                 comma-separated keys passed through
======================================================  ==========================================
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

from otel_resilience.policies._toml import tomllib
from otel_resilience_instrumentation._http.policy import HttpPolicy

__all__ = ["ENV_PREFIX", "file_policies", "load_policies", "policy_from_env"]

_log = logging.getLogger(__name__)

ENV_PREFIX = "OTEL_RESILIENCE_HTTP_"
#: The variable naming the policy file (the core's ``otel_resilience.policies`` reads it too).
CONFIG_ENV = "OTEL_RESILIENCE_CONFIG"
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


def _flag(text: str) -> bool:
    low = text.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError("must be true or false")


def _int_list(text: str) -> frozenset[int]:
    return frozenset(int(part) for part in text.split(",") if part.strip())


def _name_list(text: str) -> frozenset[str]:
    return frozenset(part.strip().upper() for part in text.split(",") if part.strip())


#: Variable suffix -> (HttpPolicy field, parser of the text).
_FIELDS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "ENABLED": ("enabled", _flag),
    "MAX_ATTEMPTS": ("max_attempts", int),
    "BASE_DELAY": ("base_delay", float),
    "MAX_DELAY": ("max_delay", float),
    "RETRY_STATUSES": ("retry_statuses", _int_list),
    "RETRY_METHODS": ("retry_methods", _name_list),
    "RETRY_NON_IDEMPOTENT": ("retry_non_idempotent", _flag),
    "BREAKER": ("breaker", _flag),
    "BREAKER_FAILURE_RATIO": ("failure_ratio", float),
    "BREAKER_MINIMUM_CALLS": ("minimum_calls", int),
    "BREAKER_WINDOW": ("window", float),
    "BREAKER_BREAK_DURATION": ("break_duration", float),
}


def policy_from_env(environ: Mapping[str, str], *, strict: bool = False) -> HttpPolicy:
    """The default policy the ``OTEL_RESILIENCE_HTTP_*`` variables describe.

    With ``strict`` an invalid value raises ``ValueError`` naming the variable; without, it is
    logged and that setting keeps its built-in default.
    """
    fields: dict[str, Any] = {}
    for suffix, (name, parse) in _FIELDS.items():
        var = ENV_PREFIX + suffix
        text = environ.get(var)
        if text is None or not text.strip():
            continue
        try:
            value = parse(text)
            probe = {name: value}
            # A lone delay is not compared with the other's default: the two are checked
            # against each other below, once both are read.
            if name == "base_delay":
                probe["max_delay"] = value
            elif name == "max_delay":
                probe["base_delay"] = 0.0
            HttpPolicy(**probe)  # validates this one field
        except ValueError as exc:
            message = f"{var}={text!r} is invalid: {exc}"
            if strict:
                raise ValueError(message) from None
            _log.warning("otel-resilience: %s; using the default", message)
            continue
        fields[name] = value
    try:
        return HttpPolicy(**fields)
    except ValueError as exc:  # fields valid alone but not together (max_delay < base_delay)
        message = f"{ENV_PREFIX}* variables are inconsistent: {exc}"
        if strict:
            raise ValueError(message) from None
        _log.warning("otel-resilience: %s; using the defaults", message)
        return HttpPolicy()


def file_policies(environ: Mapping[str, str], base: HttpPolicy) -> dict[str, HttpPolicy]:
    """The ``[http.hosts."KEY"]`` tables of the policy file ``OTEL_RESILIENCE_CONFIG`` names.

    Each table sets :class:`HttpPolicy` fields over ``base`` (the environment's policy), e.g.
    ``[http.hosts."api.example.com"]`` with ``max_attempts = 5``. A file that cannot be read
    or parsed, and a host table with an unknown or invalid field, are logged as a warning
    (naming the file and the key path) and ignored, like invalid environment values: the
    application starts with the other sources' policies.
    """
    path = environ.get(CONFIG_ENV)
    if not path:
        return {}
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
        http = data.get("http", {})
        hosts = http.get("hosts", {}) if isinstance(http, dict) else None
        if not isinstance(hosts, dict):
            raise ValueError("[http] must be a table whose hosts is a table")
    except (OSError, ValueError) as exc:  # tomllib.TOMLDecodeError is a ValueError
        _log.warning("otel-resilience: %s=%s not used for HTTP policies: %s", CONFIG_ENV, path, exc)
        return {}
    out: dict[str, HttpPolicy] = {}
    for key, table in hosts.items():
        where = f"{path}: http.hosts.{key!r}"
        try:
            if not isinstance(table, dict):
                raise ValueError("must be a table of HttpPolicy fields")
            fields = {name: _from_toml(name, value) for name, value in table.items()}
            out[check_key(key)] = dataclasses.replace(base, **fields)
        except (TypeError, ValueError) as exc:  # unknown field: TypeError from replace()
            _log.warning("otel-resilience: %s is invalid (%s); ignored", where, exc)
    return out


def _from_toml(name: str, value: Any) -> Any:
    """TOML arrays become the frozensets HttpPolicy holds."""
    if name in ("retry_statuses", "retry_methods") and isinstance(value, list):
        return frozenset(v.upper() if isinstance(v, str) else v for v in value)
    return value


def check_key(key: object) -> str:
    """A policy key, normalised (lower case); ValueError unless it is a usable one."""
    if not isinstance(key, str) or not key.strip():
        raise ValueError(f"policies keys must be non-empty host names, got {key!r}")
    key = key.strip().lower()
    if "*" in key and key != "*" and not (key.startswith("*.") and "*" not in key[2:]):
        raise ValueError(f"policies key {key!r}: a wildcard must be '*' or '*.domain'")
    return key


def load_policies(
    policies: Mapping[str, HttpPolicy] | None, environ: Mapping[str, str] | None = None
) -> dict[str, HttpPolicy]:
    """Every source merged, key by key: environment, then policy file, then code."""
    env = os.environ if environ is None else environ
    if policies is not None and not isinstance(policies, Mapping):
        raise ValueError(f"policies must map host keys to HttpPolicy, got {policies!r}")
    merged: dict[str, HttpPolicy] = {"*": policy_from_env(env)}
    for pattern in (env.get(ENV_PREFIX + "DISABLED_HOSTS") or "").split(","):
        if pattern.strip():
            try:
                merged[check_key(pattern)] = HttpPolicy(enabled=False)
            except ValueError as exc:
                _log.warning("otel-resilience: %sDISABLED_HOSTS: %s", ENV_PREFIX, exc)
    merged.update(file_policies(env, merged["*"]))
    for key, policy in (policies or {}).items():
        if not isinstance(policy, HttpPolicy):
            raise ValueError(f"policies[{key!r}] must be an HttpPolicy, got {policy!r}")
        merged[check_key(key)] = policy
    return merged


def match(table: Mapping[str, HttpPolicy], host: str, key: str) -> HttpPolicy:
    """The policy for ``host`` (``key`` is ``host`` or ``host:port``): most specific wins."""
    found = table.get(key) or table.get(host)
    if found is not None:
        return found
    best: HttpPolicy | None = None
    best_len = -1
    for pattern, policy in table.items():
        if pattern.startswith("*.") and host.endswith(pattern[1:]) and len(pattern) > best_len:
            best, best_len = policy, len(pattern)
    return best if best is not None else table["*"]
