"""Value types of error classification: categories, severities, results, rules and overrides."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum

__all__ = [
    "CategoryOverride",
    "ClassificationRule",
    "ErrorCategory",
    "ErrorInfo",
    "Severity",
    "CATEGORY_DEFAULTS",
]


class ErrorCategory(str, Enum):
    """What kind of failure an error is; the value of ``resilience.error.category``."""

    TIMEOUT = "timeout"
    CONNECTION = "connection"
    RATE_LIMITED = "rate_limited"
    OVERLOADED = "overloaded"
    SERVER_ERROR = "server_error"
    AUTH = "auth"
    QUOTA_EXCEEDED = "quota_exceeded"
    INVALID_REQUEST = "invalid_request"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    CONTEXT_LENGTH = "context_length"
    CONTENT_FILTER = "content_filter"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return self.value


class Severity(str, Enum):
    """How bad an error is for the service that saw it."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    def __str__(self) -> str:
        return self.value


_GENERIC_MESSAGE = "Something went wrong. Please try again later."


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """The classification of one error or response.

    ``retry_after`` is the delay in seconds the server asked for, if any. ``user_message`` is
    safe to show an end user: it never contains the exception text, which may hold prompts or
    personal data. ``alert`` says an operator must act (bad credentials, exhausted quota).
    """

    category: ErrorCategory
    severity: Severity
    retryable: bool
    retry_after: float | None = None
    user_message: str = _GENERIC_MESSAGE
    alert: bool = False
    status_code: int | None = None


# (severity, retryable, alert, user message) per category, before overrides.
CATEGORY_DEFAULTS: dict[ErrorCategory, tuple[Severity, bool, bool, str]] = {
    ErrorCategory.TIMEOUT: (
        Severity.MEDIUM, True, False, "The service took too long to respond. Please try again.",
    ),
    ErrorCategory.CONNECTION: (
        Severity.MEDIUM, True, False, "The service could not be reached. Please try again.",
    ),
    ErrorCategory.RATE_LIMITED: (
        Severity.LOW, True, False, "Too many requests right now. Please wait a moment and retry.",
    ),
    ErrorCategory.OVERLOADED: (
        Severity.MEDIUM, True, False, "The service is busy right now. Please try again shortly.",
    ),
    ErrorCategory.SERVER_ERROR: (
        Severity.HIGH, True, False, "The service had a problem. Please try again later.",
    ),
    ErrorCategory.AUTH: (
        Severity.CRITICAL, False, True, "The service refused our credentials. We are on it.",
    ),
    ErrorCategory.QUOTA_EXCEEDED: (
        Severity.CRITICAL, False, True, "The service quota is used up. We are on it.",
    ),
    ErrorCategory.INVALID_REQUEST: (
        Severity.MEDIUM, False, False, "The request could not be processed.",
    ),
    ErrorCategory.NOT_FOUND: (
        Severity.LOW, False, False, "The requested item was not found.",
    ),
    ErrorCategory.CONFLICT: (
        Severity.LOW, True, False, "The request conflicted with another one. Please try again.",
    ),
    ErrorCategory.CONTEXT_LENGTH: (
        Severity.LOW, False, False, "The input is too long. Please shorten it and try again.",
    ),
    ErrorCategory.CONTENT_FILTER: (
        Severity.LOW, False, False, "The request was declined by the content policy.",
    ),
    ErrorCategory.CANCELLED: (
        Severity.LOW, False, False, "The request was cancelled.",
    ),
    ErrorCategory.REJECTED: (
        Severity.LOW, False, False, "The service is busy right now. Please try again later.",
    ),
    ErrorCategory.UNKNOWN: (
        Severity.MEDIUM, False, False, _GENERIC_MESSAGE,
    ),
}  # fmt: skip


def coerce_category(value: object, field_name: str) -> ErrorCategory:
    """``value`` as an :class:`ErrorCategory`, or ValueError naming ``field_name``."""
    try:
        return ErrorCategory(value)
    except ValueError:
        allowed = ", ".join(c.value for c in ErrorCategory)
        raise ValueError(f"{field_name} must be one of {allowed}; got {value!r}") from None


def _coerce_severity(value: object, field_name: str) -> Severity:
    try:
        return Severity(value)
    except ValueError:
        allowed = ", ".join(s.value for s in Severity)
        raise ValueError(f"{field_name} must be one of {allowed}; got {value!r}") from None


def _check_optional_bool(value: object, field_name: str) -> None:
    if value is not None and not isinstance(value, bool):
        raise ValueError(f"{field_name} must be a bool or None; got {value!r}")


def _check_optional_message(value: object, field_name: str) -> None:
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise ValueError(f"{field_name} must be a non-empty str or None; got {value!r}")


@dataclass(frozen=True)
class CategoryOverride:
    """Changes to the defaults of one category; ``None`` keeps the default."""

    retryable: bool | None = None
    severity: Severity | None = None
    alert: bool | None = None
    user_message: str | None = None

    def __post_init__(self) -> None:
        _check_optional_bool(self.retryable, "retryable")
        _check_optional_bool(self.alert, "alert")
        _check_optional_message(self.user_message, "user_message")
        if self.severity is not None:
            object.__setattr__(self, "severity", _coerce_severity(self.severity, "severity"))


@dataclass(frozen=True)
class ClassificationRule:
    """A user rule, consulted before the built-in defaults.

    It matches when every matcher given matches: ``types`` (exception classes or
    ``"module.QualName"`` strings, compared along the MRO), ``status`` (an HTTP status code or
    several) and ``predicate`` (called with the classified object; an exception inside it counts
    as no match). The result is ``category`` plus any of severity/retryable/alert/user_message,
    which win over both the category defaults and the classifier's overrides.
    """

    category: ErrorCategory
    types: Iterable[type | str] = ()
    status: int | Iterable[int] | None = None
    predicate: Callable[[object], bool] | None = None
    severity: Severity | None = None
    retryable: bool | None = None
    alert: bool | None = None
    user_message: str | None = None
    type_classes: tuple[type, ...] = field(init=False, repr=False, compare=False)
    type_names: frozenset[str] = field(init=False, repr=False, compare=False)
    status_codes: frozenset[int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "category", coerce_category(self.category, "category"))
        if isinstance(self.types, (str, type)):
            types: tuple[object, ...] = (self.types,)
        else:
            try:
                types = tuple(self.types)
            except TypeError:
                raise ValueError(f"types must be an iterable; got {self.types!r}") from None
        for t in types:
            if not (isinstance(t, type) or (isinstance(t, str) and "." in t.strip(". "))):
                raise ValueError(f"types entries must be classes or 'module.QualName'; got {t!r}")
        set_(self, "types", types)
        set_(self, "type_classes", tuple(t for t in types if isinstance(t, type)))
        set_(self, "type_names", frozenset(t for t in types if isinstance(t, str)))
        codes = _status_set(self.status)
        set_(self, "status_codes", codes)
        set_(self, "status", codes or None)  # hashable, whatever iterable was given
        if self.predicate is not None and not callable(self.predicate):
            raise ValueError(f"predicate must be callable; got {self.predicate!r}")
        if not types and not self.status_codes and self.predicate is None:
            raise ValueError("ClassificationRule needs one of types, status or predicate")
        if self.severity is not None:
            set_(self, "severity", _coerce_severity(self.severity, "severity"))
        _check_optional_bool(self.retryable, "retryable")
        _check_optional_bool(self.alert, "alert")
        _check_optional_message(self.user_message, "user_message")


def _status_set(status: object) -> frozenset[int]:
    if status is None:
        return frozenset()
    codes: tuple[object, ...]
    if isinstance(status, int):
        codes = (status,)
    else:
        if not isinstance(status, Iterable) or isinstance(status, (str, bytes)):
            raise ValueError(f"status must be an int or ints; got {status!r}")
        codes = tuple(status)
        if not codes:
            raise ValueError("status must not be empty")
    for code in codes:
        if isinstance(code, bool) or not isinstance(code, int) or not 100 <= code <= 599:
            raise ValueError(f"status codes must be ints in 100..599; got {code!r}")
    return frozenset(codes)  # type: ignore[arg-type]
