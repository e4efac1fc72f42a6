"""A Redis password never reaches a repr, an error message or a log, however the URL holds it."""

from __future__ import annotations

import logging

import pytest

from otel_resilience.store import RedisStateStore
from tests.store_support import free_port

SECRET = "s3cr3t"


@pytest.mark.parametrize(
    "url",
    [
        "redis://user:{s}@127.0.0.1:{p}/0",
        "redis://:pa@{s}@127.0.0.1:{p}/0",  # an '@' in the password, not percent-encoded
        "redis://:pa/{s}@127.0.0.1:{p}/0",  # a '/' likewise
        "redis://127.0.0.1:{p}/0?password={s}",
        "redis://127.0.0.1:{p}/0?db=0&PASSWORD={s}&ssl_cert_reqs=none",
        "unix://user:{s}@/tmp/none.sock?db=0",
    ],
)
def test_password_is_masked_in_repr_and_the_outage_log(url, caplog):
    """Neither ``repr(store)`` nor the "unreachable" warning shows the password."""
    caplog.set_level(logging.DEBUG)
    store = RedisStateStore(url.format(s=SECRET, p=free_port()), sync_interval=60)
    assert SECRET not in repr(store)
    assert store.acquire("k", 10.0, 1, 0.0) is None  # nothing listens: fails open, logs once
    assert any("unreachable" in r.getMessage() for r in caplog.records)
    assert SECRET not in caplog.text
    store.close()


def test_password_is_masked_in_a_bad_url_error():
    """A URL of the wrong scheme fails fast without echoing its password."""
    with pytest.raises(ValueError, match="url must be") as info:
        RedisStateStore(f"http://127.0.0.1/?password={SECRET}")
    assert SECRET not in str(info.value)
