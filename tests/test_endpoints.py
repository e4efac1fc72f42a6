"""The endpoints served by real servers on 127.0.0.1: uvicorn (ASGI), wsgiref (WSGI), serve()."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pytest
from endpoints_support import FakeTracker, get, get_json, uvicorn_server, wsgiref_server

from otel_resilience import CircuitBreaker, HealthRegistry, Pipeline, Retry
from otel_resilience.endpoints import asgi_app, serve, wsgi_app
from otel_resilience.health import reliability
from otel_resilience.testing import FakeClock

GROUP = {
    "title": "ConnectionError",
    "message": "refused by host <id>",
    "count": 7,
    "category": "connection",
    "recovered": True,
}


@contextmanager
def _serve(**kwargs: Any) -> Iterator[str]:
    with serve(**kwargs) as handle:
        yield handle.url


SERVERS: dict[str, Callable[..., AbstractContextManager[str]]] = {
    "uvicorn-asgi": lambda **kw: uvicorn_server(asgi_app(**kw)),
    "wsgiref-wsgi": lambda **kw: wsgiref_server(wsgi_app(**kw)),
    "serve": _serve,
}


@pytest.fixture(params=sorted(SERVERS))
def server(request: pytest.FixtureRequest) -> Callable[..., AbstractContextManager[str]]:
    """Start the endpoints on each kind of real server in turn."""
    return SERVERS[request.param]


def test_ready_is_503_until_critical_checks_report_then_follows_health(server):
    """/ready: 503 while a critical check is unknown or unhealthy, 200 healthy or degraded."""
    answers = [True, False]
    registry = HealthRegistry(clock=FakeClock())
    registry.register("db", lambda: answers.pop(0))
    registry.register("optional", lambda: False, critical=False)
    with server(registry=registry) as url:
        assert get_json(url + "/ready") == (503, {"status": "unknown"})
        registry.run_once()
        assert get_json(url + "/ready") == (200, {"status": "degraded"})
        registry.run_once()
        assert get_json(url + "/ready") == (503, {"status": "unhealthy"})
        status, body = get_json(url + "/health")
        assert (status, body["status"], body["health"]) == (200, "alive", "unhealthy")


def test_reliability_json_has_breakers_pipelines_checks_and_groups(server):
    """/reliability lists breakers with state and ratio, pipeline stats, checks, error groups."""
    clock = FakeClock()
    stats = reliability.enable(clock=clock)
    try:
        breaker = CircuitBreaker(name="inventory", minimum_calls=2, window=2, window_type="count")
        pipeline = Pipeline(
            "inventory", Retry(max_attempts=2, base_delay=0.0), breaker, clock=clock
        )
        with pytest.raises(ConnectionError):
            pipeline.call(_down)
        registry = HealthRegistry(clock=clock)
        registry.register_breaker(breaker)
        with server(registry=registry, tracker=FakeTracker(GROUP), stats=stats) as url:
            status, data = get_json(url + "/reliability")
    finally:
        reliability.disable()
    assert status == 200
    assert {"name": "inventory", "state": "open", "failure_ratio": 1.0, "calls_in_window": 2} in (
        data["breakers"]
    )
    five = data["pipelines"]["inventory"]["5m"]
    assert (five["calls"], five["errors"], five["retries"], five["error_rate"]) == (1, 1, 1, 1.0)
    assert data["checks"]["inventory"]["status"] == "unhealthy"
    assert data["status"] == "unhealthy"
    assert data["error_groups"] == [GROUP]


def test_bearer_token_protects_every_route(server):
    """With token=, a request without the right bearer token gets 401 and no data."""
    registry = HealthRegistry()
    with server(registry=registry, token="s3cret-token") as url:
        for path in ("/health", "/ready", "/reliability", "/status"):
            status, headers, body = get(url + path)
            assert status == 401, path
            assert headers["www-authenticate"] == "Bearer"
            assert get(url + path, token="wrong")[0] == 401
            assert get(url + path, token="s3cret-token")[0] == 200
        assert b"s3cret" not in body


def test_unknown_paths_methods_and_broken_trackers(server):
    """404 for unknown paths, 405 for POST; a tracker raising or returning junk empties the
    error groups only (no details), the rest of /reliability and /status still answers."""

    class Broken:
        def groups(self) -> list[dict[str, Any]]:
            raise RuntimeError("tracker internals: password=hunter2")

    class Junk:
        def groups(self) -> Any:
            return [1, "x"]

    registry = HealthRegistry()
    registry.register_breaker(CircuitBreaker(name="still-shown"))
    for tracker in (Broken(), Junk()):
        with server(registry=registry, tracker=tracker) as url:
            assert get(url + "/nope")[0] == 404
            assert get(url + "/health", method="POST")[0] == 405
            status, _, body = get(url + "/reliability")
            assert status == 200
            assert b"hunter2" not in body
            assert json.loads(body)["error_groups"] == []
            assert "still-shown" in json.loads(body)["checks"]
            assert get(url + "/status")[0] == 200


def test_status_page_is_self_contained_html(server):
    """/status is HTML that refreshes itself within 10 s, with a CSP forbidding outside assets."""
    with server() as url:
        status, headers, body = get(url + "/status")
    page = body.decode()
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    assert headers["content-security-policy"].startswith("default-src 'none'")
    assert '<meta http-equiv="refresh" content="5">' in page
    assert "http://" not in page
    assert "https://" not in page
    assert "<script" not in page


def test_serve_binds_loopback_and_releases_the_port():
    """serve() binds 127.0.0.1 by default; after close() the port is free again."""
    import socket

    with serve() as handle:
        assert handle.host == "127.0.0.1"
        port = handle.port
        assert get(handle.url + "/health")[0] == 200
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_asgi_app_mounted_under_a_prefix():
    """Mounted under /ops (root_path), /ops/ready reaches the /ready route."""
    import asyncio

    app = asgi_app(HealthRegistry())
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/ops/ready",
        "root_path": "/ops",
        "headers": [],
    }
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 200
    assert sent[1]["body"] == b'{"status": "healthy"}'


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"token": ""}, "token"),
        ({"refresh": 11}, "refresh"),
        ({"tracker": object()}, "tracker"),
        ({"registry": object()}, "registry"),
    ],
)
def test_invalid_options_name_the_field(kwargs, field):
    """Bad endpoint options fail at construction with a ValueError naming the field."""
    with pytest.raises(ValueError, match=field):
        wsgi_app(**kwargs)
    with pytest.raises(ValueError, match="port"):
        serve(port=70000)


def _down() -> None:
    raise ConnectionError


def _make_zip() -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("README.txt", "bundle")
    return buffer.getvalue()


ZIP = _make_zip()  # made once: a zip stamps the time it is written


def _zip() -> bytes:
    return ZIP


def test_debug_bundle_route_needs_the_token_and_serves_a_zip(server):
    """GET /debug/bundle answers the app's zip to the token holder only, 401 to anyone else."""
    with server(token="t0k-9", debug_bundle=_zip) as url:
        assert get(url + "/debug/bundle")[0] == 401
        assert get(url + "/debug/bundle", token="wrong")[0] == 401
        status, headers, body = get(url + "/debug/bundle", token="t0k-9")
    assert status == 200
    assert headers["content-type"] == "application/zip"
    assert headers["content-disposition"].startswith("attachment")
    assert body == ZIP


def test_debug_bundle_route_is_404_without_a_bundle_and_500_when_it_fails(server):
    """No debug_bundle: 404; a bundle callable raising or returning junk: 500, no details."""

    def broken() -> bytes:
        raise RuntimeError("password=hunter2")

    with server(token="t") as url:
        assert get(url + "/debug/bundle", token="t")[0] == 404
    for bad in (broken, lambda: "not bytes"):
        with server(token="t", debug_bundle=bad) as url:
            status, _, body = get(url + "/debug/bundle", token="t")
            assert status == 500
            assert b"hunter2" not in body
            assert get(url + "/health", token="t")[0] == 200


def test_debug_bundle_is_refused_without_a_token():
    """A debug bundle is sensitive: giving one without token= is a ValueError."""
    for make in (asgi_app, wsgi_app, serve):
        with pytest.raises(ValueError, match="token"):
            make(debug_bundle=_zip)
    with pytest.raises(ValueError, match="debug_bundle"):
        wsgi_app(token="t", debug_bundle=b"zip")


def test_reliability_and_status_show_slo_budgets_and_alerts():
    """A live SLO appears in /reliability (budget left, burn rates, alerts) and on /status,
    its alert states written as words."""
    from otel_resilience.endpoints import Endpoints
    from otel_resilience.endpoints._html import render
    from otel_resilience.slo import SLO

    clock = FakeClock()
    slo = SLO("checkout-availability", objective=0.99, window="1d", clock=clock)
    for i in range(200):
        slo.record(good=i % 2 == 0)  # half the calls bad: every alert fires
    data = Endpoints().reliability()
    (mine,) = [o for o in data["slos"] if o["name"] == "checkout-availability"]
    assert mine["objective"] == 0.99
    assert mine["calls"] == 200
    assert mine["bad"] == 100
    assert mine["error_budget_remaining"] < 0
    assert mine["burn_rates"]["1h"] == pytest.approx(50.0)
    assert mine["alerts"] == {"page": True, "ticket": True}
    page = render(data, 5)
    assert "Service-level objectives" in page
    assert "checkout-availability" in page
    assert "page firing, ticket firing" in page


def test_a_failing_slo_is_listed_without_breaking_the_page(monkeypatch):
    """An SLO whose status() raises is listed with the error type; /reliability still answers."""
    from otel_resilience.endpoints import Endpoints
    from otel_resilience.slo import SLO

    slo = SLO("flaky-slo", clock=FakeClock())

    def broken(self: SLO) -> Any:
        raise RuntimeError("password=hunter2")

    monkeypatch.setattr(SLO, "status", broken)
    data = Endpoints().reliability()
    assert {"name": "flaky-slo", "error": "RuntimeError"} in data["slos"]
    assert slo.name == "flaky-slo"
