"""The clients :mod:`bench_http` measures: httpx and httpx2 (sync and async), requests, aiohttp.

Each kit builds, for one client library, the four variants side by side in one process:

* **plain**: the client with nothing patched on its path;
* **contrib**: under the contrib instrumentor, recording into the benchmark's SDK providers;
* **ours, telemetry off**: under our wrapper, with the API's default (no-op) providers;
* **ours, SDK**: under our wrapper, recording into the same SDK providers as contrib.

Contrib's patches are global (httpx's transports, requests' ``Session.send``), so the other
variants use a subclass holding the original method, out of its reach; aiohttp's contrib is a
``TraceConfig`` given to its session (what its ``instrument()`` adds to every new session).
Ours is the very wrapper ``instrument()`` installs, put on a subclass with
``wrapt.FunctionWrapper`` (as ``wrap_function_wrapper`` does on the library's class).

A variant is a :class:`Fetch`: ``get(url)`` sends one ``GET`` and reads the body (a coroutine
function for async clients) and ``close()`` (a coroutine function for async clients).
"""

from __future__ import annotations

import asyncio
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import httpx
import httpx2
import requests
import wrapt
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from otel_resilience_instrumentation import _httpx_like
from otel_resilience_instrumentation import requests as ours_requests
from otel_resilience_instrumentation._http import HttpRunner

PLAIN, CONTRIB, OFF, ON = "plain client", "contrib instrumentor", "ours, telemetry off", "ours, SDK"
OURS_SPANS = Counter(
    {("otel_resilience", "INTERNAL"): 1, ("otel_resilience_instrumentation", "CLIENT"): 1}
)
# requests' Session.send before any contrib instrument(): the variants other than contrib's.
_SESSION_SEND = requests.Session.send


@dataclass
class Fetch:
    """One variant's client: ``get(url)`` (sends, reads the body) and ``close()``."""

    get: Callable[[str], Any]
    close: Callable[[], Any]


class Kit:
    """One client library: its variants, its contrib instrumentor, what contrib records."""

    name = ""
    contrib_package = ""
    contrib_scope = ""
    modes: tuple[bool, ...] = (False,)  # is_async values the library offers

    def title(self, is_async: bool) -> str:
        raise NotImplementedError

    def instrument(self, sdk: dict[str, Any]) -> None:
        """Apply contrib's global patch (if any) recording into ``sdk``'s providers."""
        self.sdk = sdk

    def uninstrument(self) -> None:
        """Undo :meth:`instrument`."""

    def fetches(self, is_async: bool) -> dict[str, Fetch]:
        """The four variants; :meth:`instrument` must have run."""
        raise NotImplementedError

    def expected(self) -> dict[str, Counter[tuple[str, str]]]:
        """(instrumentation scope, span kind) -> spans, per variant, for one request."""
        contrib = Counter({(self.contrib_scope, "CLIENT"): 1})
        return {PLAIN: Counter(), CONTRIB: contrib, OFF: Counter(), ON: OURS_SPANS}

    def versions(self) -> str:
        """The client's and the contrib instrumentor's versions, for the report."""
        try:
            contrib = version(self.contrib_package)
        except PackageNotFoundError:
            contrib = "not installed"
        return f"{self.name} {version(self.name)}, {self.contrib_package} {contrib}"


def _ours_httpx_like(lib: Any, runner: HttpRunner[Any], is_async: bool) -> type[Any]:
    """A subclass of ``lib``'s client (httpx or httpx2) whose ``_send_single_request`` goes
    through our wrapper around ``runner``, the way ``instrument()`` patches it."""
    sync_send, async_send = _httpx_like._wrappers(lib, runner)
    base: type[Any] = lib.AsyncClient if is_async else lib.Client
    wrapper = wrapt.FunctionWrapper(
        base._send_single_request, async_send if is_async else sync_send
    )
    return type("Ours" + base.__name__, (base,), {"_send_single_request": wrapper})


class _Bare(httpx.HTTPTransport):
    """The default transport with the original ``handle_request``, out of contrib's reach."""

    handle_request = httpx.HTTPTransport.handle_request


class _BareAsync(httpx.AsyncHTTPTransport):
    """The async twin of :class:`_Bare`."""

    handle_async_request = httpx.AsyncHTTPTransport.handle_async_request


class HttpxKit(Kit):
    """``httpx.Client`` and ``httpx.AsyncClient``; contrib patches the default transports."""

    name = "httpx"
    contrib_package = "opentelemetry-instrumentation-httpx"
    contrib_scope = "opentelemetry.instrumentation.httpx"
    modes = (False, True)

    def title(self, is_async: bool) -> str:
        return "httpx.AsyncClient GET" if is_async else "httpx.Client GET"

    def instrument(self, sdk: dict[str, Any]) -> None:
        self.sdk = sdk
        self._contrib = HTTPXClientInstrumentor()
        self._contrib.instrument(**sdk)

    def uninstrument(self) -> None:
        self._contrib.uninstrument()

    def fetches(self, is_async: bool) -> dict[str, Fetch]:
        cls, bare = (httpx.AsyncClient, _BareAsync) if is_async else (httpx.Client, _Bare)
        adapter = _httpx_like._Adapter(httpx)
        clients = {
            PLAIN: cls(transport=bare()),
            CONTRIB: cls(),
            OFF: _ours_httpx_like(httpx, HttpRunner(adapter), is_async)(transport=bare()),
            ON: _ours_httpx_like(httpx, HttpRunner(adapter, **self.sdk), is_async)(
                transport=bare()
            ),
        }
        close = "aclose" if is_async else "close"
        return {k: Fetch(c.get, getattr(c, close)) for k, c in clients.items()}


class _BareSession(requests.Session):
    """A session whose ``send`` is the original one, out of contrib's reach."""

    send = _SESSION_SEND


class RequestsKit(Kit):
    """``requests.Session``; contrib patches ``Session.send``, ours ``HTTPAdapter.send`` (our
    ``Session.request`` wrapper, which only silences contrib, is applied only while contrib's
    patch is; the variants other than contrib's have it off their path, so it is left out)."""

    name = "requests"
    contrib_package = "opentelemetry-instrumentation-requests"
    contrib_scope = "opentelemetry.instrumentation.requests"

    def title(self, is_async: bool) -> str:
        return "requests.Session GET"

    def instrument(self, sdk: dict[str, Any]) -> None:
        self.sdk = sdk
        self._contrib = RequestsInstrumentor()
        self._contrib.instrument(**sdk)

    def uninstrument(self) -> None:
        self._contrib.uninstrument()

    def _ours(self, runner: HttpRunner[Any]) -> requests.Session:
        adapter_cls = type(
            "OursAdapter",
            (requests.adapters.HTTPAdapter,),
            {
                "send": wrapt.FunctionWrapper(
                    requests.adapters.HTTPAdapter.send, ours_requests._adapter_send(runner)
                )
            },
        )
        session: requests.Session = _BareSession()
        session.mount("http://", adapter_cls())
        return session

    def fetches(self, is_async: bool) -> dict[str, Fetch]:
        adapter = ours_requests._Adapter()
        sessions = {
            PLAIN: _BareSession(),
            CONTRIB: requests.Session(),
            OFF: self._ours(HttpRunner(adapter)),
            ON: self._ours(HttpRunner(adapter, **self.sdk)),
        }
        return {k: Fetch(s.get, s.close) for k, s in sessions.items()}


class _LazySession:
    """An aiohttp session made at the first request (a session needs the running loop, and
    the timing harness runs its own); ``get`` reads the body, as every variant must."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self._session: Any = None

    async def get(self, url: str) -> int:
        session = self._session
        if session is None:
            session = self._session = self._make()
        async with session.get(url) as response:
            await response.read()
            return int(response.status)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class AiohttpKit(Kit):
    """``aiohttp.ClientSession``; contrib is its ``TraceConfig``, ours wraps ``_request``."""

    name = "aiohttp"
    contrib_package = "opentelemetry-instrumentation-aiohttp-client"
    contrib_scope = "opentelemetry.instrumentation.aiohttp_client"
    modes = (True,)

    def title(self, is_async: bool) -> str:
        return "aiohttp.ClientSession GET"

    def instrument(self, sdk: dict[str, Any]) -> None:
        self.sdk = sdk
        try:  # not a workspace dependency: it pins an older OpenTelemetry (README)
            from opentelemetry.instrumentation.aiohttp_client import create_trace_config
        except ImportError:
            self._trace_config = None
        else:
            self._trace_config = create_trace_config
        import aiohttp
        from otel_resilience_instrumentation import aiohttp_client as ours

        self._aiohttp, self._ours_module = aiohttp, ours

    def _ours(self, runner: HttpRunner[Any]) -> Callable[[], Any]:
        aiohttp, ours = self._aiohttp, self._ours_module
        wrapper = wrapt.FunctionWrapper(
            aiohttp.ClientSession._request, ours._wrapper(aiohttp, runner)
        )
        with warnings.catch_warnings():  # aiohttp discourages subclassing ClientSession
            warnings.simplefilter("ignore", DeprecationWarning)
            cls = type("OursSession", (aiohttp.ClientSession,), {"_request": wrapper})
        ours._aiohttp_resend.install(cls)  # as instrument() does on ClientSession
        return cls  # type: ignore[no-any-return]

    def fetches(self, is_async: bool) -> dict[str, Fetch]:
        aiohttp, ours = self._aiohttp, self._ours_module
        adapter = ours._Adapter(aiohttp)
        makers: dict[str, Callable[[], Any]] = {PLAIN: aiohttp.ClientSession}
        if self._trace_config is not None:
            make_config = self._trace_config
            sdk = self.sdk
            makers[CONTRIB] = lambda: aiohttp.ClientSession(trace_configs=[make_config(**sdk)])
        makers[OFF] = self._ours(HttpRunner(adapter))
        makers[ON] = self._ours(HttpRunner(adapter, **self.sdk))
        lazy = {k: _LazySession(make) for k, make in makers.items()}
        return {k: Fetch(s.get, s.close) for k, s in lazy.items()}


class Httpx2Kit(Kit):
    """``httpx2.Client`` and ``httpx2.AsyncClient``: no contrib instrumentor exists for httpx2,
    so there is no contrib variant (nothing patches its transports)."""

    name = "httpx2"
    contrib_package = "opentelemetry-instrumentation-httpx2"
    modes = (False, True)

    def title(self, is_async: bool) -> str:
        return "httpx2.AsyncClient GET" if is_async else "httpx2.Client GET"

    def fetches(self, is_async: bool) -> dict[str, Fetch]:
        cls: Any = httpx2.AsyncClient if is_async else httpx2.Client
        adapter = _httpx_like._Adapter(httpx2)
        clients = {
            PLAIN: cls(),
            OFF: _ours_httpx_like(httpx2, HttpRunner(adapter), is_async)(),
            ON: _ours_httpx_like(httpx2, HttpRunner(adapter, **self.sdk), is_async)(),
        }
        close = "aclose" if is_async else "close"
        return {k: Fetch(c.get, getattr(c, close)) for k, c in clients.items()}


KITS: dict[str, Kit] = {
    "httpx": HttpxKit(),
    "httpx2": Httpx2Kit(),
    "requests": RequestsKit(),
    "aiohttp": AiohttpKit(),
}


def one_request(fetch: Fetch, url: str, is_async: bool) -> int:
    """Send one request through ``fetch`` and close it; the status (for the check)."""

    async def aget() -> int:
        try:
            response = await fetch.get(url)
        finally:
            await fetch.close()
        return response if isinstance(response, int) else int(response.status_code)

    if is_async:
        return asyncio.run(aget())
    try:
        response = fetch.get(url)
    finally:
        fetch.close()
    return int(response.status_code)
