"""HTTP endpoints for health, readiness, reliability data and a live status page.

``GET /health`` (liveness), ``GET /ready`` (readiness: 503 while unhealthy or while a critical
check is still unknown), ``GET /reliability`` (JSON), ``GET /status`` (HTML) and, when the app
gives one and a token, ``GET /debug/bundle`` (a zip), as an ASGI app, a WSGI app, or a stdlib
server of their own. No web framework is needed. See docs/health.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from otel_resilience.endpoints._adapters import AsgiApp, WsgiApp
from otel_resilience.endpoints._router import Endpoints
from otel_resilience.endpoints._serve import ServerHandle, serve_wsgi
from otel_resilience.health import HealthRegistry
from otel_resilience.health.reliability import ReliabilityStats

__all__ = ["AsgiApp", "Endpoints", "ServerHandle", "WsgiApp", "asgi_app", "serve", "wsgi_app"]


def asgi_app(
    registry: HealthRegistry | None = None,
    *,
    tracker: Any = None,
    stats: ReliabilityStats | None = None,
    token: str | None = None,
    refresh: int = 5,
    debug_bundle: Callable[[], bytes] | None = None,
) -> AsgiApp:
    """An ASGI app of the endpoints (mount it in Starlette/FastAPI, or run it with uvicorn).

    ``tracker``: an object whose ``groups()`` lists error groups (an ``ErrorTracker``).
    ``stats``: the aggregation to show (default: the one ``reliability.enable()`` turned on).
    ``token``: when given, every request needs ``Authorization: Bearer <token>``.
    ``refresh``: seconds between reloads of the status page (1 to 10).
    ``debug_bundle``: serves ``GET /debug/bundle`` (a zip; e.g. ``functools.partial(
    otel_resilience_exporters.debug_bundle_bytes, collector, tracker=..., health=...)``);
    it needs ``token`` (ValueError without one), and the route answers 404 when not given.
    """
    return AsgiApp(
        Endpoints(
            registry,
            tracker=tracker,
            stats=stats,
            token=token,
            refresh=refresh,
            debug_bundle=debug_bundle,
        )
    )


def wsgi_app(
    registry: HealthRegistry | None = None,
    *,
    tracker: Any = None,
    stats: ReliabilityStats | None = None,
    token: str | None = None,
    refresh: int = 5,
    debug_bundle: Callable[[], bytes] | None = None,
) -> WsgiApp:
    """A WSGI app of the endpoints (mount it in Flask or Django); options as :func:`asgi_app`."""
    return WsgiApp(
        Endpoints(
            registry,
            tracker=tracker,
            stats=stats,
            token=token,
            refresh=refresh,
            debug_bundle=debug_bundle,
        )
    )


def serve(
    registry: HealthRegistry | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    tracker: Any = None,
    stats: ReliabilityStats | None = None,
    token: str | None = None,
    refresh: int = 5,
    debug_bundle: Callable[[], bytes] | None = None,
) -> ServerHandle:
    """Serve the endpoints from a daemon thread; returns at once with a handle to ``close()``.

    Binds 127.0.0.1 unless another ``host`` is asked for; ``port=0`` picks a free port (read
    it from ``handle.port``). Use the handle as a context manager to close it on exit.
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"port must be an int in 0..65535, got {port!r}")
    if not isinstance(host, str) or not host:
        raise ValueError(f"host must be a non-empty string, got {host!r}")
    app = wsgi_app(
        registry,
        tracker=tracker,
        stats=stats,
        token=token,
        refresh=refresh,
        debug_bundle=debug_bundle,
    )
    return serve_wsgi(app, host, port)
