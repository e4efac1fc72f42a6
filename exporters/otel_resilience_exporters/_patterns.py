"""The built-in detectors: regular expressions, cheap pre-checks and match validators.

Every pattern runs in time linear in the text: a token pattern may only start where a run of
its characters starts (a negative look-behind on the same class), so a long run such as
``eyJ-eyJ-eyJ-...`` is scanned once rather than once per position, and the remaining
repetitions are bounded. ``benchmarks/bench_redaction.py`` measures the hostile cases.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Final

__all__ = [
    "BUILTIN_PATTERNS",
    "EMAIL_LOCAL",
    "EMAIL_LOCAL_MAX",
    "PARAM_VALUE",
    "SECRET_PARAM",
    "TRIGGERS",
    "VALIDATORS",
]

#: The kind of the ``key=value`` detector; it always runs last (see :data:`SECRET_PARAM`).
SECRET_PARAM_KIND: Final = "secret_param"

# ``key=value`` / ``key: value`` heads. Only the head is matched; the value is captured in a
# look-ahead and skipped by the caller when the key is secret, so the value of a harmless key
# is still scanned by every detector, without recursion. Keys are decided in Python (the
# exact rule of docs/exporters.md), with the decision cached per key.
SECRET_PARAM: Final = (
    r"(?<![\w.\-])(?P<kvk>[\w.\-]{1,128})[\"']?\s*(?:=|:(?!//))\s*[\"']?"
    r"(?=(?!(?i:basic|bearer)\s)(?P<kvv>[^\s&;,\"'<>]))"
)
#: Characters of an e-mail address before its ``@``, and how many of them at most.
EMAIL_LOCAL: Final = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-"
)
EMAIL_LOCAL_MAX: Final = 64
#: The rest of a ``key=value`` value (the pattern only checks that one is there).
PARAM_VALUE: Final = re.compile(r"[^\s&;,\"'<>]*")

_HOST: Final = r"[A-Za-z0-9.\-:\[\]]"

#: Built-in detectors, tried in this order at each position (specific before generic).
BUILTIN_PATTERNS: Final[Mapping[str, str]] = {
    "jwt": r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*",
    # userinfo of a URL: scheme and host are kept, ``user:password`` goes. The password may
    # hold ``/``, ``+``, ``=`` and even ``@``: it ends at the ``@`` followed by a host.
    "url_credentials": (
        rf"(?<=://)[^\s/?#@:]{{1,128}}:\S{{1,128}}?(?=@{_HOST}{{1,255}}(?!{_HOST}|@))"
    ),
    # The ``Authorization:`` head, when present, is kept and makes any token a credential.
    "bearer_token": (
        r"(?i:(?P<bauth>\bauthorization[\"']?\s*[:=]\s*[\"']?)?\bbearer\s+)"
        r"[A-Za-z0-9._~+/-]{8,}=*"
    ),
    "basic_auth": r"(?i:\bbasic\s+[A-Za-z0-9+/]{8,}={0,2})",
    "anthropic_key": r"(?<![A-Za-z0-9_-])sk-ant-[A-Za-z0-9_-]{16,}",
    "openai_key": r"(?<![A-Za-z0-9_-])sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}",
    "aws_access_key": r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
    # 40 base64 characters standing alone; kept unless they look random (see the validator).
    "aws_secret_key": r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])",
    "github_token": (
        r"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})"
    ),
    "google_api_key": r"\bAIza[0-9A-Za-z_-]{35}",
    "slack_token": r"(?<![A-Za-z0-9-])xox[abposr]-[A-Za-z0-9-]{10,}",
    # Plain or URL-encoded (``%40``). Matched from the ``@`` on, so a run of local-part
    # characters is never rescanned from each of its positions; the caller extends the match
    # back over the local part (:data:`EMAIL_LOCAL`, at most 64 characters, RFC 5321).
    "email": (r"(?:@|%40)[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,63}\b"),
    # 13-19 digits, optionally grouped by spaces or dashes; kept only if the Luhn check passes.
    "credit_card": r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])",
    "ssn": r"(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])",
    "phone": (
        r"(?<![\w+])\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]?\d{2,4}){1,4}(?!\d)"
        r"|(?<![\w(])(?:\(\d{3}\)\s?|\d{3}[.-])\d{3}[.-]\d{4}(?!\d)"
    ),
    SECRET_PARAM_KIND: SECRET_PARAM,
}

_DIGIT = re.compile(r"\d").search


def _has(*needles: str) -> Callable[[str, str], bool]:
    return lambda text, _low: any(n in text for n in needles)


def _has_lower(*needles: str) -> Callable[[str, str], bool]:
    return lambda _text, low: any(n in low for n in needles)


#: Cheap checks (substring scans, run in C) that a detector could match at all; a detector
#: whose check fails is left out of the pass. Arguments: the text and its lower-case form.
TRIGGERS: Final[Mapping[str, Callable[[str, str], bool]]] = {
    "jwt": _has("eyJ"),
    "url_credentials": lambda text, _low: "@" in text and "://" in text,
    "bearer_token": _has_lower("bearer"),
    "basic_auth": _has_lower("basic"),
    "anthropic_key": _has("sk-"),
    "openai_key": _has("sk-"),
    "aws_access_key": _has("AKIA", "ASIA"),
    "github_token": _has("gh", "github_pat_"),
    "google_api_key": _has("AIza"),
    "slack_token": _has("xox"),
    "email": _has("@", "%40"),
    "credit_card": lambda text, _low: _DIGIT(text) is not None,
    "ssn": lambda text, _low: _DIGIT(text) is not None,
    "phone": lambda text, _low: _DIGIT(text) is not None,
    SECRET_PARAM_KIND: _has("=", ":"),
}


def _luhn_ok(match: re.Match[str]) -> bool:
    digits = [int(c) for c in match.group() if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        total += (d * 2 - 9 if d > 4 else d * 2) if i % 2 == 1 else d
    return total % 10 == 0


def _basic_ok(match: re.Match[str]) -> bool:
    # RFC 7617 credentials are base64("user:password"); anything else is ordinary prose.
    try:
        decoded = base64.b64decode(match.group().rsplit(maxsplit=1)[-1], validate=True)
    except (binascii.Error, ValueError):
        return False
    return b":" in decoded


#: Longest ordinary word seen after a lower-case "bearer" in prose.
_PROSE_WORD_MAX: Final = 19


def _bearer_ok(match: re.Match[str]) -> bool:
    # After "Authorization:" anything is a credential. Elsewhere only a lower-case "bearer"
    # followed by a lower-case word of ordinary length is prose ("bearer responsibilities");
    # letters-only tokens in any other shape ("Bearer abcdefghij", "bearer AbCdEfGh") go.
    if match.group("bauth"):
        return True
    word, token = match.group().split(maxsplit=1)
    prose = word == "bearer" and token.isalpha() and token.islower()
    return not (prose and len(token) <= _PROSE_WORD_MAX)


#: Entropy (bits per character) from which 40 base64 characters are taken for a key: random
#: keys score about 4.8 and none of 200,000 scored below 4.1; identifiers and paths of that
#: length score 3.5 to 4.7, so a 40-character camelCase name with a digit may be masked.
_AWS_SECRET_MIN_ENTROPY: Final = 4.1


def _aws_secret_ok(match: re.Match[str]) -> bool:
    text = match.group()
    if not (any(c.isupper() for c in text) and any(c.islower() for c in text)):
        return False  # hex digests and upper-case ids
    if not any(c.isdigit() or c in "/+" for c in text) or text.count("/") > 5:
        return False  # camelCase words; file paths
    counts = Counter(text).values()
    entropy = -sum(n / 40 * math.log2(n / 40) for n in counts)
    return entropy >= _AWS_SECRET_MIN_ENTROPY


#: Extra checks on a match, so look-alikes (random digit runs, prose) survive.
VALIDATORS: Final[Mapping[str, Callable[[re.Match[str]], bool]]] = {
    "credit_card": _luhn_ok,
    "basic_auth": _basic_ok,
    "bearer_token": _bearer_ok,
    "aws_secret_key": _aws_secret_ok,
}
