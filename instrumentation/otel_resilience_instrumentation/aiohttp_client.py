"""ResilienceAiohttpClientInstrumentor: retries, a breaker per host and a span per attempt for
aiohttp's ``ClientSession``.

``ResilienceAiohttpClientInstrumentor().instrument(policies=...)`` (or the entry point
``resilience_aiohttp_client``); keywords as for :mod:`otel_resilience_instrumentation.httpx`.
Importing this module does not import aiohttp; ``instrument()`` does.

Where we patch, and why: ``ClientSession._request``. Every request of every session passes
there once (``session.get``/``post``/``request``, ``aiohttp.request()``), sessions created
before ``instrument()`` and subclasses included, since the method is looked up on the class.
One attempt is one ``_request`` call with, per attempt, ``headers=`` carrying the attempt's
trace context, ``timeout=`` capped at the deadline and ``raise_for_status=False`` (the
caller's ``raise_for_status`` is applied to the response we return, so a 503 is retried
first). The response comes back with its headers read and its body not handed out yet, so
nothing read by the caller is ever re-sent. Rejected alternatives: a ``TraceConfig`` (contrib's
way) or a session middleware, both added at ``ClientSession.__init__``, miss sessions created
before ``instrument()``, and hooks cannot retry; ``ClientRequest.send`` or the connector sit
below the timeouts and the response start (a closure inside ``_request``). The price: one
attempt covers the redirects aiohttp follows (as contrib's span does), and ``_request`` is
private (``(method, str_or_url)`` then keyword options; checked against aiohttp 3.14).

aiohttp re-sends an idempotent request once, at once, when a pooled connection drops. Inside
an attempt we manage, the session's ``_retry_connection`` flag reads ``False`` (a descriptor
keyed on a ContextVar, see :mod:`._aiohttp_resend`), so aiohttp raises the first error, each
physical send is one of our attempts, with its own span and ``traceparent``, and the server
sees at most ``max_attempts`` sends, not twice that. Requests passed straight through
(suppressed, disabled hosts) and other tasks on the same session keep aiohttp's own re-send.

Contrib's ``-aiohttp-client`` hooks run inside ``_request``, so inside our attempt, where
``suppress_http_instrumentation`` is set: they record no second CLIENT span, in either order.
"""

from __future__ import annotations

from collections.abc import Awaitable, Collection
from typing import Any

import wrapt
from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)
from opentelemetry.instrumentation.utils import unwrap

from otel_resilience_instrumentation import _aiohttp_resend
from otel_resilience_instrumentation._aiohttp_parts import (
    _NO_PORT,
    _Adapter,
    _capped,
    _describe,
    _replayable,
    _with_headers,
)
from otel_resilience_instrumentation._http import (
    PASS_THROUGH,
    Attempt,
    HttpRequest,
    HttpRunner,
)
from otel_resilience_instrumentation._http.hosts import Host
from otel_resilience_instrumentation._http.lane import First, lane

__all__ = ["ResilienceAiohttpClientInstrumentor"]

_METHOD = "_request"


_ATTEMPT = _aiohttp_resend.ATTEMPT
_in_attempt = _ATTEMPT.get


async def _passed(wrapped: Any, args: Any, kwargs: Any) -> Any:
    """A request passed straight through from inside an attempt we manage (a TraceConfig
    hook's own request, suppressed there) keeps aiohttp's re-send, as it would uninstrumented."""
    token = _ATTEMPT.set(False)
    try:
        return await wrapped(*args, **kwargs)
    finally:
        _ATTEMPT.reset(token)


def _wrapper(aiohttp: Any, runner: HttpRunner[Any]) -> Any:
    return _Patch(aiohttp, runner).request


class _Patch:
    """The wrapper of ``ClientSession._request`` (:meth:`request`) and what it needs."""

    def __init__(self, aiohttp: Any, runner: HttpRunner[Any]) -> None:
        from multidict import CIMultiDict, istr  # aiohttp's own dependency

        self.aiohttp = aiohttp
        #: Tested against the session's default headers for a websocket's ``Upgrade`` (an
        #: ``istr``: its case-folded form computed once); a session without them gets
        #: ``upgrade_only``, so no lane.
        self.upgrade = istr("Upgrade")
        self.upgrade_only = frozenset((self.upgrade,))
        self.cimultidict = CIMultiDict
        self.runner = runner
        self.sentinel = aiohttp.helpers.sentinel
        #: "scheme://netloc" of string URLs -> their host as the runner planned it (for the
        #: lane, see _http.lane), filled after a planned request: the lane builds no URL.
        self.heads: dict[str, Host] = {}
        #: A lane-shaped call's string URL -> its head's host: the same URL again (its hash
        #: kept by the str) finds its host with no head cut out of it.
        self.lanes: dict[str, Host] = {}
        #: A string URL of a lane-shaped call (no base URL, headers or params of its own) ->
        #: what _describe made of it (the URL as sent, host, explicit port, scheme): no yarl
        #: URL is built again for it.
        self.urls: dict[str, tuple[object, str | None, int | None, str | None]] = {}
        #: Such a URL called with no body -> (the method as given, the HttpRequest made for
        #: it): read only by the core, so the same call again reuses it while the method and
        #: the session's headers object are the same.
        self.bodiless: dict[str, tuple[str, HttpRequest]] = {}

    async def managed(
        self, wrapped: Any, session: Any, args: Any, kwargs: Any, attempt: Attempt
    ) -> Any:
        """One attempt we manage: its headers, its timeout cap, no re-send of aiohttp's own."""
        kw = {**kwargs, "raise_for_status": False}
        if attempt.headers:
            given = kwargs.get("headers")
            if given is None:  # aiohttp merges a plain dict with the session's as it is
                kw["headers"] = attempt.headers
            else:
                kw["headers"] = _with_headers(self.cimultidict, given, attempt.headers)
        if attempt.timeout is not None:
            given = kwargs.get("timeout", self.sentinel)
            kw["timeout"] = _capped(self.aiohttp, session, given, attempt.timeout)
        token = _ATTEMPT.set(True)
        try:
            return await wrapped(*args, **kw)
        finally:
            _ATTEMPT.reset(token)

    def describe(
        self, session: Any, args: Any, kwargs: Any, lane_shaped: bool
    ) -> HttpRequest | None:
        """:func:`_describe`, remembered for a lane-shaped call's string URL without params."""
        cacheable = lane_shaped and not kwargs.get("params")
        if cacheable and (known := self.urls.get(args[1])) is not None:
            data = kwargs.get("data")
            body = kwargs.get("json")
            headers = session.headers
            if data is None and body is None:  # no body: the same request as last time
                last = self.bodiless.get(args[1])
                if last is not None and last[0] == args[0] and last[1].headers is headers:
                    return last[1]
            replayable = body is not None or _replayable(self.aiohttp, data)
            method = str(args[0]).upper()
            made = HttpRequest(method, known[0], headers, replayable, *known[1:])
            if data is None and body is None and type(args[0]) is str:
                if len(self.bodiless) >= _MAX_HEADS:
                    self.bodiless.clear()
                self.bodiless[args[1]] = (args[0], made)
            return made
        described = _describe(self.aiohttp, self.cimultidict, session, args, kwargs)
        if cacheable and described is not None and described.host is not None:
            if len(self.urls) >= _MAX_HEADS:
                self.urls.clear()
            d = described
            self.urls[args[1]] = (d.url, d.host, d.port, d.scheme)
        return described

    def lane_host(self, url: str) -> Host | None:
        """The host of a string URL not seen on the lane yet, from its head (remembered for the
        URL when the head's host is known)."""
        host = self.heads.get(_head(url))
        if host is not None:
            if len(self.lanes) >= _MAX_HEADS:
                self.lanes.clear()
            self.lanes[url] = host
        return host

    def remember(self, url: str, described: HttpRequest) -> None:
        """After a lane-shaped request planned its host: its head leads to that host."""
        head = _head(url)
        if head not in self.heads:
            origin = (described.host, described.port, described.scheme)
            host = self.runner._origins.get(origin)  # type: ignore[arg-type]
            if host is not None:
                if len(self.heads) >= _MAX_HEADS:
                    self.heads.clear()
                self.heads[head] = host

    async def request(self, wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        """The wrapper: the lane when it is open, else the runner's general path."""
        shaped = False
        # The lane: a string URL, no base URL, no headers of the call's own (a websocket's
        # Upgrade comes there) and none of the session's. The session's private attributes
        # are read from its __dict__ (absent: no lane), where _request reads them.
        own = instance.__dict__
        if (
            len(args) > 1
            and type(url := args[1]) is str
            and "headers" not in kwargs
            and own.get("_base_url", _NO_PORT) is None
            and self.upgrade not in own.get("_default_headers", self.upgrade_only)
        ):
            shaped = True
            took = lane(self.runner, self.lanes.get(url) or self.lane_host(url))
            if took is not None:
                # managed() for the lane's attempt (no headers, no cap), inline; the caller's
                # raise_for_status is turned off (and applied here) only when one is asked for.
                fast, permit = took
                wanted = kwargs.get("raise_for_status")
                if wanted is None:
                    wanted = own.get("_raise_for_status")
                token = _ATTEMPT.set(True)
                try:
                    if wanted:
                        response = await wrapped(*args, **{**kwargs, "raise_for_status": False})
                    else:
                        response = await wrapped(*args, **kwargs)
                except Exception as exc:
                    first = First(error=exc)
                else:
                    status = response.status  # fast.failed(), inline
                    if status < 500 and status not in fast.statuses:
                        if fast.breaker is not None:
                            fast.breaker._closed_success(permit)
                        if wanted:
                            await _raise_for_status(instance, wanted, response)
                        return response
                    first = First(response)
                finally:
                    _ATTEMPT.reset(token)
                return await self.resume(wrapped, instance, args, kwargs, first)
        described = self.describe(instance, args, kwargs, shaped)
        if described is None:
            if _in_attempt():
                return await _passed(wrapped, args, kwargs)
            return await wrapped(*args, **kwargs)
        was_managed = False

        def send(attempt: Attempt) -> Awaitable[Any]:
            # A plain function handing back the coroutine to await: no frame of its own.
            nonlocal was_managed
            if attempt is PASS_THROUGH:
                if _in_attempt():
                    return _passed(wrapped, args, kwargs)
                return wrapped(*args, **kwargs)  # type: ignore[no-any-return]
            was_managed = True
            return self.managed(wrapped, instance, args, kwargs, attempt)

        response = await self.runner.asend(described, send)
        if shaped and args[1] not in self.lanes:
            self.remember(args[1], described)
        if was_managed:
            wanted = kwargs.get("raise_for_status")
            if wanted or (wanted is None and instance._raise_for_status):
                await _raise_for_status(instance, wanted, response)
        return response

    async def resume(self, wrapped: Any, session: Any, args: Any, kwargs: Any, first: First) -> Any:
        """A lane request whose first attempt failed goes on through the runner (``aresume``)."""
        described = _describe(self.aiohttp, self.cimultidict, session, args, kwargs)
        if described is None:  # pragma: no cover - a lane's request always has a host
            return first.take()

        async def resend(attempt: Attempt) -> Any:
            return await self.managed(wrapped, session, args, kwargs, attempt)

        response = await self.runner.aresume(described, resend, first)
        await _raise_for_status(session, kwargs.get("raise_for_status"), response)
        return response


#: Heads (and lane URLs) remembered per instrumentor; cleared when this many.
_MAX_HEADS = 4096


def _head(url: str) -> str:
    """A string URL up to its path's "/" (a URL without one is its own head: it still names
    one host)."""
    cut = url.find("/", 8)
    return url if cut < 0 else url[:cut]


async def _raise_for_status(session: Any, wanted: Any, response: Any) -> None:
    """Apply the caller's ``raise_for_status`` (or the session's) as ``_request`` would."""
    if wanted is None:
        wanted = session._raise_for_status
    if not wanted:
        return
    if wanted is True:
        response.raise_for_status()  # releases the response before raising
        return
    try:
        await wanted(response)
    except BaseException:
        response.close()
        raise


class ResilienceAiohttpClientInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Patches ``aiohttp.ClientSession._request`` (every session, every subclass)."""

    runner: HttpRunner[Any] | None = None

    def instrumentation_dependencies(self) -> Collection[str]:
        """The client library this instrumentor patches."""
        return ("aiohttp >= 3.9",)

    def _instrument(self, **kwargs: Any) -> None:
        import aiohttp

        self.runner = runner = HttpRunner(
            _Adapter(aiohttp),
            policies=kwargs.get("policies"),
            tracer_provider=kwargs.get("tracer_provider"),
            meter_provider=kwargs.get("meter_provider"),
            logger_provider=kwargs.get("logger_provider"),
            clock=kwargs.get("clock"),
        )
        _aiohttp_resend.install(aiohttp.ClientSession)
        wrapt.wrap_function_wrapper(aiohttp.ClientSession, _METHOD, _wrapper(aiohttp, runner))

    def _uninstrument(self, **kwargs: Any) -> None:
        import aiohttp

        unwrap(aiohttp.ClientSession, _METHOD)
        _aiohttp_resend.uninstall(aiohttp.ClientSession)
        self.runner = None
