"""RedisStateStore over ``rediss://`` against a real TLS-only redis-server: CA and client
certificate options reach redis-py (sync and asyncio clients), and a TLS failure fails open."""

from __future__ import annotations

import logging

import pytest

from otel_resilience import CircuitBreaker, CircuitOpenError, Pipeline, RateLimiter, semconv
from otel_resilience.store import RedisStateStore
from tests import store_tls_support
from tests.store_support import until
from tests.store_tls_support import TlsFiles, TlsRedisServer

# Fixtures: throwaway certificates and TLS-only servers (client certificate required or not).
tls_files = store_tls_support.tls_files
tls_server = store_tls_support.tls_server
tls_server_any_client = store_tls_support.tls_server_any_client

QUIET = 60.0  # the tests call store.sync() themselves


def _down() -> None:
    raise ConnectionError("dependency down")


def _mutual(files: TlsFiles) -> dict[str, str]:
    """Store options of a client that trusts the CA and presents its certificate."""
    return {
        "ssl_ca_certs": str(files.ca),
        "ssl_certfile": str(files.client_cert),
        "ssl_keyfile": str(files.client_key),
    }


def test_breaker_syncs_over_tls(tls_server: TlsRedisServer, tls_files, run):
    """Two stores on rediss:// with a client certificate pool failures and open everywhere."""
    a = RedisStateStore(tls_server.url, sync_interval=QUIET, **_mutual(tls_files))
    b = RedisStateStore(tls_server.url, sync_interval=QUIET, **_mutual(tls_files))
    opts = {"minimum_calls": 4, "window": 100, "window_type": "count", "break_duration": 60}
    ba = CircuitBreaker(name="tls", store=a, **opts)  # type: ignore[arg-type]
    bb = CircuitBreaker(name="tls", store=b, **opts)  # type: ignore[arg-type]
    pa, pb = Pipeline("a", ba), Pipeline("b", bb)
    for pipeline in (pa, pa, pb, pb):  # 2 + 2: only the fleet reaches minimum_calls
        with pytest.raises(ConnectionError):
            run(pipeline, _down)
    # Failures also wake each store's sync thread: either round may carry them.
    until(lambda: a.sync() or b.sync() or bb.state.value == "open", "the fleet opens")
    until(lambda: a.sync() or ba.state.value == "open", "a learns the fleet opened")
    run.raises(CircuitOpenError, pa, lambda: "never")
    assert tls_server.client().hget("otel-resilience:cb:{tls}", "st") == b"1"
    assert (a.connected, b.connected) == (True, True)
    a.close()
    b.close()


def test_rate_limiter_over_tls(tls_server: TlsRedisServer, tls_files, run):
    """The limiter's GCRA call goes over TLS on the sync and the asyncio client: two stores
    share one burst of 3, and the limiter's key is on the TLS server."""
    a = RedisStateStore(tls_server.url, sync_interval=QUIET, **_mutual(tls_files))
    b = RedisStateStore(tls_server.url, sync_interval=QUIET, **_mutual(tls_files))
    pa = Pipeline("a", RateLimiter(name="tls", rate=3, per=60.0, store=a))
    pb = Pipeline("b", RateLimiter(name="tls", rate=3, per=60.0, store=b))
    outcomes = []
    for pipeline in (pa, pb, pa, pb):
        try:
            outcomes.append(run(pipeline, lambda: "ok"))
        except Exception as exc:
            outcomes.append(type(exc).__name__)
    assert outcomes == ["ok", "ok", "ok", "RateLimitedError"]  # 3 for the fleet, not 3 each
    assert tls_server.client().exists("otel-resilience:rl:{tls}") == 1
    assert (a.connected, b.connected) == (True, True)
    a.close()
    b.close()


def test_ca_only_when_the_server_asks_no_client_certificate(
    tls_server_any_client: TlsRedisServer, tls_files, run
):
    """ssl_ca_certs alone is enough for a server without --tls-auth-clients."""
    store = RedisStateStore(
        tls_server_any_client.url, sync_interval=QUIET, ssl_ca_certs=str(tls_files.ca)
    )
    pipeline = Pipeline("ca", RateLimiter(name="ca", rate=1, per=60.0, store=store))
    assert run(pipeline, lambda: "ok") == "ok"
    assert store.connected is True
    assert tls_server_any_client.client().exists("otel-resilience:rl:{ca}") == 1
    store.close()


def _wrong_ca(files: TlsFiles) -> dict[str, str]:
    return {**_mutual(files), "ssl_ca_certs": str(files.other_ca)}


def _no_client_cert(files: TlsFiles) -> dict[str, str]:
    return {"ssl_ca_certs": str(files.ca)}


@pytest.mark.parametrize("tls_options", [_wrong_ca, _no_client_cert], ids=["wrong_ca", "no_cert"])
def test_tls_refused_fails_open(tls_server, tls_files, tls_options, run, otel_capture, caplog):
    """A server certificate the CA did not sign, or no client certificate where the server
    requires one: the calls go on, limited locally; the gauge says 0; one log record."""
    store = RedisStateStore(
        tls_server.url,
        sync_interval=QUIET,
        backoff=0.01,
        max_backoff=0.01,
        meter_provider=otel_capture.meter_provider,
        logger_provider=otel_capture.logger_provider,
        **tls_options(tls_files),
    )
    caplog.set_level(logging.WARNING, logger="otel_resilience.store")
    pipeline = Pipeline("tls", RateLimiter(name="refused", rate=100, per=1.0, store=store))
    for _ in range(3):  # each after the back-off: three failed handshakes, one outage
        until(store.health.usable, "back-off over")
        assert run(pipeline, lambda: "ok") == "ok"
    assert store.connected is False
    gauge = otel_capture.metrics()[semconv.METRIC_STATE_STORE_CONNECTED]
    assert [p.value for p in gauge] == [0]
    errors = [
        p.value
        for p in otel_capture.metrics()[semconv.METRIC_EVENTS]
        if p.attributes.get(semconv.EVENT) == semconv.EVENT_STATE_STORE_ERROR
    ]
    assert sum(errors) == 3
    logs = [r.log_record.event_name for r in otel_capture.logs()]
    assert logs.count(semconv.LOG_EVENT_STATE_STORE_DISCONNECTED) == 1
    assert sum("unreachable" in r.getMessage() for r in caplog.records) == 1
    assert tls_server.client().exists("otel-resilience:rl:{refused}") == 0
    store.close()
