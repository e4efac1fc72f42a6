"""Core behaviour of otel_resilience.classify: stdlib errors, statuses, rules and overrides."""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import json
import socket
import ssl
import subprocess
import sys
import urllib.error
from collections.abc import Callable
from email.message import Message

import pytest

from otel_resilience.classify import (
    DEFAULT_CLASSIFIER,
    CategoryOverride,
    ClassificationRule,
    ErrorCategory,
    ErrorClassifier,
    ErrorInfo,
    Severity,
)

C = ErrorCategory


class Resp:
    """A duck-typed response: a status code attribute plus headers."""

    def __init__(
        self, status: int, headers: dict[str, str] | None = None, attr: str = "status_code"
    ):
        setattr(self, attr, status)
        self.headers = headers or {}


class Hostile(Exception):
    """An exception whose every attribute lookup blows up."""

    def __getattribute__(self, name: str) -> object:
        if name in {"__class__", "__dict__"}:
            return object.__getattribute__(self, name)
        raise RuntimeError(name)


class QuotaError(Exception):
    """A user exception matched by its dotted name."""


def classify(obj: object) -> ErrorInfo:
    return DEFAULT_CLASSIFIER.classify(obj)


@pytest.mark.parametrize(
    ("exc", "category"),
    [
        (TimeoutError(), C.TIMEOUT),
        (asyncio.TimeoutError(), C.TIMEOUT),
        (concurrent.futures.TimeoutError(), C.TIMEOUT),
        (ConnectionRefusedError(), C.CONNECTION),
        (ConnectionResetError(), C.CONNECTION),
        (BrokenPipeError(), C.CONNECTION),
        (socket.gaierror(-2, "Name or service not known"), C.CONNECTION),
        (OSError(errno.ECONNREFUSED, "refused"), C.CONNECTION),
        (OSError(errno.ECONNRESET, "reset"), C.CONNECTION),
        (OSError(errno.EHOSTUNREACH, "no route"), C.CONNECTION),
        (OSError(errno.ETIMEDOUT, "timed out"), C.TIMEOUT),
        (urllib.error.URLError("down"), C.CONNECTION),
        (asyncio.CancelledError(), C.CANCELLED),
        (concurrent.futures.CancelledError(), C.CANCELLED),
    ],
)
def test_stdlib_errors_get_their_category(exc: BaseException, category: ErrorCategory) -> None:
    """Standard-library timeouts, connection errors, errnos and cancellations are recognised."""
    assert classify(exc).category is category


def test_transient_stdlib_errors_are_retryable_but_cancellation_is_not() -> None:
    """Timeouts and connection errors are retried; a cancelled task must not be."""
    assert classify(TimeoutError()).retryable
    assert classify(OSError(errno.ECONNREFUSED, "x")).retryable
    assert not classify(asyncio.CancelledError()).retryable


def test_unrelated_oserror_and_unknown_exceptions_are_unknown_and_not_retried() -> None:
    """A bug-shaped exception is not retried: only known-transient failures are."""
    for exc in (OSError(errno.ENOENT, "missing"), ValueError("boom"), KeyError("k")):
        info = classify(exc)
        assert (info.category, info.retryable, info.alert) == (C.UNKNOWN, False, False)


def test_certificate_failure_is_a_connection_error_not_worth_retrying() -> None:
    """A certificate that does not verify will not verify on the next attempt either."""
    info = classify(ssl.SSLCertVerificationError(1, "certificate verify failed"))
    assert (info.category, info.retryable) == (C.CONNECTION, False)


@pytest.mark.parametrize(
    ("status", "category", "retryable"),
    [
        (400, C.INVALID_REQUEST, False),
        (401, C.AUTH, False),
        (402, C.QUOTA_EXCEEDED, False),
        (403, C.AUTH, False),
        (404, C.NOT_FOUND, False),
        (408, C.TIMEOUT, True),
        (409, C.CONFLICT, True),
        (413, C.INVALID_REQUEST, False),
        (418, C.INVALID_REQUEST, False),
        (422, C.INVALID_REQUEST, False),
        (425, C.CONFLICT, True),
        (429, C.RATE_LIMITED, True),
        (500, C.SERVER_ERROR, True),
        (501, C.SERVER_ERROR, False),
        (502, C.SERVER_ERROR, True),
        (503, C.SERVER_ERROR, True),
        (504, C.TIMEOUT, True),
        (529, C.OVERLOADED, True),
        (200, C.UNKNOWN, False),
    ],
)
def test_status_codes_map_to_the_default_table(
    status: int, category: ErrorCategory, retryable: bool
) -> None:
    """Each HTTP status lands in its documented category with its retryability."""
    info = classify(Resp(status))
    assert (info.category, info.retryable, info.status_code) == (category, retryable, status)


def test_status_attribute_and_response_attribute_are_both_read() -> None:
    """aiohttp-style ``.status`` and exceptions carrying ``.response`` are duck-typed."""
    assert classify(Resp(503, attr="status")).category is C.SERVER_ERROR
    exc = RuntimeError("wrapped")
    exc.response = Resp(429, {"Retry-After": "2"})  # type: ignore[attr-defined]
    info = classify(exc)
    assert (info.category, info.retry_after, info.status_code) == (C.RATE_LIMITED, 2.0, 429)


def test_urllib_http_error_uses_its_code_and_headers() -> None:
    """urllib's HTTPError is read through its status and Retry-After header."""
    headers = Message()
    headers["Retry-After"] = "4"
    exc = urllib.error.HTTPError("http://127.0.0.1/", 503, "unavailable", headers, None)
    info = classify(exc)
    assert (info.category, info.retry_after, info.status_code) == (C.SERVER_ERROR, 4.0, 503)


def test_retry_after_is_ignored_on_errors_that_are_not_retried() -> None:
    """A Retry-After on a 400 is no advice: the request is wrong, not early."""
    assert classify(Resp(400, {"Retry-After": "5"})).retry_after is None


def test_reset_headers_count_only_on_rate_limits() -> None:
    """Provider reset headers ride on every response, so a 500 does not inherit them."""
    headers = {"x-ratelimit-reset-tokens": "6m0s", "x-ratelimit-remaining-tokens": "0"}
    assert classify(Resp(500, headers)).retry_after is None
    assert classify(Resp(429, headers)).retry_after == 360.0


def test_provider_body_codes_beat_the_status() -> None:
    """An error body's code refines the status: quota exhaustion is not a plain rate limit."""
    exc = RuntimeError("x")
    exc.status_code = 429  # type: ignore[attr-defined]
    exc.body = {"error": {"code": "insufficient_quota", "message": "pay up"}}  # type: ignore[attr-defined]
    info = classify(exc)
    assert (info.category, info.retryable, info.alert) == (C.QUOTA_EXCEEDED, False, True)


def test_auth_failures_alert_at_critical_severity() -> None:
    """Credentials problems need an operator, so they alert."""
    info = classify(Resp(401))
    assert (info.severity, info.alert) == (Severity.CRITICAL, True)


def test_user_message_never_echoes_the_exception_text() -> None:
    """The exception text may hold prompts or personal data; the message is canned."""
    secret = "my card is 4111 1111 1111 1111"
    for exc in (ValueError(secret), TimeoutError(secret), ConnectionError(secret)):
        assert secret not in classify(exc).user_message
        assert "4111" not in classify(exc).user_message


def test_unknown_wrapper_takes_the_category_of_its_explicit_cause() -> None:
    """``raise Wrapper() from ConnectionRefusedError()`` fails the way its cause did."""

    class Wrapper(Exception):
        pass

    exc = Wrapper("wrapped")
    exc.__cause__ = ConnectionRefusedError("refused")
    assert classify(exc).category is C.CONNECTION
    exc.__cause__ = None
    assert classify(exc).category is C.UNKNOWN


@pytest.mark.parametrize(
    "make",
    [
        lambda: None,
        lambda: 42,
        lambda: b"\xff",
        object,
        Hostile,
        lambda: type,
        lambda: Resp(429, {"Retry-After": object()}),  # type: ignore[dict-item]
    ],
)
def test_classification_never_raises(make: Callable[[], object]) -> None:
    """Weird objects come back as some ErrorInfo, never as an exception."""
    assert isinstance(classify(make()), ErrorInfo)


def test_hostile_exception_is_unknown() -> None:
    """An object whose attributes raise is classified as unknown."""
    assert classify(Hostile()).category is C.UNKNOWN


def test_plain_classification_returns_a_shared_instance() -> None:
    """The common path allocates nothing: the same ErrorInfo comes back for the same kind."""
    assert classify(TimeoutError("a")) is classify(TimeoutError("b"))


def test_user_rules_run_before_the_defaults_and_in_order() -> None:
    """The first matching user rule wins over both later rules and the built-in table."""
    classifier = ErrorClassifier(
        [
            ClassificationRule(C.OVERLOADED, types=(TimeoutError,), alert=True),
            ClassificationRule(C.UNKNOWN, types=(TimeoutError,)),
        ]
    )
    info = classifier.classify(TimeoutError())
    assert (info.category, info.alert, info.retryable) == (C.OVERLOADED, True, True)


def test_rules_match_by_type_name_status_and_predicate() -> None:
    """Rules match by 'module.QualName', by status and by predicate; all given must match."""
    classifier = ErrorClassifier()
    classifier.add_rule(ClassificationRule("overloaded", status=(503,), retryable=False))
    classifier.add_rule(ClassificationRule(C.QUOTA_EXCEEDED, types=f"{__name__}.QuotaError"))
    classifier.add_rule(
        ClassificationRule(C.TIMEOUT, types=(ValueError,), predicate=lambda e: "slow" in str(e))
    )
    info = classifier.classify(Resp(503))
    assert (info.category, info.retryable) == (C.OVERLOADED, False)
    assert classifier.classify(QuotaError()).category is C.QUOTA_EXCEEDED
    assert classifier.classify(ValueError("too slow")).category is C.TIMEOUT
    assert classifier.classify(ValueError("bad")).category is C.UNKNOWN
    assert DEFAULT_CLASSIFIER.classify(Resp(503)).category is C.SERVER_ERROR


def test_a_predicate_that_raises_is_a_non_match() -> None:
    """A buggy predicate falls through to the defaults instead of crashing."""
    rule = ClassificationRule(C.AUTH, predicate=lambda e: 1 / 0 > 0)
    assert ErrorClassifier([rule]).classify(TimeoutError()).category is C.TIMEOUT


def test_overrides_change_a_whole_category() -> None:
    """Overrides reshape a category's retryability, severity, alert and message."""
    override = CategoryOverride(
        retryable=False, severity="high", alert=True, user_message="Slow down."
    )
    classifier = ErrorClassifier(overrides={"rate_limited": override})
    info = classifier.classify(Resp(429, {"Retry-After": "3"}))
    assert (info.retryable, info.severity, info.alert) == (False, Severity.HIGH, True)
    assert (info.user_message, info.retry_after) == ("Slow down.", 3.0)


def test_override_beats_built_in_refinements_and_rule_fields_beat_overrides() -> None:
    """Precedence is defaults < built-in refinement < override < rule field."""
    classifier = ErrorClassifier(
        [ClassificationRule(C.SERVER_ERROR, status=502, retryable=False)],
        {C.SERVER_ERROR: CategoryOverride(retryable=True)},
    )
    assert classifier.classify(Resp(501)).retryable is True
    assert classifier.classify(Resp(502)).retryable is False


def test_with_rules_leaves_the_original_untouched() -> None:
    """with_rules returns a new classifier; the original keeps its rules."""
    base = ErrorClassifier()
    extended = base.with_rules(ClassificationRule(C.AUTH, types=(KeyError,)))
    assert (len(base.rules), len(extended.rules)) == (0, 1)
    assert extended.classify(KeyError()).category is C.AUTH


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: ClassificationRule(C.AUTH), "types, status or predicate"),
        (lambda: ClassificationRule("nope", status=500), "category"),
        (lambda: ClassificationRule(C.AUTH, status=99), "status"),
        (lambda: ClassificationRule(C.AUTH, status=()), "status"),
        (lambda: ClassificationRule(C.AUTH, status="500"), "status"),
        (lambda: ClassificationRule(C.AUTH, types=("NoModule",)), "types"),
        (lambda: ClassificationRule(C.AUTH, types=(3,)), "types"),
        (lambda: ClassificationRule(C.AUTH, predicate=3), "predicate"),
        (lambda: ClassificationRule(C.AUTH, status=500, severity="huge"), "severity"),
        (lambda: ClassificationRule(C.AUTH, status=500, retryable=1), "retryable"),
        (lambda: ClassificationRule(C.AUTH, status=500, user_message=""), "user_message"),
        (lambda: CategoryOverride(alert="yes"), "alert"),
        (lambda: CategoryOverride(severity="extreme"), "severity"),
        (lambda: CategoryOverride(retryable=0), "retryable"),
        (lambda: CategoryOverride(user_message=" "), "user_message"),
        (lambda: ErrorClassifier(overrides={"bogus": CategoryOverride()}), "overrides"),
        (lambda: ErrorClassifier(overrides={C.AUTH: True}), "overrides"),
        (lambda: ErrorClassifier([object()]), "rules"),
        (lambda: ErrorClassifier(wall_clock=5), "wall_clock"),
    ],
)
def test_invalid_construction_raises_value_error_naming_the_field(build, field: str) -> None:  # type: ignore[no-untyped-def]
    """Bad rules, overrides and classifier arguments fail fast with the field in the message."""
    with pytest.raises(ValueError, match=field):
        build()


def test_enums_are_plain_lowercase_strings() -> None:
    """Category and severity values are the documented telemetry strings."""
    assert str(C.RATE_LIMITED) == "rate_limited" == C.RATE_LIMITED
    assert {s.value for s in Severity} == {"low", "medium", "high", "critical"}


_NO_IMPORT_SCRIPT = """
import errno, sys
from otel_resilience.classify import DEFAULT_CLASSIFIER, ErrorCategory as C

class R:
    status_code = 529
    headers = {"retry-after": "1"}

assert DEFAULT_CLASSIFIER.classify(TimeoutError()).category is C.TIMEOUT
assert DEFAULT_CLASSIFIER.classify(OSError(errno.ECONNRESET, "x")).category is C.CONNECTION
assert DEFAULT_CLASSIFIER.classify(R()).category is C.OVERLOADED
print(sorted(m for m in sys.modules if m.split(".")[0] in {MODULES}))
"""


def test_classification_imports_no_http_or_provider_library() -> None:
    """Recognising library exceptions by name means importing none of those libraries."""
    modules = {"httpx", "httpx2", "requests", "urllib3", "aiohttp", "openai", "anthropic"}
    script = _NO_IMPORT_SCRIPT.replace("{MODULES}", repr(modules))
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(result.stdout.strip().replace("'", '"')) == []
