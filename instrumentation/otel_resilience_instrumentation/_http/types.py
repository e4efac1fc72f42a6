"""What an adapter and the core exchange: the request description, the attempt, the adapter."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import NamedTuple, Protocol, TypeVar

__all__ = ["PASS_THROUGH", "Attempt", "BodyDone", "HttpRequest", "ResponseAdapter"]

R_contra = TypeVar("R_contra", contravariant=True)

#: Called once a response body is consumed or closed (``None``) or broke (the exception).
BodyDone = Callable[[BaseException | None], None]


@dataclass(slots=True)  # not frozen: built once per request, and frozen costs ~1.5 us
class HttpRequest:
    """The client-neutral description of one request, built by the adapter.

    ``url`` is the full URL as sent, a string or the client's URL object (its ``str()`` is
    taken only when a span records it; the core redacts it first). ``headers`` is
    the client's own (case-insensitive) mapping or any mapping; it is only read (for the
    idempotency header). ``replayable`` is ``False`` when the body cannot be sent twice (a
    generator, a file being read): such a request is never retried. ``host``, ``port`` (only
    when the URL names one) and ``scheme`` are optional: an adapter whose client has parsed
    the URL already passes them, and the core does not parse it again.
    """

    method: str
    url: object
    headers: Mapping[str, str]
    replayable: bool = True
    host: str | None = None
    port: int | None = None
    scheme: str | None = None


class Attempt(NamedTuple):
    """What the adapter applies to the outgoing request of one attempt.

    ``number`` is 1-based. ``headers`` (``traceparent``, ``tracestate``, baggage) must be set
    on the request, replacing any previous attempt's. ``timeout``, when not ``None``, is the
    most seconds the attempt may take (the deadline's remaining time): cap every timeout of
    the client's request at it.
    """

    number: int
    headers: Mapping[str, str]
    timeout: float | None


#: The attempt of a request passed straight through (suppressed, disabled host).
PASS_THROUGH = Attempt(1, {}, None)


class ResponseAdapter(Protocol[R_contra]):
    """What the core needs to know about a client's response type."""

    def status(self, response: R_contra) -> int:
        """The response's status code."""

    def protocol_version(self, response: R_contra) -> str | None:
        """``"1.1"``, ``"2"``... or ``None`` when unknown."""

    def watch_body(self, response: R_contra, done: BodyDone) -> None:
        """Arrange for ``done(None)`` once the body is consumed or the response closed, and
        ``done(exc)`` if reading it fails; call ``done(None)`` at once when there is no body
        left to read. ``done`` is idempotent and never raises."""
