"""Which attribute keys are secret, which carry GenAI content, and the regex for both in text."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

__all__ = [
    "DEFAULT_SECRET_KEYS",
    "DEFAULT_SECRET_SEGMENTS",
    "is_content_key",
    "key_regex",
    "normalise",
    "segment_secret",
    "segments",
]

#: Substrings of the normalised key (lower case, letters and digits only) that make it secret.
DEFAULT_SECRET_KEYS: Final = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "apikey",
    "privatekey",
    "authorization",
    "cookie",
    "credential",
)
#: Key segments that make it secret when a segment is, or ends with, one of them (plural too).
#: Segment-based, unlike the substrings, so ``tokenizer`` and token counts stay readable.
DEFAULT_SECRET_SEGMENTS: Final = ("token", "pwd")

# A secret-segment match next to one of these words is a count or a descriptor, not a secret:
# ``gen_ai.usage.input_tokens``, ``max_tokens``, ``token_count``, ``gen_ai.token.type``.
_COUNT_BEFORE: Final = frozenset(
    {
        "input", "output", "max", "min", "total", "prompt", "completion", "cached", "cache",
        "reasoning", "num", "number", "remaining", "used", "estimated", "generated",
        "context", "audio", "text", "image", "thoughts",
    }
)  # fmt: skip
_COUNT_AFTER: Final = frozenset(
    {
        "count", "counts", "usage", "type", "limit", "limits", "budget", "used", "remaining",
        "total", "per", "rate", "length", "len", "num", "size",
    }
)  # fmt: skip

#: GenAI attributes holding prompts, responses and instructions (semantic conventions).
_CONTENT_PREFIXES: Final = ("gen_ai.prompt", "gen_ai.completion")
_CONTENT_KEYS: Final = frozenset(
    {
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
        "gen_ai.tool.call.arguments",
        "gen_ai.tool.call.result",
    }
)

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
# camelCase humps, and the end of an acronym: "JWTToken" -> "JWT.Token", "apiKey" -> "api.Key".
_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def normalise(key: str) -> str:
    """``"X-Api_Key"`` -> ``"xapikey"``."""
    return _NON_ALNUM.sub("", key.lower())


def segments(key: str) -> tuple[str, ...]:
    """``"x-Api_Key"``/``"JWTToken"`` -> ``("x", "api", "key")``/``("jwt", "token")``."""
    return tuple(s for s in _NON_ALNUM.split(_HUMP.sub(".", key).lower()) if s)


def segment_secret(segs: Sequence[str], words: Sequence[str]) -> bool:
    """Whether a segment is or ends with one of ``words`` (or its plural), not as a count."""
    for i, seg in enumerate(segs):
        for word in words:
            if seg.endswith(word):
                prefix = seg[: -len(word)]
            elif seg.endswith(word + "s"):
                prefix = seg[: -len(word) - 1]
            else:
                continue
            before = prefix or (segs[i - 1] if i else "")
            after = segs[i + 1] if i + 1 < len(segs) else ""
            if before in _COUNT_BEFORE or after in _COUNT_AFTER:
                continue
            return True
    return False


def is_content_key(key: str) -> bool:
    """Whether ``key`` carries GenAI prompt/response content."""
    low = key.lower()
    return low in _CONTENT_KEYS or low.startswith(_CONTENT_PREFIXES)


def key_regex(words: Sequence[str]) -> str:
    """An alternation matching any of ``words`` in text, with ``_``, ``-`` or ``.`` allowed
    between letters (``apikey`` also finds ``api_key`` and ``API-Key``)."""
    parts = sorted({normalise(w) for w in words if normalise(w)}, key=len, reverse=True)
    return "|".join("[_.\\-]?".join(re.escape(c) for c in w) for w in parts)
