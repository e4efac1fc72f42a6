"""The tracker's default scrubbing: the exporters' redaction when installed, else core masks.

Error messages, stack traces and breadcrumbs are shown by ``/reliability``, ``/status`` and
debug bundles and exported as log records, so they are cleaned before they are kept. Without
``otel-resilience-exporters`` the core masks what it can recognise without a dependency:
secret ``key=value`` pairs, bearer/basic credentials, URL passwords, e-mail addresses, well
known token prefixes, JWTs, long digit runs (cards, phones, national ids) and long words with
digits (keys, tokens). Every pattern is linear in the text.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

__all__ = ["MASK", "core_scrub", "default_scrub", "safe_scrub"]

_log = logging.getLogger(__name__)

MASK = "[REDACTED]"

_SECRET_WORD = (
    r"passw(?:or)?d|passwd|pwd|secret|token|api[_-]?key|apikey|auth(?:orization)?|credential"
    r"|cookie|session|private[_-]?key|access[_-]?key|signature"
)
_KV = (
    # key=value / key: value / "key": "value" with a secret-looking key: the value goes.
    rf"(?P<kv>(?i:(?<![\w.-])[\w.-]{{0,64}}(?:{_SECRET_WORD})[\w.-]{{0,64}})"
    r"[\"']?\s*(?:=|:(?!//))\s*[\"']?(?:(?i:bearer|basic)\s+)?)[^\s&;,\"'<>]+"
)
_OTHERS = (
    r"(?P<scheme>(?i:\b(?:bearer|basic))\s+)[A-Za-z0-9._~+/=-]+"
    r"|(?P<url>(?<=://)[^\s/?#@:]{1,128}:[^\s/?#@]{1,128}(?=@))"
    r"|(?P<email>(?<![\w.+%-])[\w.+%-]{1,64}@[\w-]+(?:\.[\w-]+)+)"
    r"|(?P<prefixed>(?<![\w-])(?:sk-|ghp_|gh[osur]_|xox[abpr]-|AKIA|AIza|eyJ)[\w.-]{8,})"
    r"|(?P<digits>(?<![\w+])\+?\(?\d(?:[().\s-]{0,3}\d){6,})"
    r"|(?P<word>(?<![\w-])(?=[\w-]{16,})[\w-]*\d[\w-]*)"
)
# The key=value alternative is the costly one: it only runs when a secret word occurs at all.
_HAS_SECRET_WORD = re.compile(rf"(?i:{_SECRET_WORD})").search
_WITH_KV = re.compile(f"{_KV}|{_OTHERS}")
_WITHOUT_KV = re.compile(_OTHERS)


def _replace(match: re.Match[str]) -> str:
    name = match.lastgroup  # kv and scheme keep their head (the key, "Bearer ")
    return (match.group(name) if name in ("kv", "scheme") else "") + MASK


def core_scrub(text: str) -> str:
    """``text`` with what the core recognises as secret or personal masked."""
    pattern = _WITH_KV if _HAS_SECRET_WORD(text) else _WITHOUT_KV
    return pattern.sub(_replace, text)


def default_scrub() -> Callable[[str], str]:
    """The exporters' redaction when installed (the same rules as exported telemetry), else
    :func:`core_scrub`."""
    try:
        from otel_resilience_exporters import Redactor
    except ImportError:
        return core_scrub
    return Redactor().scrub_text


def safe_scrub(scrub: Callable[[str], str], text: str) -> str:
    """``scrub(text)``; a scrubber raising or returning junk falls back to :func:`core_scrub`."""
    try:
        result = scrub(text)
    except Exception:
        _log.debug("otel-resilience: scrub failed; masking with the core patterns", exc_info=True)
        return core_scrub(text)
    return result if isinstance(result, str) else core_scrub(text)
