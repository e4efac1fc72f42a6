"""Provider rate-limit headers: the remaining-budget gauge, and the optional client-side throttle.

OpenAI sends ``x-ratelimit-remaining-requests`` / ``-tokens`` (and ``x-ratelimit-reset-*``
durations), Anthropic ``anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-
remaining`` (and ``-reset`` timestamps). The last values seen per provider + model feed the
``resilience.llm.rate_limit.remaining`` gauge. With ``throttle`` on, a model whose budget the
headers say is exhausted waits for the reset they announce (at most ``max_delay``) before its
next request instead of spending it on a 429.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from typing import Any

from otel_resilience import semconv
from otel_resilience._clock import Clock
from otel_resilience.classify._headers import from_headers, header_dict

__all__ = ["RateLimits"]

_REMAINING = re.compile(r"x-ratelimit-remaining-(.+)|anthropic-ratelimit-(.+)-remaining")
#: (provider, model, kind) entries kept; the table is cleared beyond (models are few).
_MAX_ENTRIES = 4096


class RateLimits:
    """The remaining budgets last reported, and when each model may send again."""

    def __init__(self, provider: str, clock: Clock) -> None:
        self._provider = provider
        self._clock = clock
        self._lock = threading.Lock()
        self._remaining: dict[tuple[str, str], float] = {}
        self._blocked: dict[str, float] = {}  # model -> monotonic time it may send again

    def update(self, model: str, headers: Any) -> None:
        """Read a response's headers (never raises)."""
        try:
            found = header_dict(headers)
            seen = {}
            for name, value in found.items():
                match = _REMAINING.fullmatch(name)
                if match:
                    kind = match.group(1) or match.group(2)
                    try:
                        seen[(model, kind)] = float(value)
                    except ValueError:
                        continue
            if not seen:
                return
            wait = from_headers(found, None, time.time, reset=True) if 0.0 in seen.values() else 0
            with self._lock:
                if len(self._remaining) + len(seen) > _MAX_ENTRIES:
                    self._remaining.clear()
                self._remaining.update(seen)
                if wait:
                    self._blocked[model] = self._clock.monotonic() + wait
                else:
                    self._blocked.pop(model, None)
        except Exception:
            return

    def wait(self, model: str, cap: float) -> float:
        """Seconds to wait before ``model``'s next request (0 when nothing is exhausted)."""
        until = self._blocked.get(model)
        if until is None:
            return 0.0
        return max(0.0, min(until - self._clock.monotonic(), cap))

    def observe(self) -> Iterator[tuple[float, dict[str, Any]]]:
        """Gauge points: one per (model, kind) seen."""
        with self._lock:
            items = list(self._remaining.items())
        for (model, kind), value in items:
            yield (
                value,
                {
                    semconv.GEN_AI_PROVIDER_NAME: self._provider,
                    semconv.GEN_AI_REQUEST_MODEL: model,
                    semconv.LLM_RATE_LIMIT_KIND: kind,
                },
            )
