"""Scrubbing of personal data and credentials from telemetry text, values and attribute maps."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import islice
from typing import Any, Final, Literal, TypeVar

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from ._env import parse_bool
from ._keys import (
    DEFAULT_SECRET_KEYS,
    DEFAULT_SECRET_SEGMENTS,
    is_content_key,
    normalise,
    segment_secret,
    segments,
)
from ._patterns import (
    BUILTIN_PATTERNS,
    EMAIL_LOCAL,
    EMAIL_LOCAL_MAX,
    PARAM_VALUE,
    SECRET_PARAM_KIND,
    TRIGGERS,
    VALIDATORS,
)

__all__ = [
    "BUILTIN_PATTERNS",
    "DEFAULT_MAX_VALUE_LENGTH",
    "DEFAULT_SECRET_KEYS",
    "RedactionOptions",
    "Redactor",
]

#: Characters of one string that are scrubbed and exported; the rest is cut off and marked.
DEFAULT_MAX_VALUE_LENGTH: Final = 16 * 1024
#: Smallest accepted ``max_value_length``.
MIN_MAX_VALUE_LENGTH: Final = 256
#: Characters past the cut that detectors still see, so a secret straddling it is recognised
#: (and replaced whole) instead of leaving its first part behind.
_CUT_MARGIN: Final = 4096


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
    #: Longest string scrubbed and exported (values, names, bodies, keys): the text beyond is
    #: cut off and ``...[TRUNCATED:<n> chars]`` appended, so a huge message costs a bounded
    #: time to scrub.
    max_value_length: int = DEFAULT_MAX_VALUE_LENGTH

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "capture_content", parse_bool("capture_content", self.capture_content)
        )
        length = self.max_value_length
        if isinstance(length, bool) or not isinstance(length, int) or length < MIN_MAX_VALUE_LENGTH:
            raise ValueError(
                f"max_value_length: expected an integer >= {MIN_MAX_VALUE_LENGTH}, got {length!r}"
            )
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


def truncation_mark(length: int) -> str:
    """What replaces the end of a string longer than ``max_value_length`` characters."""
    return f"...[TRUNCATED:{length} chars]"


class Redactor:
    """Applies :class:`RedactionOptions` to strings, attribute values and attribute maps.

    Every ``scrub_*`` method returns its argument itself (same object) when nothing matched, so
    callers can skip copying; numbers and booleans are passed through without a regex run.
    Attribute keys are scrubbed like values. Scrubbing a string costs time linear in its length,
    which is capped at ``max_value_length`` (plus a small margin).
    """

    def __init__(self, options: RedactionOptions | None = None) -> None:
        self.options = opts = options or RedactionOptions()
        detectors = {k: v for k, v in BUILTIN_PATTERNS.items() if k not in opts.disabled}
        # Generic ``key=value`` heads go last: any other detector starting at the same place
        # (a phone number or an API key used as a key) wins.
        last = detectors.pop(SECRET_PARAM_KIND, None)
        detectors.update(opts.patterns)
        if last is not None:
            detectors[SECRET_PARAM_KIND] = last
        self._kinds = list(detectors)
        self._sources = list(detectors.values())
        self._triggers = [TRIGGERS.get(k) if k not in opts.patterns else None for k in detectors]
        self._substrings = tuple(normalise(k) for k in opts.secret_keys)
        self._segment_words = tuple(normalise(k) for k in opts.secret_segments)
        self._key_kind = lru_cache(maxsize=4096)(self._classify_key)
        self._scrub_short = lru_cache(maxsize=4096)(self._scrub)
        self._compiled = lru_cache(maxsize=128)(self._compile)
        # Resources and scopes are shared by every span of a provider/tracer: cache by identity
        # (Resource hashes by serialising itself, far too slow per span).
        self._objects: dict[int, tuple[object, object]] = {}

    def _compile(self, active: tuple[int, ...]) -> re.Pattern[str] | None:
        # One alternation of the detectors that could match; group names keep their index.
        if not active:
            return None
        return re.compile("|".join(f"(?P<_rk{i}>{self._sources[i]})" for i in active))

    def _regex_for(self, text: str) -> re.Pattern[str] | None:
        low = text.lower()
        active = tuple(
            i for i, check in enumerate(self._triggers) if check is None or check(text, low)
        )
        return self._compiled(active)

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
        """``text`` with every detector match replaced by ``[REDACTED:<kind>]``, cut to
        ``max_value_length`` characters (and marked) when longer."""
        if not text:
            return text
        limit = self.options.max_value_length
        if len(text) > limit:
            # Detectors see a little past the cut, so a secret straddling it goes whole.
            kept = self._scrub(text[: limit + _CUT_MARGIN], limit)
            return kept + truncation_mark(len(text))
        if len(text) <= _CACHED_LEN:
            # Short values (names, outcomes, categories) repeat on every span: one regex pass
            # costs microseconds, a cache hit a fraction of that.
            return self._scrub_short(text)
        return self._scrub(text)

    def _scrub(self, text: str, stop: int | None = None) -> str:
        """``text`` scrubbed; with ``stop``, only what starts before it is kept (a match that
        starts before ``stop`` is replaced whole)."""
        end_at = len(text) if stop is None else stop
        regex = self._regex_for(text)
        match = regex.search(text) if regex is not None else None
        if regex is None or match is None:
            return text if stop is None else text[:stop]
        out: list[str] = []
        pos = 0
        # An e-mail match starts at its "@": its address may begin up to 64 characters earlier.
        while match is not None and match.start() < end_at + EMAIL_LOCAL_MAX:
            replaced = self._replacement(match, pos)
            begin = match.start() if replaced is None else replaced[0]
            if begin >= end_at:
                break
            if replaced is None:  # a look-alike: kept as it is (an empty match skips a char)
                resume = max(match.end(), match.start() + 1)
                out.append(text[pos:resume])
            else:
                _, new, resume = replaced
                out.append(text[pos:begin])
                out.append(new)
            pos = resume
            match = regex.search(text, pos)
        if pos < end_at:
            out.append(text[pos:end_at])
        new_text = "".join(out)
        return text if new_text == text else new_text

    def _replacement(self, match: re.Match[str], floor: int) -> tuple[int, str, int] | None:
        """Where the replacement of ``match`` starts (not before ``floor``), what it is and
        where scanning resumes; ``None`` keeps the match."""
        kind = self._kinds[int(match.lastgroup[3:])] if match.lastgroup else "pattern"
        start, end = match.span()
        if end == start:
            return None
        if kind == SECRET_PARAM_KIND:
            if not self.is_secret_key(match.group("kvk")):
                return None  # a harmless key (``max_tokens=5``): its value gets scanned next
            # The value was only looked at (not matched): it goes too.
            value_end = PARAM_VALUE.match(match.string, end).end()  # type: ignore[union-attr]
            return start, f"{match.group()}[REDACTED:{kind}]", value_end
        if kind == "email" and kind not in self.options.patterns:
            text, local = match.string, start
            while local > max(floor, start - EMAIL_LOCAL_MAX) and text[local - 1] in EMAIL_LOCAL:
                local -= 1
            return None if local == start else (local, f"[REDACTED:{kind}]", end)
        check = VALIDATORS.get(kind) if kind not in self.options.patterns else None
        if check is not None and not check(match):
            return None
        if kind == "bearer_token" and match.group("bauth"):
            return start, f"{match.group('bauth')}[REDACTED:{kind}]", end
        return start, f"[REDACTED:{kind}]", end

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

        Keys are scrubbed as text; content keys (unless captured) are removed; secret keys
        masked or removed.
        """
        if not attributes:
            return None
        out: list[tuple[Any, Any]] | None = None
        drop_secret = self.options.secret_key_action == "drop"
        for i, (key, value) in enumerate(attributes.items()):
            kind, new_key = _KEEP, key
            if isinstance(key, str):
                kind, new_key = self._key_kind(key), self.scrub_text(key)
            drop = kind == _CONTENT or (kind == _SECRET and drop_secret)
            new: Any = value
            if drop:
                pass
            elif kind == _SECRET:
                new = MASK if value not in (None, "", MASK) else value
            else:
                new = self.scrub_value(value)
            if out is None:
                if not drop and new is value and new_key is key:
                    continue
                out = list(islice(attributes.items(), i))  # the clean ones before this
            if not drop:
                out.append((new_key, new))
        return None if out is None else dict(out)

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
