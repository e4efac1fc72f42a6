"""The framework-neutral core of the endpoints: a route table, bearer auth, JSON and HTML.

Both adapters (ASGI, WSGI) turn their request into ``(method, path, headers)`` and send back
the :class:`Response` that :meth:`Endpoints.handle` returns. A route is one entry of
``Endpoints.routes``: adding one (``/debug/bundle``) is one function and one line.
"""

from __future__ import annotations

import hmac
import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from otel_resilience.endpoints import _html
from otel_resilience.health import HealthRegistry, HealthStatus
from otel_resilience.health import reliability as _reliability

__all__ = ["Endpoints", "Request", "Response"]

_JSON = "application/json"
_NOT_READY = frozenset({HealthStatus.UNHEALTHY, HealthStatus.UNKNOWN})
#: How many error groups the endpoints show, most frequent first.
TOP_GROUPS = 10


@dataclass(frozen=True)
class Request:
    """What a route sees of a request: method, path (below the mount point) and headers."""

    method: str
    path: str
    headers: Mapping[str, str]  # lower-case names


@dataclass
class Response:
    """Status, body and headers to send."""

    status: int
    body: bytes
    content_type: str = _JSON
    headers: dict[str, str] = field(default_factory=dict)

    def header_list(self) -> list[tuple[str, str]]:
        """All headers, content type and length included."""
        base = {
            "content-type": self.content_type,
            "content-length": str(len(self.body)),
            "cache-control": "no-store",
            "x-content-type-options": "nosniff",
        }
        base.update(self.headers)
        return list(base.items())


def json_response(status: int, data: Any) -> Response:
    """``data`` as JSON (non-finite floats as null, unknown objects as strings)."""
    return Response(status, json.dumps(_finite(data), default=str).encode())


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


Route = Callable[["Endpoints", Request], Response]


class Endpoints:
    """The data behind every route: a registry, an error tracker, the aggregation, a token."""

    def __init__(
        self,
        registry: HealthRegistry | None = None,
        *,
        tracker: Any = None,
        stats: _reliability.ReliabilityStats | None = None,
        token: str | None = None,
        refresh: int = 5,
        debug_bundle: Callable[[], bytes] | None = None,
    ) -> None:
        if registry is not None and not isinstance(registry, HealthRegistry):
            raise ValueError(f"registry must be a HealthRegistry or None, got {registry!r}")
        if tracker is not None and not callable(getattr(tracker, "groups", None)):
            raise ValueError(f"tracker must have a groups() method, got {tracker!r}")
        if token is not None and (not isinstance(token, str) or not token):
            raise ValueError("token must be a non-empty string or None")
        if isinstance(refresh, bool) or not isinstance(refresh, int) or not 1 <= refresh <= 10:
            raise ValueError(f"refresh must be an int of seconds in 1..10, got {refresh!r}")
        if debug_bundle is not None and not callable(debug_bundle):
            raise ValueError(f"debug_bundle must be callable or None, got {debug_bundle!r}")
        if debug_bundle is not None and token is None:
            # A bundle holds recent telemetry and configuration: never served unauthenticated.
            raise ValueError("debug_bundle needs token= (the bundle is served only with a token)")
        self.debug_bundle = debug_bundle
        self.registry = registry
        self.tracker = tracker
        self._stats = stats
        self._expected = None if token is None else f"Bearer {token}".encode()
        self.refresh = refresh
        self._started = time.monotonic()
        self.routes: dict[str, Route] = dict(ROUTES)

    # -- dispatch -------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Authorise, route, and never raise: a failing route answers 500 without details."""
        if not self._authorised(request):
            return Response(
                401, b'{"error": "unauthorized"}', headers={"www-authenticate": "Bearer"}
            )
        path = request.path.rstrip("/") or "/"
        route = self.routes.get(path)
        if route is None:
            return json_response(404, {"error": "not found", "routes": sorted(self.routes)})
        if request.method not in ("GET", "HEAD"):
            return Response(405, b'{"error": "method not allowed"}', headers={"allow": "GET"})
        try:
            response = route(self, request)
        except Exception:  # a broken check or tracker must not take the endpoint down
            return Response(500, b'{"error": "internal error"}')
        if request.method == "HEAD":
            response.headers["content-length"] = str(len(response.body))
            response.body = b""
        return response

    def _authorised(self, request: Request) -> bool:
        if self._expected is None:
            return True
        given = request.headers.get("authorization", "").encode()
        return hmac.compare_digest(given, self._expected)

    # -- data -----------------------------------------------------------------------------------

    @property
    def stats(self) -> _reliability.ReliabilityStats | None:
        """The given aggregation, else the enabled one, else None."""
        return self._stats if self._stats is not None else _reliability.current()

    def status(self) -> HealthStatus:
        """The registry's overall status (healthy without a registry)."""
        return self.registry.status() if self.registry is not None else HealthStatus.HEALTHY

    def uptime(self) -> float:
        """The registry's uptime, else seconds since these endpoints were made."""
        if self.registry is not None:
            return self.registry.uptime
        return time.monotonic() - self._started

    def groups(self) -> list[dict[str, Any]]:
        """The tracker's top error groups, most frequent first."""
        if self.tracker is None:
            return []
        groups = [dict(g) for g in self.tracker.groups()]
        groups.sort(key=lambda g: -_count(g))
        return groups[:TOP_GROUPS]

    def reliability(self) -> dict[str, Any]:
        """Everything /reliability and /status show."""
        registry = self.registry
        stats = self.stats
        report = registry.report() if registry is not None else None
        return {
            "status": report["status"] if report is not None else self.status().value,
            "uptime": self.uptime(),
            "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "aggregation": "on" if stats is not None else "off",
            "breakers": _reliability.breakers(registry.breakers if registry else None),
            "pipelines": stats.pipelines() if stats is not None else {},
            "checks": report["checks"] if report is not None else {},
            "events": report["events"] if report is not None else [],
            "error_groups": _section(self.groups, []),
            "slos": _reliability.slos(),
        }


def _section(read: Callable[[], Any], empty: Any) -> Any:
    """One section of the page: a tracker raising or returning junk empties that section
    only (the breakers and checks stay visible to whoever is on call)."""
    try:
        return read()
    except Exception:
        return empty


def _count(group: Mapping[str, Any]) -> float:
    value = group.get("count", 0)
    return float(value) if isinstance(value, (int, float)) else 0.0


# -- routes ---------------------------------------------------------------------------------


def health(ep: Endpoints, request: Request) -> Response:
    """Liveness: 200 while the process answers, with the overall status for information."""
    return json_response(
        200, {"status": "alive", "health": ep.status().value, "uptime": ep.uptime()}
    )


def ready(ep: Endpoints, request: Request) -> Response:
    """Readiness: 503 while unhealthy, or while a critical check has not reported yet."""
    status = ep.status()
    return json_response(503 if status in _NOT_READY else 200, {"status": status.value})


def reliability(ep: Endpoints, request: Request) -> Response:
    """Breakers, pipelines, checks and error groups as JSON."""
    return json_response(200, ep.reliability())


def status_page(ep: Endpoints, request: Request) -> Response:
    """The same data as a self-refreshing HTML page."""
    body = _html.render(ep.reliability(), ep.refresh)
    return Response(
        200,
        body.encode(),
        "text/html; charset=utf-8",
        # No external assets: the page's own inline style is all it may load.
        {"content-security-policy": "default-src 'none'; style-src 'unsafe-inline'"},
    )


def bundle(ep: Endpoints, request: Request) -> Response:
    """The app's debug bundle (a zip), when the app gave one; 404 otherwise."""
    if ep.debug_bundle is None:
        return json_response(404, {"error": "no debug bundle configured"})
    data = ep.debug_bundle()
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError(f"debug_bundle returned {type(data).__name__}, not bytes")
    return Response(
        200,
        bytes(data),
        "application/zip",
        {"content-disposition": 'attachment; filename="debug-bundle.zip"'},
    )


#: Routes that may take long (building a zip): the ASGI adapter runs them off the event loop.
BLOCKING = frozenset({"/debug/bundle"})

#: Path -> route. Endpoints copies it, so an app may add its own routes.
ROUTES: dict[str, Route] = {
    "/": status_page,
    "/health": health,
    "/ready": ready,
    "/reliability": reliability,
    "/status": status_page,
    "/debug/bundle": bundle,
}
