"""Parts of the aiohttp instrumentor: the core's view of a response, the request as the core
sees it, the replay check, the timeout cap and header merging (kept apart so
``aiohttp_client.py`` stays short)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otel_resilience_instrumentation._http import BodyDone, HttpRequest

#: Form values aiohttp encodes from memory (anything else may be a file: not replayable).
_FORM_VALUES = (str, bytes, int, float)
_NO_PORT = object()
#: HttpVersion -> "1.1": formatted once per version seen, not per response.
_VERSIONS: dict[Any, str] = {}


class _Adapter:
    """The core's view of a ``ClientResponse``."""

    def __init__(self, aiohttp: Any) -> None:
        self._closed_error = aiohttp.ClientConnectionError

    def status(self, response: Any) -> int:
        return int(response.status)

    def protocol_version(self, response: Any) -> str | None:
        version = response.version
        if version is None:
            return None
        text = _VERSIONS.get(version)  # aiohttp's HttpVersion: a named tuple, hashable
        if text is None:
            text = f"{version.major}.{version.minor}"
            if len(_VERSIONS) < 16:  # single digits each: a few ever seen
                _VERSIONS[version] = text
        return text

    def watch_body(self, response: Any, done: BodyDone) -> None:
        # The connection is released once the body has arrived, or closed when the caller
        # releases or closes the response early or reading it failed: either ends the span.
        connection = response.connection
        if connection is None:  # the whole body arrived with the headers
            done(None)
            return
        connection.add_callback(lambda: done(self._body_error(response)))

    def _body_error(self, response: Any) -> BaseException | None:
        try:
            exc: BaseException | None = response.content.exception()
        except Exception:
            return None
        # A plain ClientConnectionError is what aiohttp sets when the caller lets go early.
        return None if exc is None or type(exc) is self._closed_error else exc


def _replayable(aiohttp: Any, data: Any) -> bool:
    """``True`` when ``data`` can be sent again: bytes, text, JSON, simple forms."""
    if data is None or isinstance(data, (bytes, bytearray, memoryview, str)):
        return True
    if isinstance(data, aiohttp.payload.BytesPayload):  # also StringPayload, JsonPayload
        return True
    if isinstance(data, Mapping):
        return all(isinstance(v, _FORM_VALUES) for v in data.values())
    if isinstance(data, (list, tuple)):
        return all(
            isinstance(p, tuple) and len(p) == 2 and isinstance(p[1], _FORM_VALUES) for p in data
        )
    return False  # async generators, file objects, FormData, multipart writers, streams


def _merged_headers(cimultidict: Any, defaults: Any, given: Any) -> Mapping[str, str]:
    """The headers the request will carry, for reading only; copied only when both the session
    and the call have some (the core looks the idempotency header up ignoring case)."""
    if not given:
        return defaults  # type: ignore[no-any-return]
    if not defaults and isinstance(given, Mapping):
        return given
    merged = cimultidict(defaults)
    merged.update(given)
    return merged  # type: ignore[no-any-return]


def _describe(
    aiohttp: Any, cimultidict: Any, session: Any, args: Any, kwargs: Any
) -> HttpRequest | None:
    """The request as the core sees it; ``None`` to pass it through untouched (no host, a
    websocket handshake, anything aiohttp itself will reject)."""
    try:
        method, str_or_url = args[0], args[1]
        url = session._build_url(str_or_url)
        if not url.raw_host:
            return None
        headers = _merged_headers(cimultidict, session.headers, kwargs.get("headers"))
        if "Upgrade" in headers or "upgrade" in headers:  # a websocket: its span would last
            return None  # as long as the socket
        params = kwargs.get("params")
        full = url.extend_query(params) if params else url
        replayable = kwargs.get("json") is not None or _replayable(aiohttp, kwargs.get("data"))
        port: Any = getattr(url, "explicit_port", _NO_PORT)  # yarl >= 1.9
        if port is _NO_PORT:  # an older yarl: the core parses the URL text itself
            return HttpRequest(str(method).upper(), str(full), headers, replayable)
        return HttpRequest(
            str(method).upper(), str(full), headers, replayable, url.host, port, url.scheme
        )
    except Exception:
        return None


def _capped(aiohttp: Any, session: Any, given: Any, cap: float) -> Any:
    """The request's ``ClientTimeout`` with its total and every phase at most ``cap``."""
    if given is aiohttp.helpers.sentinel:
        base = session.timeout
    elif isinstance(given, aiohttp.ClientTimeout):
        base = given
    else:  # a number (deprecated) or None
        base = aiohttp.ClientTimeout(total=given)

    def low(value: float | None) -> float | None:
        return None if value is None else min(value, cap)

    return aiohttp.ClientTimeout(
        total=cap if base.total is None else min(base.total, cap),
        connect=low(base.connect),
        sock_read=low(base.sock_read),
        sock_connect=low(base.sock_connect),
        ceil_threshold=base.ceil_threshold,
    )


def _with_headers(cimultidict: Any, given: Any, extra: Mapping[str, str]) -> Any:
    headers = cimultidict(given or ())
    for name, value in extra.items():
        headers[name] = value  # replaces a previous attempt's traceparent
    return headers
