"""Scrubbing of personal data and credentials from telemetry text, values and attribute maps."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final, Literal

__all__ = [
    "BUILTIN_PATTERNS",
    "DEFAULT_SECRET_KEYS",
    "RedactionOptions",
    "Redactor",
]

#: Built-in detectors, tried in this order at each position (specific before generic).
BUILTIN_PATTERNS: Final[Mapping[str, str]] = {
    "jwt": r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*",
    "bearer_token": r"\b[Bb]earer\s+[A-Za-z0-9._~+/-]{8,}=*",
    "anthropic_key": r"\bsk-ant-[A-Za-z0-9_-]{16,}",
    "openai_key": r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}",
    "aws_access_key": r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
    "github_token": r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})",
    "google_api_key": r"\bAIza[0-9A-Za-z_-]{35}",
    "slack_token": r"\bxox[abposr]-[A-Za-z0-9-]{10,}",
    "email": r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b",
    # 13-19 digits, optionally grouped by spaces or dashes; kept only if the Luhn check passes.
    "credit_card": r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])",
    "ssn": r"(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])",
    "phone": (
        r"(?<![\w+])\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]?\d{2,4}){1,4}(?!\d)"
        r"|(?<![\w(])(?:\(\d{3}\)\s?|\d{3}[.-])\d{3}[.-]\d{4}(?!\d)"
    ),
}

#: Attribute keys (as whole segments, see :class:`RedactionOptions`) whose values are secret.
DEFAULT_SECRET_KEYS: Final = (
    "password",
    "passwd",
    "pwd",
    "token",
    "secret",
    "api_key",
    "apikey",
    "authorization",
    "cookie",
    "credentials",
    "private_key",
)

_KEY_SPLIT = re.compile(r"[^a-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def _segments(key: str) -> tuple[str, ...]:
    """``"x-Api_Key"``/``"apiKey"`` -> ``("x", "api", "key")``; camelCase counts as a boundary."""
    return tuple(s for s in _KEY_SPLIT.split(_CAMEL.sub(".", key).lower()) if s)


def _luhn_ok(text: str) -> bool:
    digits = [int(c) for c in text if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        total += (d * 2 - 9 if d > 4 else d * 2) if i % 2 == 1 else d
    return total % 10 == 0


@dataclass(frozen=True)
class RedactionOptions:
    """What :class:`Redactor` scrubs.

    ``secret_keys`` are matched against attribute keys segment by segment: a key is split on
    any non-alphanumeric character and at camelCase humps, lower-cased, and is secret when the
    segments of an entry appear consecutively in it. So ``api_key`` matches ``x-api-key``,
    ``OPENAI_API_KEY`` and ``apiKey``, and ``token`` matches ``access_token`` and
    ``http.request.header.x-auth-token`` but not ``gen_ai.usage.input_tokens`` (a count).
    """

    #: Extra detectors, name -> regular expression; matches become ``[REDACTED:<name>]``.
    patterns: Mapping[str, str] = field(default_factory=dict)
    #: Names of :data:`BUILTIN_PATTERNS` to switch off.
    disabled: frozenset[str] = frozenset()
    #: Keys whose values are never exported as they are (see the class docstring).
    secret_keys: tuple[str, ...] = DEFAULT_SECRET_KEYS
    #: ``"mask"`` keeps a secret key with the value ``[REDACTED]``; ``"drop"`` removes it.
    secret_key_action: Literal["mask", "drop"] = "mask"

    def __post_init__(self) -> None:
        unknown = set(self.disabled) - set(BUILTIN_PATTERNS)
        if unknown:
            raise ValueError(f"disabled: unknown built-in pattern(s) {sorted(unknown)}")
        for name, regex in self.patterns.items():
            if not name or not isinstance(regex, str):
                raise ValueError(f"patterns: entry {name!r} needs a name and a regex string")
            try:
                re.compile(regex)
            except re.error as exc:
                raise ValueError(f"patterns: {name!r} is not a valid regex: {exc}") from exc
        if any(not _segments(k) for k in self.secret_keys):
            raise ValueError("secret_keys: every key needs at least one letter or digit")
        if self.secret_key_action not in ("mask", "drop"):
            raise ValueError(
                f"secret_key_action: must be 'mask' or 'drop', got {self.secret_key_action!r}"
            )


MASK: Final = "[REDACTED]"
#: Strings up to this length have their scrubbed form cached (bounded LRU).
_CACHED_LEN: Final = 96


class Redactor:
    """Applies :class:`RedactionOptions` to strings, attribute values and attribute maps.

    Every ``scrub_*`` method returns its argument itself (same object) when nothing matched, so
    callers can skip copying; non-string values are passed through without a regex run.
    """

    def __init__(self, options: RedactionOptions | None = None) -> None:
        self.options = options or RedactionOptions()
        detectors = {k: v for k, v in BUILTIN_PATTERNS.items() if k not in self.options.disabled}
        detectors.update(self.options.patterns)
        self._kinds = list(detectors)
        # One alternation, one pass per string; group names are positional to stay valid.
        combined = "|".join(f"(?P<_rk{i}>{rx})" for i, rx in enumerate(detectors.values()))
        self._regex = re.compile(combined) if combined else None
        self._secret = tuple(_segments(k) for k in self.options.secret_keys)
        self.is_secret_key = lru_cache(maxsize=4096)(self._is_secret_key)
        self._scrub_short = lru_cache(maxsize=4096)(self._scrub)

    def _replace(self, match: re.Match[str]) -> str:
        kind = self._kinds[int(match.lastgroup[3:])] if match.lastgroup else "pattern"
        if kind == "credit_card" and not _luhn_ok(match.group()):
            return match.group()
        return f"[REDACTED:{kind}]"

    def _is_secret_key(self, key: str) -> bool:
        segs = _segments(key)
        for secret in self._secret:
            n = len(secret)
            if any(segs[i : i + n] == secret for i in range(len(segs) - n + 1)):
                return True
        return False

    def scrub_text(self, text: str) -> str:
        """``text`` with every detector match replaced by ``[REDACTED:<kind>]``."""
        if self._regex is None or not text:
            return text
        if len(text) <= _CACHED_LEN:
            # Short values (names, outcomes, categories) repeat on every span: one regex pass
            # costs microseconds, a cache hit a fraction of that.
            return self._scrub_short(text)
        return self._scrub(text)

    def _scrub(self, text: str) -> str:
        assert self._regex is not None
        new = self._regex.sub(self._replace, text)
        return text if new == text else new

    def scrub_value(self, value: Any) -> Any:
        """A scrubbed attribute value or log body: strings, sequences and mappings of them."""
        if isinstance(value, str):
            return self.scrub_text(value)
        if isinstance(value, (tuple, list)):
            items = [self.scrub_value(v) for v in value]
            if all(a is b for a, b in zip(items, value, strict=True)):
                return value
            return tuple(items) if isinstance(value, tuple) else items
        if isinstance(value, Mapping):
            scrubbed = self.scrub_attributes(value)
            return value if scrubbed is None else scrubbed
        return value

    def scrub_attributes(self, attributes: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """A scrubbed copy of ``attributes``, or ``None`` when nothing needed to change."""
        if not attributes:
            return None
        out: dict[str, Any] | None = None
        drop = self.options.secret_key_action == "drop"
        for key, value in attributes.items():
            if self.is_secret_key(key):
                new: Any = MASK if value not in (None, "", MASK) else value
                if drop:
                    out = out if out is not None else dict(attributes)
                    del out[key]
                    continue
            else:
                new = self.scrub_value(value)
            if new is not value:
                out = out if out is not None else dict(attributes)
                out[key] = new
        return out
