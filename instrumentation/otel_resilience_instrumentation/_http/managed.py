"""LLM-managed attempts (issue 10): the context value by which the LLM runner tells the HTTP
core that it owns retries and breakers for the request being sent.

Inside such a call the HTTP core traces the attempt (one CLIENT span, ``http.request.resend_count``
from the LLM runner's attempt number, the GenAI ``attributes`` given) but neither retries nor
breaks, and hands the span's record and the response to the :class:`ManagedAttempt`: the LLM
runner adds what it parsed (tokens, response model) and ends the span.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry import context as otel_context

__all__ = ["MANAGED_KEY", "ManagedAttempt", "managed_attempt"]

#: The context key holding the current :class:`ManagedAttempt`.
MANAGED_KEY = otel_context.create_key("otel_resilience.llm_attempt")


class ManagedAttempt:
    """One attempt of an LLM-managed call: its number (1-based), the attributes of its HTTP span,
    and, once sent, the attempt's record (span) and response."""

    __slots__ = ("attributes", "number", "record", "response")

    def __init__(self, number: int, attributes: Mapping[str, Any]) -> None:
        self.number = number
        self.attributes = attributes
        self.record: Any = None
        self.response: Any = None

    def sent(self, record: Any, response: Any) -> None:
        """The HTTP core sent a request of this attempt (a redirect hop ends the previous)."""
        if self.record is not None and self.record is not record:
            self.record.end()
        self.record, self.response = record, response

    def end(self) -> None:
        """End the attempt's HTTP span, if any (idempotent)."""
        if self.record is not None:
            self.record.end()


def managed_attempt() -> ManagedAttempt | None:
    """The current LLM-managed attempt, or ``None`` outside one."""
    value = otel_context.get_value(MANAGED_KEY)
    return value if isinstance(value, ManagedAttempt) else None
