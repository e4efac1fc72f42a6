"""HTTP semantic-convention attributes of a request: method, server, redacted URL."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from otel_resilience import semconv

__all__ = ["KNOWN_METHODS", "SENSITIVE_QUERY_KEYS", "Target", "dup_old_names", "redact_url"]

#: Methods of RFC 9110 and RFC 5789; any other becomes "_OTHER" (semconv: bounded cardinality).
KNOWN_METHODS = frozenset(
    {"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"}
)
#: Query keys whose values are credentials: the semconv list plus common signed-URL and token keys.
SENSITIVE_QUERY_KEYS = frozenset(
    {
        "AWSAccessKeyId",
        "Signature",
        "sig",
        "X-Goog-Signature",
        "X-Amz-Signature",
        "X-Amz-Credential",
        "X-Amz-Security-Token",
        "access_token",
        "api_key",
    }
)
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


#: redact_url's results for URLs that cannot hold a secret it would redact (no user info, no
#: query): a client sends the same few URLs again and again. Cleared when this many.
_PLAIN_URLS: dict[str, str] = {}
_MAX_PLAIN_URLS = 1024


def redact_url(url: str) -> str:
    """``url`` with user info replaced by ``REDACTED:REDACTED`` and sensitive query values by
    ``REDACTED``; unparsable text yields ``""`` rather than a possible secret."""
    redacted = _PLAIN_URLS.get(url)
    if redacted is not None:
        return redacted
    redacted = _redact(url)
    if "@" not in url and "?" not in url:  # nothing secret in it: remember the result
        if len(_PLAIN_URLS) >= _MAX_PLAIN_URLS:
            _PLAIN_URLS.clear()
        _PLAIN_URLS[url] = redacted
    return redacted


def _redact(url: str) -> str:
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            netloc = f"{semconv.REDACTED}:{semconv.REDACTED}@{netloc.rpartition('@')[2]}"
        query = parts.query
        if query:
            pieces = []
            for piece in query.split("&"):
                name, eq, _value = piece.partition("=")
                secret = eq and name in SENSITIVE_QUERY_KEYS
                pieces.append(f"{name}={semconv.REDACTED}" if secret else piece)
            query = "&".join(pieces)
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        return ""


def dup_old_names() -> bool:
    """``True`` when OTEL_SEMCONV_STABILITY_OPT_IN asks for the old HTTP names beside the new."""
    opt_in = os.environ.get("OTEL_SEMCONV_STABILITY_OPT_IN", "")
    return "http/dup" in (part.strip() for part in opt_in.split(","))


class Target:
    """What a request's URL and method say, computed once per logical request."""

    __slots__ = ("_url", "host", "key", "method", "port", "raw_url", "scheme")

    def __init__(
        self,
        method: str,
        raw_url: object,
        host: str,
        port: int | None,
        scheme: str,
        explicit: bool,
    ) -> None:
        self.method = method  # as sent
        self.raw_url = raw_url  # never recorded as is: see url (and str() only then)
        self.host = host  # lower case, "" when the URL has none
        self.port = port  # explicit or the scheme's default
        self.scheme = scheme
        default = _DEFAULT_PORTS.get(scheme)
        # The breaker's name: the host, with ":port" for a non-default port.
        self.key = f"{host}:{port}" if explicit and port != default else host
        self._url: str | None = None

    @classmethod
    def of(
        cls,
        method: str,
        url: object,
        host: str | None = None,
        port: int | None = None,
        scheme: str | None = None,
    ) -> Target:
        """Parse ``url`` (a string, or a client's URL object: its ``str()``) unless the client
        already did (``host``, explicit ``port`` or None, ``scheme``); never raises: a broken
        URL gives an empty host."""
        if host is None or scheme is None:
            try:
                parts = urlsplit(str(url))
                host = parts.hostname or ""
                scheme = parts.scheme
                port = parts.port
            except ValueError:
                host, scheme, port = "", "", None
        scheme = scheme.lower()
        explicit = port is not None
        if port is None:
            port = _DEFAULT_PORTS.get(scheme)
        return cls(method, url, host.lower(), port, scheme, explicit)

    @property
    def url(self) -> str:
        """The redacted URL (computed on first use: only recording spans need it)."""
        url = self._url
        if url is None:
            self._url = url = redact_url(str(self.raw_url))
        return url

    @property
    def semconv_method(self) -> str:
        """The method, or ``_OTHER`` when it is not a known one."""
        upper = self.method.upper()
        return upper if upper in KNOWN_METHODS else semconv.HTTP_METHOD_OTHER

    @property
    def span_name(self) -> str:
        """``{method}``, or ``HTTP`` for an unknown method (the semconv rule)."""
        method = self.semconv_method
        return "HTTP" if method == semconv.HTTP_METHOD_OTHER else method

    def span_attributes(self, dup: bool = False) -> dict[str, Any]:
        """Attributes known before the attempt starts (sampling sees them); ``dup`` adds the
        old names too."""
        method = self.semconv_method
        attrs: dict[str, Any] = {semconv.HTTP_REQUEST_METHOD: method, semconv.URL_FULL: self.url}
        if method == semconv.HTTP_METHOD_OTHER:
            attrs[semconv.HTTP_REQUEST_METHOD_ORIGINAL] = self.method
        if self.host:
            attrs[semconv.SERVER_ADDRESS] = self.host
        if self.port is not None:
            attrs[semconv.SERVER_PORT] = self.port
        if dup:
            attrs[semconv.OLD_HTTP_METHOD] = method
            attrs[semconv.OLD_HTTP_URL] = self.url
            if self.host:
                attrs[semconv.OLD_NET_PEER_NAME] = self.host
            if self.port is not None:
                attrs[semconv.OLD_NET_PEER_PORT] = self.port
        return attrs

    def metric_attributes(self) -> dict[str, Any]:
        """The low-cardinality subset recorded on http.client.request.duration: the
        conventions' default set. ``url.scheme`` is Opt-In there and left out: each attribute
        costs every measurement (the SDK hashes them), and ``server.port`` tells the schemes
        apart in practice."""
        attrs: dict[str, Any] = {semconv.HTTP_REQUEST_METHOD: self.semconv_method}
        if self.host:
            attrs[semconv.SERVER_ADDRESS] = self.host
        if self.port is not None:
            attrs[semconv.SERVER_PORT] = self.port
        return attrs
