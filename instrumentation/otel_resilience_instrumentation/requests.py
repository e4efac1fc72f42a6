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
from collections.abc import Callable, Collection
from typing import Any
from urllib.parse import urlsplit

import wrapt
from opentelemetry import context as otel_context
from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)
from opentelemetry.instrumentation.utils import is_http_instrumentation_enabled, unwrap

from otel_resilience_instrumentation._http import Attempt, HttpRequest, HttpRunner
from otel_resilience_instrumentation._http.hosts import Host
from otel_resilience_instrumentation._http.lane import First, lane
from otel_resilience_instrumentation._requests_parts import _Adapter, _capped, _replayable

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
