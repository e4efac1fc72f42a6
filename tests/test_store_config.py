"""The store's configuration: defaults, the environment variable, validation, redis-py options."""

from __future__ import annotations

import pytest

from otel_resilience import CircuitBreaker, RateLimiter, configure_store
from otel_resilience.store import MemoryStateStore, RedisStateStore, StateStore, default_store
from otel_resilience.store import config as store_config
from otel_resilience.store.options import RedisStoreOptions


@pytest.fixture
def fresh_default(monkeypatch):  # type: ignore[no-untyped-def]
    """No default store chosen yet; restored afterwards."""
    monkeypatch.setattr(store_config, "_default", None)
    monkeypatch.delenv(store_config.ENV_URL, raising=False)
    monkeypatch.delenv(store_config.ENV_PREFIX, raising=False)
    yield
    current = store_config._default
    if isinstance(current, RedisStateStore):
        current.close()


def test_default_is_the_memory_store(fresh_default):
    """Without configuration strategies stay local: no link, nothing shared."""
    assert isinstance(default_store(), MemoryStateStore)
    assert CircuitBreaker(name="local")._link is None
    assert RateLimiter(rate=1)._fleet is None


def test_environment_variable_sets_the_default(fresh_default, monkeypatch):
    """OTEL_RESILIENCE_REDIS_URL (and _PREFIX) make the default a RedisStateStore."""
    monkeypatch.setenv(store_config.ENV_URL, "redis://127.0.0.1:1/0")
    monkeypatch.setenv(store_config.ENV_PREFIX, "fleet")
    store = default_store()
    assert isinstance(store, RedisStateStore)
    assert store.options.prefix == "fleet"
    assert RateLimiter(rate=1, name="x")._fleet is not None


def test_configure_store_sets_and_resets(fresh_default):
    """configure_store(url=...) then configure_store() back to memory; both at once fail."""
    store = configure_store(url="redis://127.0.0.1:1/0", prefix="p", sync_interval=0.5)
    assert isinstance(store, RedisStateStore)
    assert default_store() is store
    assert store.options.sync_interval == 0.5
    store.close()
    assert isinstance(configure_store(), MemoryStateStore)
    with pytest.raises(ValueError, match="not both"):
        configure_store(MemoryStateStore(), url="redis://x")
    with pytest.raises(ValueError, match="store must be a StateStore"):
        configure_store(object())  # type: ignore[arg-type]
    assert isinstance(MemoryStateStore(), StateStore)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("url", "http://redis"),
        ("prefix", "bad prefix"),
        ("sync_interval", 0),
        ("command_timeout", 10.0),
        ("connect_timeout", -1),
        ("backoff", 0),
        ("key_ttl", float("nan")),
    ],
)
def test_invalid_options_name_the_field(field, value):
    """Invalid store options fail at construction with a ValueError naming the field."""
    kwargs = {"url": "redis://127.0.0.1:1/0", field: value}
    with pytest.raises(ValueError, match=field):
        RedisStoreOptions(**kwargs)


def test_tls_options_and_secrets():
    """TLS options reach redis-py untouched; the URL's password stays out of the repr."""
    opts = RedisStoreOptions(
        url="rediss://user:s3cret@redis.example:6380/0",
        ssl_ca_certs="/ca.pem",
        ssl_certfile="/client.pem",
        ssl_keyfile="/client.key",
        client_options={"health_check_interval": 30},
    )
    kwargs = opts.client_kwargs()
    assert kwargs["ssl_ca_certs"] == "/ca.pem"
    assert kwargs["ssl_certfile"] == "/client.pem"
    assert kwargs["ssl_keyfile"] == "/client.key"
    assert kwargs["health_check_interval"] == 30
    assert kwargs["socket_timeout"] == kwargs["socket_connect_timeout"] == 0.25
    store = RedisStateStore("rediss://user:s3cret@redis.example:6380/0")
    assert "s3cret" not in repr(store)
    store.close()


def test_percent_budget_ignores_the_default_store(fresh_default, monkeypatch):
    """A process-wide Redis default does not break percent budgets: they stay local."""
    from otel_resilience import RetryBudget

    monkeypatch.setenv(store_config.ENV_URL, "redis://127.0.0.1:1/0")
    budget = RetryBudget.percent(name="pct")
    assert budget._store is None
