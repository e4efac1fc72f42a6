"""One request with httpx or httpx2, sync or async, so a test body runs for all four."""

from __future__ import annotations

import asyncio
import importlib
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

CLIENT_TIMEOUT = 5.0  # seconds: a broken test fails instead of hanging; never reached normally

#: (module, async?) pairs every behaviour test runs for.
MODES = [("httpx", False), ("httpx", True), ("httpx2", False), ("httpx2", True)]
MODE_IDS = ["httpx-sync", "httpx-async", "httpx2-sync", "httpx2-async"]


class Lib:
    """httpx or httpx2, driven sync or async with the same calls."""

    def __init__(self, name: str, is_async: bool) -> None:
        self.name = name
        self.module: Any = importlib.import_module(name)
        self.is_async = is_async

    def request(self, method: str, url: str, client: Any = None, **kwargs: Any) -> Any:
        """One request on a fresh client (or ``client``); the response with its body read."""
        if self.is_async:
            return asyncio.run(self._arequest(method, url, client, **kwargs))
        if client is not None:
            return client.request(method, url, **kwargs)
        with self.module.Client(timeout=CLIENT_TIMEOUT) as fresh:
            return fresh.request(method, url, **kwargs)

    async def _arequest(self, method: str, url: str, client: Any, **kwargs: Any) -> Any:
        if client is not None:
            return await client.request(method, url, **kwargs)
        async with self.module.AsyncClient(timeout=CLIENT_TIMEOUT) as fresh:
            return await fresh.request(method, url, **kwargs)

    def streamed(self, url: str, client: Any, read: bool = True) -> int:
        """A ``client.stream("GET", url)``: its status, the body read (or not) and closed."""
        if self.is_async:

            async def go() -> int:
                async with client.stream("GET", url) as response:
                    if read:
                        await response.aread()
                    return int(response.status_code)

            return asyncio.run(go())
        with client.stream("GET", url) as response:
            if read:
                response.read()
            return int(response.status_code)

    def client(self, **kwargs: Any) -> Any:
        """A client of the right kind (sync or async)."""
        cls = self.module.AsyncClient if self.is_async else self.module.Client
        return cls(timeout=CLIENT_TIMEOUT, **kwargs)

    def close(self, client: Any) -> None:
        """Close a client made by :meth:`client`."""
        if self.is_async:
            asyncio.run(client.aclose())
        else:
            client.close()


def client_spans(capture: Any) -> list[ReadableSpan]:
    """The CLIENT spans captured, in the order they ended."""
    return [s for s in capture.spans() if s.kind is SpanKind.CLIENT]


def parent_span_id(traceparent: str) -> int:
    """The parent span id a W3C ``traceparent`` header carries."""
    return int(traceparent.split("-")[2], 16)
