"""The httpx and httpx2 instrumentors: one implementation, parametrised by the module.

Where we patch: ``Client._send_single_request`` and ``AsyncClient._send_single_request``.
Every request of every client passes there once per physical request (each redirect hop
is its own request): clients created before ``instrument()`` and subclasses (openai's and
anthropic's wrappers) inherit the patched method, ``httpx.get`` builds a ``Client``,
``client.stream(...)`` sends through it, and it calls whatever transport is mounted, so
custom transports (``MockTransport``, a user's ``BaseTransport``, proxies) are covered too.
The response it returns has its headers but no body read yet, so a retry there never
re-sends a body already handed to the caller. The contrib instrumentor patches the default
transports' ``handle_request`` instead, which misses custom transports; being outside the
transport also means contrib's patch, whatever the instrument order, always runs inside our
attempt, under ``suppress_http_instrumentation()``, so it records no second CLIENT span.
The price: ``_send_single_request`` is private. Its name and signature (``self, request``)
have been stable across httpx 0.2x releases and httpx2 keeps them; the tests use it by name
(``tests/instrumentation``), so a release that moves it fails them rather than going unseen.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterator
from typing import Any

import wrapt
from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)
from opentelemetry.instrumentation.utils import unwrap

from otel_resilience_instrumentation._http import (
    Attempt,
    BodyDone,
    HttpRequest,
    HttpRunner,
)
from otel_resilience_instrumentation._http.lane import First, lane

__all__ = ["HttpxLikeInstrumentor"]

_METHOD = "_send_single_request"


def _stream_types(module: Any) -> tuple[type, type]:
    """Stream wrappers of ``module``'s base classes that end the attempt's span with the body."""

    class SyncWatched(module.SyncByteStream):  # type: ignore[misc]
        def __init__(self, inner: Any, done: BodyDone) -> None:
            self._inner = inner
            self._done = done

        def __iter__(self) -> Iterator[bytes]:
            try:
                yield from self._inner
            except GeneratorExit:  # the reader stopped early: close() follows
                raise
            except BaseException as exc:
                self._done(exc)
                raise
            self._done(None)

        def close(self) -> None:
            try:
                self._inner.close()
            finally:
                self._done(None)

    class AsyncWatched(module.AsyncByteStream):  # type: ignore[misc]
        def __init__(self, inner: Any, done: BodyDone) -> None:
            self._inner = inner
            self._done = done

        async def __aiter__(self) -> AsyncIterator[bytes]:
            try:
                async for chunk in self._inner:
                    yield chunk
            except GeneratorExit:
                raise
            except BaseException as exc:
                self._done(exc)
                raise
            self._done(None)

        async def aclose(self) -> None:
            try:
                await self._inner.aclose()
            finally:
                self._done(None)

    return SyncWatched, AsyncWatched


class _Adapter:
    """The core's view of an httpx-like ``Response``."""

    def __init__(self, module: Any) -> None:
        self._sync_base = module.SyncByteStream
        self._sync, self._async = _stream_types(module)

    def status(self, response: Any) -> int:
        return int(response.status_code)

    def protocol_version(self, response: Any) -> str | None:
        version = str(response.http_version)  # "HTTP/1.1", "HTTP/2"
        return version.partition("/")[2] or None

    def watch_body(self, response: Any, done: BodyDone) -> None:
        if response.is_closed:  # built with its content (a mock transport): nothing to read
            done(None)
            return
        stream = response.stream
        if isinstance(stream, self._sync_base):
            response.stream = self._sync(stream, done)
        else:
            response.stream = self._async(stream, done)


def _capped(timeout: Any, cap: float) -> dict[str, float]:
    """httpx's per-phase timeout dict with every phase at most ``cap`` seconds."""
    phases = timeout if isinstance(timeout, dict) else {}
    out = {}
    for phase in ("connect", "read", "write", "pool"):
        value = phases.get(phase)
        out[phase] = cap if value is None else min(float(value), cap)
    return out


def _prepare(request: Any, original_timeout: Any, attempt: Attempt) -> None:
    """Apply an attempt to the request: its trace context headers and its timeout cap."""
    if attempt.headers:
        request.headers.update(attempt.headers)
    if attempt.timeout is not None:
        request.extensions["timeout"] = _capped(original_timeout, attempt.timeout)


def _describe(module: Any, request: Any) -> HttpRequest:
    # A ByteStream holds the whole body in memory (bytes, str, json=, data=): it can be sent
    # again. Generators, iterators and multipart files cannot, so those are never retried.
    replayable = isinstance(request.stream, module.ByteStream)
    url = request.url  # parsed already: the core need not parse it again
    # The parsed parts themselves: URL.host/.port/.scheme are properties that decode and
    # normalise on every read (a third of a request's cost when nothing records). Only an
    # IDNA host needs URL.host's decoding; a URL without the private tuple uses the properties.
    parts = getattr(url, "_uri_reference", None)
    if parts is None or parts.host.startswith("xn--"):
        return HttpRequest(
            request.method, url, request.headers, replayable, url.host, url.port, url.scheme
        )
    return HttpRequest(
        request.method, url, request.headers, replayable, parts.host, parts.port, parts.scheme
    )


def _wrappers(module: Any, runner: HttpRunner[Any]) -> tuple[Any, Any]:
    origins = runner._origins

    # The lane (see _http.lane) keys hosts by URL's raw parts, as _describe does; an IDNA host
    # is keyed by its decoded name there, so it never matches here and takes the general path.
    def sync_send(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        request = args[0] if args else kwargs["request"]
        parts = getattr(request.url, "_uri_reference", None)
        host = None if parts is None else origins.get((parts.host, parts.port, parts.scheme))
        took = lane(runner, host)
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
            return runner.resume(
                _describe(module, request), _sender(request, wrapped, args, kwargs), first
            )
        return runner.send(_describe(module, request), _sender(request, wrapped, args, kwargs))

    async def async_send(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        request = args[0] if args else kwargs["request"]
        parts = getattr(request.url, "_uri_reference", None)
        host = None if parts is None else origins.get((parts.host, parts.port, parts.scheme))
        took = lane(runner, host)
        if took is not None:
            fast, permit = took
            try:
                response = await wrapped(*args, **kwargs)
            except Exception as exc:
                first = First(error=exc)
            else:
                status = response.status_code  # fast.failed(), inline
                if status < 500 and status not in fast.statuses:
                    if fast.breaker is not None:
                        fast.breaker._closed_success(permit)
                    return response
                first = First(response)
            send = _asender(request, wrapped, args, kwargs)
            return await runner.aresume(_describe(module, request), send, first)
        send = _asender(request, wrapped, args, kwargs)
        return await runner.asend(_describe(module, request), send)

    return sync_send, async_send


def _sender(request: Any, wrapped: Any, args: Any, kwargs: Any) -> Callable[[Attempt], Any]:
    """What sends one attempt of ``request``: the original call, the attempt applied first."""
    timeout = request.extensions.get("timeout")

    def send(attempt: Attempt) -> Any:
        _prepare(request, timeout, attempt)
        return wrapped(*args, **kwargs)

    return send


def _asender(
    request: Any, wrapped: Any, args: Any, kwargs: Any
) -> Callable[[Attempt], Awaitable[Any]]:
    """Async twin of :func:`_sender`."""
    timeout = request.extensions.get("timeout")

    async def send(attempt: Attempt) -> Any:
        _prepare(request, timeout, attempt)
        return await wrapped(*args, **kwargs)

    return send


class HttpxLikeInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Base of the httpx and httpx2 instrumentors; subclasses name the module."""

    _module_name = "httpx"
    _dependencies: tuple[str, ...] = ("httpx >= 0.23",)
    runner: HttpRunner[Any] | None = None

    def instrumentation_dependencies(self) -> Collection[str]:
        """The client library this instrumentor patches."""
        return self._dependencies

    def _instrument(self, **kwargs: Any) -> None:
        module = importlib.import_module(self._module_name)
        self.runner = runner = HttpRunner(
            _Adapter(module),
            policies=kwargs.get("policies"),
            tracer_provider=kwargs.get("tracer_provider"),
            meter_provider=kwargs.get("meter_provider"),
            logger_provider=kwargs.get("logger_provider"),
            clock=kwargs.get("clock"),
        )
        sync_send, async_send = _wrappers(module, runner)
        wrapt.wrap_function_wrapper(module.Client, _METHOD, sync_send)
        wrapt.wrap_function_wrapper(module.AsyncClient, _METHOD, async_send)

    def _uninstrument(self, **kwargs: Any) -> None:
        module = importlib.import_module(self._module_name)
        unwrap(module.Client, _METHOD)
        unwrap(module.AsyncClient, _METHOD)
        self.runner = None
