"""The /status page in headless Chromium (Debian's /usr/bin/chromium, driven by playwright)."""

from __future__ import annotations

import pytest
from endpoints_support import FakeTracker, uvicorn_server

from otel_resilience import CircuitBreaker, HealthRegistry, HealthResult, HealthStatus, Pipeline
from otel_resilience.endpoints import asgi_app, serve
from otel_resilience.health import reliability
from otel_resilience.testing import FakeClock

CHROMIUM = "/usr/bin/chromium"
# Headless as root in a container: no sandbox, no GPU, /dev/shm may be small.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
GROUP = {
    "title": "ConnectionRefusedError",
    "message": "connect to db-<n> refused",
    "count": 12,
    "category": "connection",
    "recovered": False,
}


def _scene(clock: FakeClock) -> tuple[HealthRegistry, reliability.ReliabilityStats]:
    """Two breakers (one open), three checks, some pipeline traffic."""
    stats = reliability.enable(clock=clock)
    payments = CircuitBreaker(name="payments", minimum_calls=1, window=1, window_type="count")
    search = CircuitBreaker(name="search")
    for breaker in (payments, search):
        pipeline = Pipeline(breaker.name, breaker, clock=clock)
        for _ in range(5):
            pipeline.call(clock.advance, 0.02)
    with pytest.raises(ConnectionError):
        Pipeline("payments-down", payments, clock=clock).call(_down)
    registry = HealthRegistry(clock=clock)
    registry.register_breaker(payments)
    registry.register_breaker(search, critical=False)
    registry.register("postgres", lambda: True)
    registry.register("replica", lambda: HealthResult(HealthStatus.DEGRADED, "lagging"))
    registry.run_once()
    return registry, stats


def _down() -> None:
    raise ConnectionError


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium from Debian (never a downloaded build), shared by this module."""
    from playwright import sync_api

    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def _open(browser, url: str, token: str | None = None):
    """A page that refuses every request leaving ``url``'s origin; returns (page, refused)."""
    context = browser.new_context(
        viewport={"width": 1100, "height": 1100},
        extra_http_headers={"Authorization": f"Bearer {token}"} if token else None,
    )
    page = context.new_page()
    refused: list[str] = []

    def guard(route) -> None:
        if route.request.url.startswith(url):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    page.route("**/*", guard)
    return page, refused


def test_a_person_sees_breakers_checks_and_error_groups(browser, tmp_path):
    """Breaker names and states in words, checks, an error group; no outside request."""
    clock = FakeClock()
    registry, stats = _scene(clock)
    try:
        app = asgi_app(registry, tracker=FakeTracker(GROUP), stats=stats, token="t0ken")
        with uvicorn_server(app) as url:
            page, refused = _open(browser, url, token="t0ken")
            response = page.goto(url + "/status")
            assert response is not None
            assert response.status == 200
            text = page.inner_text("body")
            page.screenshot(path=str(tmp_path / "status.png"), full_page=True)
    finally:
        reliability.disable()
    assert "Service status: unhealthy" in text
    breakers = page_rows(text, "payments")
    assert "open (calls refused)" in breakers
    assert "closed (calls flow)" in page_rows(text, "search")
    assert "degraded" in page_rows(text, "replica")
    assert "ConnectionRefusedError" in text
    assert "connect to db-<n> refused" in text
    assert "refreshes every 5 s" in text
    assert refused == []
    assert (tmp_path / "status.png").stat().st_size > 10_000


def page_rows(text: str, name: str) -> str:
    """The lines of the page's text that start with ``name`` (its table rows), joined."""
    return "\n".join(line for line in text.splitlines() if line.startswith(name))


def test_page_needs_the_token_and_reloads_itself(browser):
    """Without the token the browser gets 401; with it, the page reloads by itself (meta)."""
    registry = HealthRegistry()
    with serve(registry, token="t0ken", refresh=1) as handle:
        anonymous, refused_anonymous = _open(browser, handle.url)
        response = anonymous.goto(handle.url + "/status")
        assert response is not None
        assert response.status == 401
        assert "payments" not in anonymous.content()
        page, refused = _open(browser, handle.url, token="t0ken")
        page.goto(handle.url + "/status")
        assert "late" not in page.inner_text("body")
        registry.register("late", lambda: True, critical=False)
        # Only a reload by the page itself (no script, a meta refresh) can show the new check.
        page.wait_for_selector("td:text-is('late')", timeout=20_000)
    assert refused == refused_anonymous == []
