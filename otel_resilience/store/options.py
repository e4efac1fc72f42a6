"""RedisStateStore options: validated once, frozen."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from otel_resilience._validate import check_seconds

__all__ = ["MAX_TIMEOUT", "RedisStoreOptions"]

#: Upper bound of the connect and command timeouts: a store slower than this is worse than none.
MAX_TIMEOUT = 5.0
_QUERY_SECRET = re.compile(r"(?i)((?:^|&)(?:password|username)=)[^&#]*")
_PREFIX_OK = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/")


@dataclass(frozen=True, slots=True, kw_only=True)
class RedisStoreOptions:
    """Every option of :class:`~otel_resilience.store.RedisStateStore`.

    ``connect_timeout`` and ``command_timeout`` bound each round trip (and a call never waits
    for Redis past its own deadline); after a failure the store skips Redis for ``backoff``
    seconds, doubling up to ``max_backoff`` while it keeps failing. Keys start with
    ``prefix:`` and expire ``key_ttl`` seconds after their last write (breakers: at least
    twice their window and longest break). ``ssl_*`` and ``client_options`` go to redis-py.
    """

    url: str
    prefix: str = "otel-resilience"
    sync_interval: float = 0.1
    connect_timeout: float = 0.25
    command_timeout: float = 0.25
    backoff: float = 0.5
    max_backoff: float = 5.0
    key_ttl: float = 3600.0
    ssl_ca_certs: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_cert_reqs: str | None = None
    client_options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.url, str) or not self.url.startswith(
            ("redis://", "rediss://", "unix://")
        ):
            raise ValueError(
                f"url must be a redis://, rediss:// or unix:// URL, got {_safe(self.url)!r}"
            )
        if not isinstance(self.prefix, str) or not self.prefix or set(self.prefix) - _PREFIX_OK:
            raise ValueError(
                "prefix must be a non-empty string of letters, digits and -_.:/, "
                f"got {self.prefix!r}"
            )
        check_seconds("sync_interval", self.sync_interval, positive=True)
        for name in ("connect_timeout", "command_timeout"):
            value = getattr(self, name)
            check_seconds(name, value, positive=True)
            if value > MAX_TIMEOUT:
                raise ValueError(f"{name} must be <= {MAX_TIMEOUT:g} seconds, got {value!r}")
        check_seconds("backoff", self.backoff, positive=True)
        check_seconds("max_backoff", self.max_backoff, positive=True)
        if self.max_backoff < self.backoff:
            raise ValueError(
                f"max_backoff ({self.max_backoff}) must be >= backoff ({self.backoff})"
            )
        check_seconds("key_ttl", self.key_ttl, positive=True)
        if not isinstance(self.client_options, Mapping):
            raise ValueError(f"client_options must be a mapping, got {self.client_options!r}")

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``redis.Redis.from_url`` (and its asyncio twin)."""
        kwargs: dict[str, Any] = {
            "socket_timeout": self.command_timeout,
            "socket_connect_timeout": self.connect_timeout,
        }
        for name in ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_cert_reqs"):
            value = getattr(self, name)
            if value is not None:
                kwargs[name] = value
        kwargs.update(self.client_options)
        return kwargs

    @property
    def safe_url(self) -> str:
        """The URL without its password, for logs and reprs."""
        return _safe(self.url)


def _safe(url: object) -> str:
    if not isinstance(url, str):
        return repr(url)
    scheme, sep, rest = url.partition("://")
    rest, query_sep, query = rest.partition("?")
    if "@" in rest:  # up to the last '@': a password may hold '@' or '/' unencoded
        rest = "***@" + rest.rpartition("@")[2]
    # redis-py also takes the password as a query parameter.
    query = _QUERY_SECRET.sub(r"\1***", query)
    return scheme + sep + rest + query_sep + query
