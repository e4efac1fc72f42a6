"""Reading how long a server asked us to wait out of its response headers."""

from __future__ import annotations

import itertools
import math
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # dates are parsed rarely: datetime and email are imported on first use
    from datetime import datetime

__all__ = ["from_headers", "header_dict", "parse_retry_after"]

# Header names compared in lower case.
_RETRY_AFTER_MS = "retry-after-ms"
_RETRY_AFTER = "retry-after"
# Reset headers of OpenAI (durations) and Anthropic (RFC 3339 timestamps), tried after
# Retry-After; names are listed for header objects that only offer .get().
_OPENAI_KINDS = ("requests", "tokens")
_ANTHROPIC_KINDS = ("requests", "tokens", "input-tokens", "output-tokens")
_OPENAI_RESET = re.compile(r"x-ratelimit-reset-(.+)")
_ANTHROPIC_RESET = re.compile(r"anthropic-ratelimit-(.+)-reset")

_SECONDS = re.compile(r"\s*(\d{1,15}(?:\.\d{1,9})?)\s*", re.ASCII)
_DURATION_PART = re.compile(r"(\d{1,15}(?:\.\d{1,9})?)(ms|h|m|s)", re.ASCII)
_DURATION = re.compile(r"(?:\d{1,15}(?:\.\d{1,9})?(?:ms|h|m|s))+", re.ASCII)
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_MAX_HEADER = 256  # longer values are garbage; bounds regex and parsing work
_MAX_HEADERS = 256  # more header lines than this are not read: a mapping may never end


def header_dict(headers: object) -> dict[str, str]:
    """``headers`` as a dict with lower-case names; empty when it is not header-like.

    Accepts mappings and anything with ``.items()`` (httpx.Headers, requests'
    CaseInsensitiveDict, multidict, email.message.Message) or with only ``.get()``.
    """
    if headers is None:
        return {}
    items = getattr(headers, "items", None)
    if callable(items):
        out: dict[str, str] = {}
        for pair in itertools.islice(items(), _MAX_HEADERS):
            key, value = pair
            name = _text(key)
            if name is not None and name.lower() not in out:
                text = _text(value)
                if text is not None:
                    out[name.lower()] = text
        return out
    get = getattr(headers, "get", None)
    if not callable(get):
        return {}
    names = [_RETRY_AFTER_MS, _RETRY_AFTER, "Retry-After"]
    names += [f"x-ratelimit-{p}-{k}" for k in _OPENAI_KINDS for p in ("reset", "remaining")]
    names += [
        f"anthropic-ratelimit-{k}-{p}" for k in _ANTHROPIC_KINDS for p in ("reset", "remaining")
    ]
    found: dict[str, str] = {}
    for name in names:
        text = _text(get(name))
        if text is not None:
            found.setdefault(name.lower(), text)
    return found


def parse_retry_after(
    headers: object, *, now: float | None = None, wall_clock: Callable[[], float] = time.time
) -> float | None:
    """Seconds the server asked us to wait, or ``None`` when it did not say (or said garbage).

    Looks at ``retry-after-ms``, then ``Retry-After`` (delay-seconds or HTTP-date), then
    provider rate-limit reset headers: OpenAI ``x-ratelimit-reset-*`` durations such as
    ``6m0s`` and Anthropic ``anthropic-ratelimit-*-reset`` RFC 3339 timestamps. Of several reset
    headers, those whose ``remaining`` is 0 count, and the longest wait wins. Header names are
    case-insensitive. ``now`` is the wall-clock time (epoch seconds) dates are measured from;
    dates in the past give ``0.0``. Never raises.
    """
    try:
        found = header_dict(headers)
        if not found:
            return None
        return from_headers(found, now, wall_clock)
    except Exception:  # garbage in, no advice out: never fail the caller's error path
        return None


def from_headers(
    found: dict[str, str],
    now: float | None,
    wall_clock: Callable[[], float],
    *,
    reset: bool = True,
) -> float | None:
    """The wait ``found`` (from :func:`header_dict`) asks for; ``reset`` adds reset headers."""
    ms = _seconds(found.get(_RETRY_AFTER_MS))
    if ms is not None:
        return ms / 1000.0
    value = found.get(_RETRY_AFTER)
    if value is not None:
        delay = _seconds(value)
        if delay is None:
            delay = _until(_http_date(value), now, wall_clock)
        if delay is not None:
            return delay
    return _from_reset_headers(found, now, wall_clock) if reset else None


def _from_reset_headers(
    found: dict[str, str], now: float | None, wall_clock: Callable[[], float]
) -> float | None:
    exhausted: list[float] = []
    others: list[float] = []
    for name, value in found.items():
        if match := _OPENAI_RESET.fullmatch(name):
            delay = _duration(value)
            remaining = found.get(f"x-ratelimit-remaining-{match.group(1)}")
        elif match := _ANTHROPIC_RESET.fullmatch(name):
            delay = _until(_rfc3339(value), now, wall_clock)
            remaining = found.get(f"anthropic-ratelimit-{match.group(1)}-remaining")
        else:
            continue
        if delay is not None:
            (exhausted if remaining is not None and remaining.strip() == "0" else others).append(
                delay
            )
    # Waiting for the shortest reset would retry into a limit that is still exhausted.
    if exhausted:
        return max(exhausted)
    return max(others) if others else None


def _text(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return None


def _seconds(value: str | None) -> float | None:
    if value is None or len(value) > _MAX_HEADER:
        return None
    match = _SECONDS.fullmatch(value)
    if match is None:
        return None
    return _finite(float(match.group(1)))


def _duration(value: str) -> float | None:
    text = value.strip()
    if len(text) > _MAX_HEADER:
        return None
    if _DURATION.fullmatch(text):
        total = sum(float(n) * _UNIT[u] for n, u in _DURATION_PART.findall(text))
        return _finite(total)
    return _seconds(text)  # a bare number is seconds


def _http_date(value: str) -> datetime | None:
    if len(value) > _MAX_HEADER:
        return None
    from email.utils import parsedate_to_datetime

    try:
        return parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _rfc3339(value: str) -> datetime | None:
    text = value.strip()
    if len(text) > _MAX_HEADER or len(text) < 10 or not text[:4].isdigit():
        return None
    if text[-1] in "zZ":  # fromisoformat accepts "Z" only from Python 3.11
        text = text[:-1] + "+00:00"
    from datetime import datetime

    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _until(
    when: datetime | None, now: float | None, wall_clock: Callable[[], float]
) -> float | None:
    if when is None:
        return None
    if when.tzinfo is None:  # HTTP-dates are GMT by definition
        from datetime import timezone

        when = when.replace(tzinfo=timezone.utc)
    try:
        target = when.timestamp()
    except (OverflowError, OSError, ValueError):
        return None
    current = wall_clock() if now is None else now
    return _finite(max(0.0, target - current))


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) and value >= 0.0 else None
