"""Where LLM options come from: ``OTEL_RESILIENCE_LLM_*``, the policy file's ``[llm]`` table, and
``instrument(...)`` keywords, the later winning field by field.

======================================  ==================================================
``OTEL_RESILIENCE_LLM_MAX_ATTEMPTS``     attempts per model, ``1`` = no retry
``OTEL_RESILIENCE_LLM_BASE_DELAY``       first backoff delay, seconds
``OTEL_RESILIENCE_LLM_MAX_DELAY``        largest delay (and Retry-After honoured), seconds
``OTEL_RESILIENCE_LLM_BREAKER``          ``false``: no circuit breakers
``OTEL_RESILIENCE_LLM_STALL_TIMEOUT``    seconds a stream may go without a chunk
``OTEL_RESILIENCE_LLM_STREAM_BUFFER``    chunks a stream reads ahead of the caller, ``0``: none
``OTEL_RESILIENCE_LLM_THROTTLE``         ``true``: wait client-side on exhausted rate limits
``OTEL_RESILIENCE_LLM_FALLBACKS``        ``gpt-4o=gpt-4o-mini|gpt-4.1-mini;claude-a=claude-b``
======================================  ==================================================

The policy file (``OTEL_RESILIENCE_CONFIG``) may hold ``[llm]`` with the same option names
(``max_attempts = 5``...) and ``[llm.fallbacks]`` (``"gpt-4o" = ["gpt-4o-mini"]``). Invalid
environment or file values are logged as a warning naming the variable or key and ignored (a
typo there must not stop the application); invalid ``instrument()`` keywords raise
``ValueError``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

from otel_resilience.policies._toml import tomllib
from otel_resilience_instrumentation._http.config import CONFIG_ENV
from otel_resilience_instrumentation._llm.options import LlmOptions

__all__ = ["CAPTURE_ENV", "ENV_PREFIX", "capture_content", "load_options"]

_log = logging.getLogger(__name__)

ENV_PREFIX = "OTEL_RESILIENCE_LLM_"
CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
#: instrument() keywords that are LlmOptions fields.
OPTION_NAMES = frozenset(f.name for f in dataclasses.fields(LlmOptions))


def _flag(text: str) -> bool:
    value = text.strip().lower()
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def _fallbacks(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for entry in text.split(";"):
        if not entry.strip():
            continue
        model, sep, alternatives = entry.partition("=")
        names = [a.strip() for a in alternatives.split("|") if a.strip()]
        if not sep or not model.strip() or not names:
            raise ValueError(f"expected model=alt1|alt2;..., got {entry!r}")
        out[model.strip()] = names
    return out


_ENV: dict[str, tuple[str, Callable[[str], Any]]] = {
    "MAX_ATTEMPTS": ("max_attempts", int),
    "BASE_DELAY": ("base_delay", float),
    "MAX_DELAY": ("max_delay", float),
    "BREAKER": ("breaker", _flag),
    "STALL_TIMEOUT": ("stall_timeout", float),
    "STREAM_BUFFER": ("stream_buffer", int),
    "THROTTLE": ("throttle", _flag),
    "FALLBACKS": ("fallbacks", _fallbacks),
}


def _probe(name: str, value: Any) -> None:
    """Validate one field alone (a lone delay is not compared with the other's default)."""
    fields = {name: value}
    if name == "base_delay":
        fields["max_delay"] = value
    elif name == "max_delay":
        fields["base_delay"] = 0.0
    LlmOptions(**fields)


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for suffix, (name, parse) in _ENV.items():
        var = ENV_PREFIX + suffix
        text = environ.get(var)
        if text is None or not text.strip():
            continue
        try:
            value = parse(text)
            _probe(name, value)
        except ValueError as exc:
            _log.warning(
                "otel-resilience: %s=%r is invalid (%s); using the default", var, text, exc
            )
            continue
        out[name] = value
    return out


def _from_file(environ: Mapping[str, str]) -> dict[str, Any]:
    path = environ.get(CONFIG_ENV)
    if not path:
        return {}
    try:
        with open(path, "rb") as f:
            table = tomllib.load(f).get("llm", {})
        if not isinstance(table, dict):
            raise ValueError("[llm] must be a table")
    except (OSError, ValueError) as exc:
        _log.warning("otel-resilience: %s=%s not used for LLM options: %s", CONFIG_ENV, path, exc)
        return {}
    out: dict[str, Any] = {}
    for name, value in table.items():
        try:
            if name not in OPTION_NAMES or name in ("capture_content", "on_stream_state_change"):
                raise ValueError("unknown option")
            _probe(name, value)
        except (TypeError, ValueError) as exc:
            _log.warning("otel-resilience: %s: llm.%s is invalid (%s); ignored", path, name, exc)
            continue
        out[name] = value
    return out


def load_options(kwargs: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> LlmOptions:
    """The options of an instrumentor: environment, then file, then ``instrument()`` keywords."""
    env = os.environ if environ is None else environ
    fields = {**_from_env(env), **_from_file(env)}
    fields.update({k: v for k, v in kwargs.items() if k in OPTION_NAMES and v is not None})
    if fields.get("capture_content") is None:
        fields["capture_content"] = capture_content(env)
    return LlmOptions(**fields)


def capture_content(environ: Mapping[str, str]) -> bool:
    """Whether ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` opts in (``true``)."""
    return (environ.get(CAPTURE_ENV) or "").strip().lower() == "true"
