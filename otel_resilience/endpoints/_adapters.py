"""ASGI and WSGI adapters of :class:`Endpoints`: no framework, mountable in any of them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from otel_resilience.endpoints._router import BLOCKING, Endpoints, Request

__all__ = ["AsgiApp", "WsgiApp"]

_REASONS = {
    200: "OK",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class AsgiApp:
    """An ASGI 3 application serving the endpoints (``http`` and ``lifespan`` scopes)."""

    def __init__(self, endpoints: Endpoints) -> None:
        self.endpoints = endpoints

    async def __call__(
        self,
        scope: dict[str, Any],
        receive: Callable[[], Awaitable[dict[str, Any]]],
        send: Callable[[dict[str, Any]], Awaitable[None]],
    ) -> None:
        kind = scope.get("type")
        if kind == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if kind != "http":
            return
        path = scope.get("path", "/")
        root = scope.get("root_path", "")
        if root and path.startswith(root):  # mounted under a prefix (Starlette, FastAPI)
            path = path[len(root) :] or "/"
        headers = {
            k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])
        }
        request = Request(scope.get("method", "GET"), path, headers)
        if path.rstrip("/") in BLOCKING and _on_asyncio():
            # Building a bundle takes a while: keep the app's event loop serving meanwhile.
            response = await asyncio.to_thread(self.endpoints.handle, request)
        else:
            response = self.endpoints.handle(request)
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [(k.encode(), v.encode()) for k, v in response.header_list()],
            }
        )
        await send({"type": "http.response.body", "body": response.body})


def _on_asyncio() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # another event loop (trio): answer inline
        return False
    return True


class WsgiApp:
    """A WSGI application serving the endpoints (PATH_INFO is below the mount point)."""

    def __init__(self, endpoints: Endpoints) -> None:
        self.endpoints = endpoints

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        headers = {
            key[5:].replace("_", "-").lower(): str(value)
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        request = Request(
            str(environ.get("REQUEST_METHOD", "GET")), str(environ.get("PATH_INFO") or "/"), headers
        )
        response = self.endpoints.handle(request)
        reason = _REASONS.get(response.status, "")
        start_response(f"{response.status} {reason}", response.header_list())
        return [response.body]
