"""Parts of the requests instrumentor: the core's view of a response, a response body's
end, the timeout cap and the replay check (kept apart so ``requests.py`` stays short)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from otel_resilience_instrumentation._http import BodyDone

_END = object()
#: urllib3 refuses a zero timeout; an exhausted deadline still gets a (failing) attempt.
_MIN_TIMEOUT = 0.001


class _Body:
    """Ends an attempt's span when its response body is read to the end, closed or broken.

    Watches, on the instances only (the classes stay untouched): ``Response.iter_content``
    (``.content``, ``.text``, ``.json()``, ``iter_lines`` all read through it; an error there
    ends the span in error), ``Response.close`` (``with`` blocks, dropped retries) and urllib3's
    ``raw.release_conn`` (called once the raw body has been read to its end, whoever read it).
    Once done the instance attributes are removed (no reference cycle outlives the body); a
    bound method taken before keeps behaving like the original.
    """

    __slots__ = ("_done", "_finished", "_raw", "_reading", "_released", "_response")

    def __init__(self, response: Any, done: BodyDone) -> None:
        self._done = done
        self._response = response
        self._raw: Any = None
        self._reading = False
        self._released = False
        self._finished = False
        response.__dict__["iter_content"] = self.iter_content
        response.__dict__["close"] = self.close
        raw = response.raw
        if callable(getattr(raw, "release_conn", None)) and hasattr(raw, "__dict__"):
            raw.__dict__["release_conn"] = self.release_conn
            self._raw = raw

    def iter_content(self, *args: Any, **kwargs: Any) -> Any:
        """The response's own ``iter_content``, watched."""
        response = self._response
        chunks = type(response).iter_content(response, *args, **kwargs)
        return chunks if self._finished else self._chunks(chunks)

    def _chunks(self, inner: Any) -> Iterator[Any]:
        chunks = iter(inner)
        while True:
            self._reading = True  # a release now may be followed by the reader's error
            try:
                chunk = next(chunks, _END)
            except BaseException as exc:
                self._reading = False
                self._finish(exc)
                raise
            self._reading = False
            if chunk is _END or self._released:
                self._finish(None)
            if chunk is _END:
                return
            yield chunk

    def close(self) -> None:
        """The response's own ``close``, then the span ends."""
        try:
            type(self._response).close(self._response)
        finally:
            self._released_now()

    def release_conn(self) -> None:
        """urllib3's ``release_conn``, then the span ends (unless a read is under way)."""
        try:
            type(self._raw).release_conn(self._raw)
        finally:
            self._released_now()

    def _released_now(self) -> None:
        """The connection went back (or the response was closed): done, unless a read is
        under way, which then decides (its error, or the end)."""
        if self._reading:
            self._released = True
        else:
            self._finish(None)

    def _finish(self, exc: BaseException | None) -> None:
        if self._finished:
            return
        self._finished = True
        self._response.__dict__.pop("iter_content", None)
        self._response.__dict__.pop("close", None)
        if self._raw is not None:
            self._raw.__dict__.pop("release_conn", None)
        self._done(exc)


class _Adapter:
    """The core's view of a ``requests.Response``."""

    def status(self, response: Any) -> int:
        return int(response.status_code)

    def protocol_version(self, response: Any) -> str | None:
        raw = response.raw
        text = getattr(raw, "version_string", None)  # urllib3 2: "HTTP/1.1"
        if isinstance(text, str) and text.startswith("HTTP/") and text != "HTTP/?":
            return text[5:]
        number = getattr(raw, "version", None)  # urllib3 1: 11
        return {10: "1.0", 11: "1.1", 20: "2"}.get(number) if isinstance(number, int) else None

    def watch_body(self, response: Any, done: BodyDone) -> None:
        _Body(response, done)


def _capped(timeout: Any, cap: float) -> Any:
    """requests' ``timeout`` (None, seconds, a (connect, read) pair or a urllib3 Timeout) with
    every phase at most ``cap`` seconds; anything else is left for requests to reject."""
    cap = max(cap, _MIN_TIMEOUT)
    if timeout is None:
        return cap
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        return min(float(timeout), cap)
    if isinstance(timeout, tuple) and len(timeout) == 2:
        return tuple(cap if t is None else min(float(t), cap) for t in timeout)
    if callable(getattr(timeout, "clone", None)):  # urllib3.Timeout: cap its total
        capped = timeout.clone()
        total = capped.total
        capped.total = min(float(total), cap) if isinstance(total, (int, float)) else cap
        return capped
    return timeout


def _replayable(body: Any) -> bool:
    """Bytes and text can be sent again; a generator, an iterator or a file cannot."""
    return body is None or isinstance(body, (bytes, bytearray, str))
