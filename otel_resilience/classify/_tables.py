"""The built-in knowledge: exception families, errnos, HTTP statuses and provider error codes.

Exception classes are named, never imported, so classifying costs no third-party imports.
Names are ``(top-level package, qualname)`` so both ``openai.RateLimitError`` and
``openai._exceptions.RateLimitError`` match whichever module a version reports.
"""

from __future__ import annotations

import errno

from ._model import ErrorCategory

__all__ = [
    "ERRNO_CATEGORIES",
    "STATUS_NOT_RETRYABLE",
    "TYPE_TABLE",
    "USE_STATUS",
    "category_for_code",
    "category_for_message",
    "category_for_status",
]

_C = ErrorCategory
#: Marks exception families whose category comes from the status code they carry.
USE_STATUS = None

# (package, qualname) -> (category or USE_STATUS, retryable override or None).
TYPE_TABLE: dict[tuple[str, str], tuple[ErrorCategory | None, bool | None]] = {
    # Our own refusals: a decision of a strategy, never a verdict on the dependency.
    ("otel_resilience", "RejectedError"): (_C.REJECTED, False),
    ("otel_resilience", "ResilienceTimeoutError"): (_C.TIMEOUT, None),
    # Our misuse errors (call() of an async function...): a bug in the calling code.
    ("otel_resilience", "UsageError"): (_C.INVALID_REQUEST, False),
    # Standard library. asyncio/socket/concurrent timeouts are TimeoutError on 3.11+.
    ("asyncio", "CancelledError"): (_C.CANCELLED, None),
    ("asyncio", "TimeoutError"): (_C.TIMEOUT, None),
    ("concurrent", "CancelledError"): (_C.CANCELLED, None),
    ("concurrent", "TimeoutError"): (_C.TIMEOUT, None),
    ("builtins", "KeyboardInterrupt"): (_C.CANCELLED, None),
    ("builtins", "TimeoutError"): (_C.TIMEOUT, None),
    ("builtins", "ConnectionError"): (_C.CONNECTION, None),
    ("socket", "gaierror"): (_C.CONNECTION, None),
    ("ssl", "SSLCertVerificationError"): (_C.CONNECTION, False),
    ("http", "IncompleteRead"): (_C.CONNECTION, None),
    ("urllib", "HTTPError"): (USE_STATUS, None),
    ("urllib", "URLError"): (_C.CONNECTION, None),
    # httpx (and httpx2, which newer provider SDKs ship with).
    ("httpx", "TimeoutException"): (_C.TIMEOUT, None),
    ("httpx", "NetworkError"): (_C.CONNECTION, None),
    ("httpx", "RemoteProtocolError"): (_C.CONNECTION, None),
    ("httpx", "ProxyError"): (_C.CONNECTION, None),
    ("httpx", "UnsupportedProtocol"): (_C.INVALID_REQUEST, None),
    ("httpx", "LocalProtocolError"): (_C.INVALID_REQUEST, None),
    ("httpx", "InvalidURL"): (_C.INVALID_REQUEST, None),
    ("httpx", "TooManyRedirects"): (_C.INVALID_REQUEST, None),
    ("httpx", "HTTPStatusError"): (USE_STATUS, None),
    # urllib3 (under requests).
    ("urllib3", "TimeoutError"): (_C.TIMEOUT, None),
    ("urllib3", "NewConnectionError"): (_C.CONNECTION, None),
    ("urllib3", "ProtocolError"): (_C.CONNECTION, None),
    ("urllib3", "SSLError"): (_C.CONNECTION, False),
    ("urllib3", "LocationParseError"): (_C.INVALID_REQUEST, None),
    # requests. ConnectTimeout is both ConnectionError and Timeout; the MRO puts it first.
    ("requests", "ConnectTimeout"): (_C.TIMEOUT, None),
    ("requests", "Timeout"): (_C.TIMEOUT, None),
    ("requests", "SSLError"): (_C.CONNECTION, False),
    ("requests", "ConnectionError"): (_C.CONNECTION, None),
    ("requests", "ChunkedEncodingError"): (_C.CONNECTION, None),
    ("requests", "HTTPError"): (USE_STATUS, None),
    ("requests", "RetryError"): (USE_STATUS, None),
    ("requests", "TooManyRedirects"): (_C.INVALID_REQUEST, None),
    ("requests", "URLRequired"): (_C.INVALID_REQUEST, None),
    ("requests", "InvalidURL"): (_C.INVALID_REQUEST, None),
    ("requests", "MissingSchema"): (_C.INVALID_REQUEST, None),
    ("requests", "InvalidSchema"): (_C.INVALID_REQUEST, None),
    ("requests", "InvalidHeader"): (_C.INVALID_REQUEST, None),
    # aiohttp
    ("aiohttp", "ServerTimeoutError"): (_C.TIMEOUT, None),
    ("aiohttp", "ClientSSLError"): (_C.CONNECTION, False),
    ("aiohttp", "ServerFingerprintMismatch"): (_C.CONNECTION, False),
    ("aiohttp", "ClientConnectionError"): (_C.CONNECTION, None),
    ("aiohttp", "ClientPayloadError"): (_C.CONNECTION, None),
    ("aiohttp", "ClientResponseError"): (USE_STATUS, None),
    ("aiohttp", "InvalidURL"): (_C.INVALID_REQUEST, None),
    ("aiohttp", "TooManyRedirects"): (_C.INVALID_REQUEST, None),
    # openai and anthropic share their generator's exception names.
    **{
        (sdk, name): entry
        for sdk in ("openai", "anthropic")
        for name, entry in {
            "APITimeoutError": (_C.TIMEOUT, None),
            "APIConnectionError": (_C.CONNECTION, None),
            "APIStatusError": (USE_STATUS, None),
            "APIResponseValidationError": (_C.SERVER_ERROR, False),
            "APIError": (USE_STATUS, None),
        }.items()
    },
    ("openai", "ContentFilterFinishReasonError"): (_C.CONTENT_FILTER, None),
    ("openai", "LengthFinishReasonError"): (_C.CONTEXT_LENGTH, None),
}
for _key in [k for k in TYPE_TABLE if k[0] == "httpx"]:
    TYPE_TABLE[("httpx2", _key[1])] = TYPE_TABLE[_key]

ERRNO_CATEGORIES: dict[int, ErrorCategory] = {
    code: category
    for name, category in (
        ("ETIMEDOUT", _C.TIMEOUT),
        ("ECONNREFUSED", _C.CONNECTION),
        ("ECONNRESET", _C.CONNECTION),
        ("ECONNABORTED", _C.CONNECTION),
        ("EHOSTUNREACH", _C.CONNECTION),
        ("EHOSTDOWN", _C.CONNECTION),
        ("ENETUNREACH", _C.CONNECTION),
        ("ENETDOWN", _C.CONNECTION),
        ("ENETRESET", _C.CONNECTION),
        ("EPIPE", _C.CONNECTION),
        ("ENOTCONN", _C.CONNECTION),
        ("EADDRNOTAVAIL", _C.CONNECTION),
    )
    if (code := getattr(errno, name, None)) is not None
}

_STATUS: dict[int, ErrorCategory] = {
    400: _C.INVALID_REQUEST,
    401: _C.AUTH,
    402: _C.QUOTA_EXCEEDED,
    403: _C.AUTH,
    404: _C.NOT_FOUND,
    408: _C.TIMEOUT,
    409: _C.CONFLICT,
    410: _C.NOT_FOUND,
    413: _C.INVALID_REQUEST,
    422: _C.INVALID_REQUEST,
    425: _C.CONFLICT,
    429: _C.RATE_LIMITED,
    499: _C.CANCELLED,
    504: _C.TIMEOUT,
    529: _C.OVERLOADED,
}
#: Server errors that will not go away on a retry of the same request.
STATUS_NOT_RETRYABLE = frozenset({501, 505})


def category_for_status(status: int) -> ErrorCategory:
    """The category of an HTTP status code; successes and redirects are ``unknown``."""
    category = _STATUS.get(status)
    if category is not None:
        return category
    if 500 <= status <= 599:
        return _C.SERVER_ERROR
    if 400 <= status <= 499:
        return _C.INVALID_REQUEST
    return _C.UNKNOWN


# Machine-readable codes and types from OpenAI/Anthropic error bodies, lower case.
_CODES: dict[str, ErrorCategory] = {
    "context_length_exceeded": _C.CONTEXT_LENGTH,
    "content_filter": _C.CONTENT_FILTER,
    "content_policy_violation": _C.CONTENT_FILTER,
    "responsibleaipolicyviolation": _C.CONTENT_FILTER,
    "overloaded_error": _C.OVERLOADED,
    "insufficient_quota": _C.QUOTA_EXCEEDED,
    "billing_error": _C.QUOTA_EXCEEDED,
    "billing_hard_limit_reached": _C.QUOTA_EXCEEDED,
    "rate_limit_exceeded": _C.RATE_LIMITED,
    "rate_limit_error": _C.RATE_LIMITED,
    "authentication_error": _C.AUTH,
    "invalid_api_key": _C.AUTH,
    "permission_error": _C.AUTH,
    "not_found_error": _C.NOT_FOUND,
    "model_not_found": _C.NOT_FOUND,
    "timeout_error": _C.TIMEOUT,
    # Mid-stream SSE error events carry no status: their type is all there is (issue 10).
    "server_error": _C.SERVER_ERROR,
    "api_error": _C.SERVER_ERROR,
}

# Phrases of provider error bodies that carry no code for these cases; consulted only for
# request errors (4xx without a more specific code), never on the exception's own text.
_CONTEXT_PHRASES = (
    "prompt is too long",
    "maximum context length",
    "context length",
    "context window",
    "input is too long",
    "too many tokens",
)
_FILTER_PHRASES = ("content management policy", "content policy", "content filter")


def category_for_code(code: str) -> ErrorCategory | None:
    """The category a provider error code or type names, if it names one."""
    return _CODES.get(code.lower())


def category_for_message(message: str) -> ErrorCategory | None:
    """``context_length`` or ``content_filter`` when a provider error message says so."""
    text = message[:2000].lower()
    if any(p in text for p in _CONTEXT_PHRASES):
        return _C.CONTEXT_LENGTH
    if any(p in text for p in _FILTER_PHRASES):
        return _C.CONTENT_FILTER
    return None
