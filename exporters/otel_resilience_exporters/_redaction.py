"""Scrubbing of personal data and credentials from telemetry text, values and attribute maps."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final, Literal, TypeVar

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from ._keys import (
    DEFAULT_SECRET_KEYS,
    DEFAULT_SECRET_SEGMENTS,
    is_content_key,
    key_regex,
    normalise,
    segment_secret,
    segments,
)

__all__ = [
    "BUILTIN_PATTERNS",
    "DEFAULT_SECRET_KEYS",
    "RedactionOptions",
    "Redactor",
]

# ``key=value`` / ``key: value`` pairs, tried only where the key contains a secret word (the
# exact key rule is applied when replacing). ``{key}`` is filled in from the options; the
# bounded key length keeps a long run of word characters from costing quadratic time.
_SECRET_PARAM: Final = (
    r"(?<![\w.\-])(?P<kvh>(?P<kvk>[\w.\-]{{0,64}}?(?i:{key})[\w.\-]{{0,64}})[\"']?\s*(?:=|:(?!//))\s*[\"']?)"
    r"(?!(?i:basic|bearer)\s)(?P<kvv>[^\s&;,\"'<>]+)"
)

#: Built-in detectors, tried in this order at each position (specific before generic).
BUILTIN_PATTERNS: Final[Mapping[str, str]] = {
    "jwt": r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*",
    # userinfo of a URL: scheme and host are kept, ``user:password`` goes.
    "url_credentials": r"(?<=://)[^\s/?#@:]+:[^\s/?#@]+(?=@)",
    "bearer_token": r"(?i:\bbearer\s+[A-Za-z0-9._~+/-]{8,}=*)",
    "basic_auth": r"(?i:\bbasic\s+[A-Za-z0-9+/]{8,}={0,2})",
    "secret_param": _SECRET_PARAM.format(
        key=key_regex((*DEFAULT_SECRET_KEYS, *DEFAULT_SECRET_SEGMENTS))
    ),
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


def _luhn_ok(text: str) -> bool:
    digits = [int(c) for c in text if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        total += (d * 2 - 9 if d > 4 else d * 2) if i % 2 == 1 else d
    return total % 10 == 0


def _basic_ok(text: str) -> bool:
    # RFC 7617 credentials are base64("user:password"); anything else is ordinary prose.
    try:
        decoded = base64.b64decode(text.rsplit(maxsplit=1)[-1], validate=True)
    except (binascii.Error, ValueError):
        return False
    return b":" in decoded


def _opaque_ok(text: str) -> bool:
    # "bearer responsibilities" is prose; real tokens carry digits or punctuation.
    token = text.rsplit(maxsplit=1)[-1]
    return any(c.isdigit() or c in "._~+/-=" for c in token)


#: Extra checks on a match, so look-alikes (random digit runs, prose) survive.
_VALIDATORS: Final[Mapping[str, Callable[[str], bool]]] = {
    "credit_card": _luhn_ok,
    "basic_auth": _basic_ok,
    "bearer_token": _opaque_ok,
}


@dataclass(frozen=True)
class RedactionOptions:
    """What :class:`Redactor` scrubs (the rules are in docs/exporters.md, "Redaction").

    A key is secret when, lower-cased with everything but letters and digits removed, it
    contains an entry of ``secret_keys`` (``apiKey``, ``X-API-KEY`` and ``OPENAI_API_KEY`` all
    contain ``apikey``), or when one of its segments (split at non-alphanumerics and camelCase
    humps) is or ends with an entry of ``secret_segments`` (``access_token``, ``JWTToken``),
    unless that segment is a count: ``input_tokens``, ``max_tokens``, ``token_count``,
    ``gen_ai.token.type`` are not secret.
    """

    #: Extra detectors, name -> regular expression; matches become ``[REDACTED:<name>]``.
    patterns: Mapping[str, str] = field(default_factory=dict)
    #: Names of :data:`BUILTIN_PATTERNS` to switch off.
    disabled: frozenset[str] = frozenset()
    #: Substrings of the normalised key that make it secret (see the class docstring).
    secret_keys: tuple[str, ...] = DEFAULT_SECRET_KEYS
    #: Key segments that make it secret (see the class docstring).
    secret_segments: tuple[str, ...] = DEFAULT_SECRET_SEGMENTS
    #: ``"mask"`` keeps a secret key with the value ``[REDACTED]``; ``"drop"`` removes it.
    secret_key_action: Literal["mask", "drop"] = "mask"
    #: Keep GenAI prompt/response content (``gen_ai.prompt*``, ``gen_ai.input.messages`` ...,
    #: bodies of ``gen_ai.*`` events); off by default, so it is dropped.
    capture_content: bool = False

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
        if any(not normalise(k) for k in self.secret_keys):
            raise ValueError("secret_keys: every key needs at least one letter or digit")
        if any(not normalise(k) for k in self.secret_segments):
            raise ValueError("secret_segments: every entry needs at least one letter or digit")
        if self.secret_key_action not in ("mask", "drop"):
            raise ValueError(
                f"secret_key_action: must be 'mask' or 'drop', got {self.secret_key_action!r}"
            )


MASK: Final = "[REDACTED]"
#: Replaces bytes that are not UTF-8 text: they cannot be checked, so they are not exported.
MASK_BYTES: Final = "[REDACTED:bytes]"
#: Strings up to this length have their scrubbed form cached (bounded LRU).
_CACHED_LEN: Final = 96
# Key decisions, cached per key.
_KEEP, _SECRET, _CONTENT = 0, 1, 2
_T = TypeVar("_T")


class Redactor:
    """Applies :class:`RedactionOptions` to strings, attribute values and attribute maps.

    Every ``scrub_*`` method returns its argument itself (same object) when nothing matched, so
    callers can skip copying; numbers and booleans are passed through without a regex run.
    """

    def __init__(self, options: RedactionOptions | None = None) -> None:
        self.options = opts = options or RedactionOptions()
        detectors = {k: v for k, v in BUILTIN_PATTERNS.items() if k not in opts.disabled}
        if "secret_param" in detectors:
            words = key_regex((*opts.secret_keys, *opts.secret_segments))
            detectors["secret_param"] = _SECRET_PARAM.format(key=words)
        detectors.update(opts.patterns)
        self._kinds = list(detectors)
        # One alternation, one pass per string; group names are positional to stay valid.
        combined = "|".join(f"(?P<_rk{i}>{rx})" for i, rx in enumerate(detectors.values()))
        self._regex = re.compile(combined) if combined else None
        self._substrings = tuple(normalise(k) for k in opts.secret_keys)
        self._segment_words = tuple(normalise(k) for k in opts.secret_segments)
        self._key_kind = lru_cache(maxsize=4096)(self._classify_key)
        self._scrub_short = lru_cache(maxsize=4096)(self._scrub)
        # Resources and scopes are shared by every span of a provider/tracer: cache by identity
        # (Resource hashes by serialising itself, far too slow per span).
        self._objects: dict[int, tuple[object, object]] = {}

    def _replace(self, match: re.Match[str]) -> str:
        kind = self._kinds[int(match.lastgroup[3:])] if match.lastgroup else "pattern"
        text = match.group()
        check = _VALIDATORS.get(kind)
        if check is not None and not check(text):
            return text
        if kind == "secret_param" and "kvk" in match.re.groupindex:
            head, value = match.group("kvh"), match.group("kvv")
            if self.is_secret_key(match.group("kvk")):
                return f"{head}[REDACTED:{kind}]"
            # A harmless key (``max_tokens=5``): its value still gets the other detectors.
            return head + self._scrub(value)
        return f"[REDACTED:{kind}]"

    def _classify_key(self, key: str) -> int:
        if not self.options.capture_content and is_content_key(key):
            return _CONTENT
        flat = normalise(key)
        if any(s in flat for s in self._substrings):
            return _SECRET
        if segment_secret(segments(key), self._segment_words):
            return _SECRET
        return _KEEP

    def is_secret_key(self, key: str) -> bool:
        """Whether values under ``key`` are never exported as they are (see the options)."""
        return bool(self._key_kind(key) == _SECRET)

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
        if self._regex is None:
            return text
        new = self._regex.sub(self._replace, text)
        return text if new == text else new

    def scrub_value(self, value: Any) -> Any:
        """A scrubbed attribute value or log body.

        Strings are scrubbed; UTF-8 bytes are decoded and scrubbed (other bytes are masked);
        lists, tuples, sets and mappings element-wise; any other object except numbers,
        booleans and ``None`` by its ``str()``, which is what exporters would write.
        """
        if isinstance(value, str):
            return self.scrub_text(value)
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if isinstance(value, (bytes, bytearray)):
            try:
                text = bytes(value).decode("utf-8")
            except UnicodeDecodeError:
                return MASK_BYTES
            new = self.scrub_text(text)
            return value if new is text else new
        if isinstance(value, (tuple, list, set, frozenset)):
            items = [self.scrub_value(v) for v in value]
            if all(a is b for a, b in zip(items, value, strict=True)):
                return value
            return type(value)(items) if not isinstance(value, list) else items
        if isinstance(value, Mapping):
            scrubbed = self.scrub_attributes(value)
            return value if scrubbed is None else scrubbed
        text = str(value)
        new = self.scrub_text(text)
        return value if new is text else new

    def scrub_attributes(self, attributes: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """A scrubbed copy of ``attributes``, or ``None`` when nothing needed to change.

        Content keys (unless captured) are removed; secret keys masked or removed.
        """
        if not attributes:
            return None
        out: dict[str, Any] | None = None
        drop = self.options.secret_key_action == "drop"
        for key, value in attributes.items():
            kind = self._key_kind(key) if isinstance(key, str) else _KEEP
            if kind == _CONTENT or (kind == _SECRET and drop):
                out = out if out is not None else dict(attributes)
                del out[key]
                continue
            if kind == _SECRET:
                new: Any = MASK if value not in (None, "", MASK) else value
            else:
                new = self.scrub_value(value)
            if new is not value:
                out = out if out is not None else dict(attributes)
                out[key] = new
        return out

    def _by_identity(self, obj: _T, scrub: Callable[[_T], _T]) -> _T:
        hit = self._objects.get(id(obj))
        if hit is not None and hit[0] is obj:
            return hit[1]  # type: ignore[return-value]
        new = scrub(obj)
        if len(self._objects) >= 1024:  # bounded: tracers with per-call attributes exist
            self._objects.clear()
        self._objects[id(obj)] = (obj, new)
        return new

    def scrub_resource(self, resource: Resource) -> Resource:
        """``resource`` itself when clean, else a copy with scrubbed attributes."""
        return self._by_identity(resource, self._scrub_resource)

    def _scrub_resource(self, resource: Resource) -> Resource:
        attrs = self.scrub_attributes(resource.attributes)
        return resource if attrs is None else Resource(attrs, resource.schema_url)

    def scrub_scope(self, scope: InstrumentationScope | None) -> InstrumentationScope | None:
        """``scope`` itself when its attributes are clean, else a scrubbed copy."""
        if scope is None or not scope.attributes:
            return scope
        return self._by_identity(scope, self._scrub_scope)

    def _scrub_scope(self, scope: InstrumentationScope) -> InstrumentationScope:
        attrs = self.scrub_attributes(scope.attributes)
        if attrs is None:
            return scope
        return InstrumentationScope(scope.name, scope.version, scope.schema_url, attrs)
