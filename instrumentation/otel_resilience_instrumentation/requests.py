"""ResilienceRequestsInstrumentor: retries, a breaker per host and a span per attempt for requests.

``ResilienceRequestsInstrumentor().instrument(policies={"*": HttpPolicy(...)})`` (or the entry
point ``resilience_requests`` under ``opentelemetry-instrument``). Keywords of ``instrument()``
as for :mod:`otel_resilience_instrumentation.httpx`. Importing this module does not import
requests; ``instrument()`` does.

Where we patch, and why: ``requests.adapters.HTTPAdapter.send``, not ``Session.send``.
``Session.send`` runs once per *logical* call and follows redirects by calling itself again,
nested, from inside the first call: wrapping it would put every redirect hop inside the first
hop's attempt, and retrying it would replay the whole chain. ``HTTPAdapter.send`` runs exactly
once per physical request (each redirect hop, each request an auth hook re-sends), for
``requests.get``, every ``Session`` whenever created, and every adapter subclass that calls
``super().send`` (proxies, retries-configured and custom-TLS adapters). Its response has its
headers but no body read yet (``preload_content=False``), so a retry never re-sends a request
whose body was handed to the caller; ``Session.send`` reads a non-streamed body right after,
which our span covers. The price: an adapter that replaces ``send`` without calling
``HTTPAdapter.send`` (a mock adapter) is not covered. urllib3 retries configured on an adapter
(``HTTPAdapter(max_retries=...)``, off by default) happen inside one of our attempts.

Coexistence with the contrib requests instrumentor, which patches ``Session.send`` (always
outside ``HTTPAdapter.send``, whatever the instrument order) and records nothing when
``suppress_http_instrumentation`` is set: we also wrap ``Session.request`` (which contrib does
not touch, so its uninstrument cannot unwrap us) and run it with the suppression key set to
our own marker value, for the hosts we manage. That wrapper is applied only while contrib's
patch is (a second wrapt layer costs ~7k instructions a request): at ``instrument()`` when
contrib is already applied, else when contrib's instrumentor instruments (we follow its
``_instrument``/``_uninstrument`` once its module is imported). Contrib therefore stays quiet for
``requests.get``/``session.get``... calls to them, and our adapter patch, recognising the
marker (not a user's or an exporter's suppression, which set ``True``), lifts it for its own
pipeline. ``Session.send`` called directly with a prepared request bypasses the marker: with
contrib active, contrib's span is then the only one and the request passes through us
(documented).
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Collection, Iterator
from typing import Any
from urllib.parse import urlsplit

import wrapt
from opentelemetry import context as otel_context
from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)
from opentelemetry.instrumentation.utils import is_http_instrumentation_enabled, unwrap

from otel_resilience_instrumentation._http import Attempt, BodyDone, HttpRequest, HttpRunner
from otel_resilience_instrumentation._http.hosts import Host
from otel_resilience_instrumentation._http.lane import First, lane

try:  # the key suppress_http_instrumentation() sets (the core reads it the same way)
    from opentelemetry.context import _SUPPRESS_HTTP_INSTRUMENTATION_KEY as _SUPPRESS_HTTP
except ImportError:  # pragma: no cover - an API that moved it
    from opentelemetry.instrumentation.utils import (  # type: ignore[attr-defined]
        _SUPPRESS_HTTP_INSTRUMENTATION_KEY as _SUPPRESS_HTTP,
    )

__all__ = ["ResilienceRequestsInstrumentor"]


class _Marker:
    """Truthy value of the HTTP suppression key meaning "suppressed for us, by us"."""

    def __repr__(self) -> str:
        return "<otel-resilience requests marker>"


_OURS = _Marker()
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


def _adapter_send(runner: HttpRunner[Any]) -> Any:
    """The wrapper of ``HTTPAdapter.send(request, stream, timeout, verify, cert, proxies)``."""
    #: "scheme://netloc" of the URLs sent -> their host as the runner plans it: the lane
    #: (see _http.lane) then needs no URL parse. The head holds all a host key depends on.
    heads: dict[str, Host] = {}
    #: The same heads -> (host, explicit port or None, scheme), parsed once: the runner then
    #: parses no URL per request (its plan and its spans' Target take them as given).
    origins: dict[str, tuple[str, int | None, str] | None] = {}

    def wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        request = args[0] if args else kwargs["request"]
        url = request.url
        head = None  # prepared URLs always have a path: the head ends at its "/"
        origin: tuple[str, int | None, str] | None = None
        if type(url) is str and (cut := url.find("/", 8)) > 0:
            head = url[:cut]
            took = lane(runner, heads.get(head))
            if took is not None:
                fast, permit = took
                try:
                    response = wrapped(*args, **kwargs)
                except Exception as exc:
                    first = First(error=exc)
                else:
                    status = response.status_code  # fast.failed(), inline
                    if status < 500 and status not in fast.statuses:
                        if fast.breaker is not None:
                            fast.breaker._closed_success(permit)
                        return response
                    first = First(response)
                origin = origins.get(head)
                info = _info(request, origin)
                return runner.resume(info, _sender(wrapped, args, kwargs), first)
        if head is not None:
            origin = origins.get(head, _UNPARSED)
            if origin is _UNPARSED:
                if len(origins) >= _MAX_HEADS:
                    origins.clear()
                origins[head] = origin = _origin(head)
        if head is not None and head not in heads:
            with contextlib.suppress(Exception):  # a URL the runner cannot parse: no lane
                if len(heads) >= _MAX_HEADS:
                    heads.clear()
                heads[head] = runner.host_of(url)
        info, send = _info(request, origin), _sender(wrapped, args, kwargs)
        if otel_context.get_value(_SUPPRESS_HTTP) is not _OURS:
            return runner.send(info, send)
        # Suppressed by our Session.request patch (for contrib), not by the user: lift it.
        token = otel_context.attach(otel_context.set_value(_SUPPRESS_HTTP, False))
        try:
            return runner.send(info, send)
        finally:
            otel_context.detach(token)

    return wrapper


#: Heads remembered per instrumentor; cleared when this many.
_MAX_HEADS = 4096


_UNPARSED: Any = object()


def _origin(head: str) -> tuple[str, int | None, str] | None:
    """(host, explicit port or None, scheme) of a URL's "scheme://netloc"; ``None`` when it
    names no host or a bad port (the runner then parses the whole URL, as before)."""
    try:
        parts = urlsplit(head)
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    return (host, port, parts.scheme) if host else None


def _info(request: Any, origin: tuple[str, int | None, str] | None = None) -> HttpRequest:
    method, url = str(request.method), str(request.url)
    replayable = _replayable(request.body)
    if origin is None:
        return HttpRequest(method, url, request.headers, replayable)
    return HttpRequest(method, url, request.headers, replayable, *origin)


def _sender(wrapped: Any, args: Any, kwargs: Any) -> Callable[[Attempt], Any]:
    """What sends one attempt: the original call, with the attempt's headers and timeout."""
    request = args[0] if args else kwargs["request"]
    positional = len(args) > 2
    timeout = args[2] if positional else kwargs.get("timeout")

    def send(attempt: Attempt) -> Any:
        if attempt.headers:
            request.headers.update(attempt.headers)
        if attempt.timeout is None:
            return wrapped(*args, **kwargs)
        capped = _capped(timeout, attempt.timeout)
        if positional:
            return wrapped(*args[:2], capped, *args[3:], **kwargs)
        return wrapped(*args, **{**kwargs, "timeout": capped})

    return send


def _session_request(runner: HttpRunner[Any], session_cls: Any) -> Any:
    """The wrapper of ``Session.request(method, url, ...)``: run it with HTTP instrumentation
    suppressed by our marker, so the contrib instrumentor's ``Session.send`` patch stays quiet,
    for the hosts we manage (a host whose policy has ``enabled=False`` is left to contrib).
    Only while contrib's patch is there: the marker costs a context attach and detach."""

    # Looking the host up costs a URL parse: only when some host is passed through at all.
    some_disabled = any(not policy.enabled for policy in runner.policies.values())

    def wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        if not getattr(session_cls.send, _CONTRIB_APPLIED, False):
            return wrapped(*args, **kwargs)
        if not is_http_instrumentation_enabled():
            return wrapped(*args, **kwargs)
        if some_disabled:
            url = args[1] if len(args) > 1 else kwargs.get("url")
            if isinstance(url, bytes):
                url = url.decode("latin-1")
            if not runner.policy_for(str(url)).enabled:
                return wrapped(*args, **kwargs)
        token = otel_context.attach(otel_context.set_value(_SUPPRESS_HTTP, _OURS))
        try:
            return wrapped(*args, **kwargs)
        finally:
            otel_context.detach(token)

    return wrapper


#: The mark the contrib instrumentor sets on its ``Session.send`` patch.
_CONTRIB_APPLIED = "opentelemetry_instrumentation_requests_applied"


class ResilienceRequestsInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Patches ``requests.adapters.HTTPAdapter.send`` (every session, every physical request)."""

    runner: HttpRunner[Any] | None = None

    def instrumentation_dependencies(self) -> Collection[str]:
        """The client library this instrumentor patches."""
        return ("requests >= 2.20",)

    def _instrument(self, **kwargs: Any) -> None:
        adapters = importlib.import_module("requests.adapters")
        sessions = importlib.import_module("requests.sessions")
        self.runner = runner = HttpRunner(
            _Adapter(),
            policies=kwargs.get("policies"),
            tracer_provider=kwargs.get("tracer_provider"),
            meter_provider=kwargs.get("meter_provider"),
            logger_provider=kwargs.get("logger_provider"),
            clock=kwargs.get("clock"),
        )
        wrapt.wrap_function_wrapper(adapters.HTTPAdapter, "send", _adapter_send(runner))
        global _SILENCER
        _SILENCER = _Silencer(runner, sessions.Session)
        _SILENCER.follow()
        wrapt.register_post_import_hook(_follow_contrib, _CONTRIB_MODULE)

    def _uninstrument(self, **kwargs: Any) -> None:
        global _SILENCER
        adapters = importlib.import_module("requests.adapters")
        unwrap(adapters.HTTPAdapter, "send")
        if _SILENCER is not None:
            _SILENCER.stop()
            _SILENCER = None
        self.runner = None


class _Silencer:
    """Keeps our ``Session.request`` wrapper applied exactly while contrib's ``Session.send``
    patch is: without contrib it has nothing to silence and would only cost a wrapt layer."""

    def __init__(self, runner: HttpRunner[Any], session_cls: Any) -> None:
        self.runner = runner
        self.session_cls = session_cls
        self.on = False

    def follow(self) -> None:
        """Apply or remove the wrapper to match contrib's patch now."""
        applied = bool(getattr(self.session_cls.send, _CONTRIB_APPLIED, False))
        if applied and not self.on:
            wrapper = _session_request(self.runner, self.session_cls)
            wrapt.wrap_function_wrapper(self.session_cls, "request", wrapper)
            self.on = True
        elif not applied and self.on:
            self.stop()

    def stop(self) -> None:
        """Remove the wrapper if applied."""
        if self.on:
            unwrap(self.session_cls, "request")
            self.on = False


#: The active instrumentor's silencer (``None`` when not instrumented).
_SILENCER: _Silencer | None = None
_CONTRIB_MODULE = "opentelemetry.instrumentation.requests"


def _follow_contrib(module: Any) -> None:
    """Post-import hook of contrib's module: after its instrumentor's ``_instrument`` and
    ``_uninstrument``, the active silencer follows (once per process; idle when none)."""
    cls = getattr(module, "RequestsInstrumentor", None)
    if cls is None or getattr(cls, _FOLLOWED, False):
        return

    def after(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        try:
            return wrapped(*args, **kwargs)
        finally:
            if _SILENCER is not None:
                _SILENCER.follow()

    wrapt.wrap_function_wrapper(cls, "_instrument", after)
    wrapt.wrap_function_wrapper(cls, "_uninstrument", after)
    setattr(cls, _FOLLOWED, True)


_FOLLOWED = "_otel_resilience_followed"
