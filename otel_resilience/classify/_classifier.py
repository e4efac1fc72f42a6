"""ErrorClassifier: user rules first, then the built-in tables."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import TypeVar

from ..errors import RetryExhaustedError
from ._headers import from_headers, header_dict
from ._model import (
    CATEGORY_DEFAULTS,
    CategoryOverride,
    ClassificationRule,
    ErrorCategory,
    ErrorInfo,
    coerce_category,
)
from ._tables import (
    ERRNO_CATEGORIES,
    STATUS_NOT_RETRYABLE,
    TYPE_TABLE,
    category_for_code,
    category_for_message,
    category_for_status,
)

__all__ = ["DEFAULT_CLASSIFIER", "ErrorClassifier"]

_C = ErrorCategory
_MISSING = object()
_MAX_CAUSE_DEPTH = 3
# Categories whose wait advice is worth reading even when the result is not retryable.
_WAIT_CATEGORIES = frozenset({_C.RATE_LIMITED, _C.OVERLOADED})
_REQUEST_CATEGORIES = frozenset({_C.INVALID_REQUEST, _C.NOT_FOUND})

# category, retryable override, status code, headers object
_V = TypeVar("_V")
_Resolution = tuple[ErrorCategory, bool | None, int | None, object]


class ErrorClassifier:
    """Maps an exception or a response to an :class:`ErrorInfo`; never raises.

    ``rules`` are consulted in order before the built-in defaults; ``overrides`` change the
    defaults of whole categories. ``wall_clock`` (epoch seconds) is read only to turn
    date-valued headers into delays.
    """

    __slots__ = ("_overrides", "_retryable_overridden", "_rules", "_templates", "_wall_clock")

    def __init__(
        self,
        rules: Iterable[ClassificationRule] = (),
        overrides: Mapping[ErrorCategory | str, CategoryOverride] | None = None,
        *,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if not callable(wall_clock):
            raise ValueError(f"wall_clock must be callable; got {wall_clock!r}")
        self._wall_clock = wall_clock
        self._rules: tuple[ClassificationRule, ...] = ()
        for rule in rules:
            self.add_rule(rule)
        checked: dict[ErrorCategory, CategoryOverride] = {}
        for key, override in (overrides or {}).items():
            category = coerce_category(key, "overrides")
            if not isinstance(override, CategoryOverride):
                raise ValueError(f"overrides values must be CategoryOverride; got {override!r}")
            checked[category] = override
        self._overrides = MappingProxyType(checked)
        self._retryable_overridden = frozenset(
            c for c, o in checked.items() if o.retryable is not None
        )
        self._templates = {c: _template(c, checked.get(c)) for c in ErrorCategory}

    @property
    def rules(self) -> tuple[ClassificationRule, ...]:
        """The user rules, in the order they are consulted."""
        return self._rules

    @property
    def overrides(self) -> Mapping[ErrorCategory, CategoryOverride]:
        """The per-category overrides (read-only)."""
        return self._overrides

    def add_rule(self, rule: ClassificationRule) -> None:
        """Append ``rule`` to the user rules, which are all consulted before the defaults."""
        if not isinstance(rule, ClassificationRule):
            raise ValueError(f"rules must be ClassificationRule instances; got {rule!r}")
        self._rules = (*self._rules, rule)  # copy-on-write: classify() may run concurrently

    def with_rules(self, *rules: ClassificationRule) -> ErrorClassifier:
        """A new classifier with this one's rules, then ``rules``, and the same overrides."""
        overrides = dict[ErrorCategory | str, CategoryOverride](self._overrides.items())
        return ErrorClassifier((*self._rules, *rules), overrides, wall_clock=self._wall_clock)

    def classify(self, obj: object) -> ErrorInfo:
        """Classify an exception, a response (``status_code``/``status`` + ``headers``) or
        anything else (``unknown``)."""
        try:
            return self._classify(obj)
        except Exception:  # a hostile object must not break the caller's error handling
            return self._templates[_C.UNKNOWN]

    def _classify(self, obj: object) -> ErrorInfo:
        status, headers = _status_and_headers(obj)
        for rule in self._rules:
            if _rule_matches(rule, obj, status):
                return self._info(rule.category, None, status, headers, rule)
        category, retryable, status, headers = _resolve(obj, status, headers, 0)
        return self._info(category, retryable, status, headers, None)

    def _info(
        self,
        category: ErrorCategory,
        builtin_retryable: bool | None,
        status: int | None,
        headers: object,
        rule: ClassificationRule | None,
    ) -> ErrorInfo:
        base = self._templates[category]
        retryable = base.retryable
        if builtin_retryable is not None and category not in self._retryable_overridden:
            retryable = builtin_retryable
        severity, alert, message = base.severity, base.alert, base.user_message
        if rule is not None:
            retryable = retryable if rule.retryable is None else rule.retryable
            severity = severity if rule.severity is None else rule.severity
            alert = alert if rule.alert is None else rule.alert
            message = message if rule.user_message is None else rule.user_message
        retry_after = None
        if headers is not None and (retryable or category in _WAIT_CATEGORIES):
            found = header_dict(headers)
            if found:
                # Provider reset headers ride on every response; only a 429 makes them advice.
                reset = category is _C.RATE_LIMITED
                retry_after = from_headers(found, None, self._wall_clock, reset=reset)
        if status is None and retry_after is None and rule is None and retryable == base.retryable:
            return base  # shared immutable instance: the common path allocates nothing
        return ErrorInfo(category, severity, retryable, retry_after, message, alert, status)

    def __repr__(self) -> str:
        return f"ErrorClassifier(rules={len(self._rules)}, overrides={sorted(self._overrides)})"


def _template(category: ErrorCategory, override: CategoryOverride | None) -> ErrorInfo:
    severity, retryable, alert, message = CATEGORY_DEFAULTS[category]
    if override is not None:
        severity = severity if override.severity is None else override.severity
        retryable = retryable if override.retryable is None else override.retryable
        alert = alert if override.alert is None else override.alert
        message = message if override.user_message is None else override.user_message
    return ErrorInfo(category, severity, retryable, None, message, alert, None)


def _attr(obj: object, name: str) -> object:
    try:
        return getattr(obj, name, None)
    except Exception:  # properties of half-built exceptions may raise
        return None


def _int_status(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
        return value
    return None


def _status_and_headers(obj: object) -> tuple[int | None, object]:
    for target in (obj, _attr(obj, "response")):
        if target is None:
            continue
        status = _int_status(_attr(target, "status_code")) or _int_status(_attr(target, "status"))
        if status is not None:
            headers = _attr(target, "headers")
            if headers is None and target is obj:
                headers = _attr(_attr(obj, "response"), "headers")
            return status, headers
    return None, None


# Per-type caches: classes are few and long-lived; the bound only stops a leak when classes are
# made dynamically.
_CACHE_LIMIT = 1024
_NAMES_CACHE: dict[type, frozenset[str]] = {}
_TYPE_CACHE: dict[type, tuple[ErrorCategory | None, bool | None]] = {}


def _mro_names(cls: type) -> frozenset[str]:
    """Every ``module.QualName`` (and ``package.QualName``) along ``cls``'s MRO."""
    cached = _NAMES_CACHE.get(cls)
    if cached is not None:
        return cached
    names: set[str] = set()
    for klass in cls.__mro__:
        module, qualname = klass.__module__, klass.__qualname__
        names.add(f"{module}.{qualname}")
        names.add(f"{module.partition('.')[0]}.{qualname}")
    return _remember(_NAMES_CACHE, cls, frozenset(names))


def _type_resolution(cls: type) -> tuple[ErrorCategory | None, bool | None]:
    """The first built-in entry along ``cls``'s MRO; ``(None, None)`` when none applies."""
    cached = _TYPE_CACHE.get(cls)
    if cached is not None:
        return cached
    found: tuple[ErrorCategory | None, bool | None] = (None, None)
    for klass in cls.__mro__:
        key = (klass.__module__.partition(".")[0], klass.__qualname__)
        if key in TYPE_TABLE:
            found = TYPE_TABLE[key]
            break
    return _remember(_TYPE_CACHE, cls, found)


def _remember(cache: dict[type, _V], cls: type, value: _V) -> _V:
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[cls] = value
    return value


def _rule_matches(rule: ClassificationRule, obj: object, status: int | None) -> bool:
    if rule.status_codes and status not in rule.status_codes:
        return False
    if rule.types and not (
        (rule.type_classes and isinstance(obj, rule.type_classes))
        or (rule.type_names and not rule.type_names.isdisjoint(_mro_names(type(obj))))
    ):
        return False
    if rule.predicate is not None:
        try:
            return bool(rule.predicate(obj))
        except Exception:  # a buggy predicate is a non-match, not a crash in the error path
            return False
    return True


def _resolve(obj: object, status: int | None, headers: object, depth: int) -> _Resolution:
    if isinstance(obj, RetryExhaustedError) and depth < _MAX_CAUSE_DEPTH:
        # A wrapped give-up fails the way its last attempt did.
        last = obj.last_error if obj.last_error is not None else obj.last_result
        last_status, last_headers = _status_and_headers(last)
        return _resolve(last, last_status, last_headers, depth + 1)
    type_category, retryable = _type_resolution(type(obj))
    code_category = _provider_category(obj, status)
    if code_category is not None:
        return code_category, None, status, headers
    if type_category is not None:
        return type_category, retryable, status, headers
    if status is not None:
        category = category_for_status(status)
        return category, (False if status in STATUS_NOT_RETRYABLE else None), status, headers
    if isinstance(obj, OSError) and obj.errno in ERRNO_CATEGORIES:
        return ERRNO_CATEGORIES[obj.errno], None, None, None
    cause = _attr(obj, "__cause__")
    if isinstance(cause, BaseException) and depth < _MAX_CAUSE_DEPTH:
        # An unknown wrapper raised "from" a known error fails the way its cause did.
        cause_status, cause_headers = _status_and_headers(cause)
        return _resolve(cause, cause_status, cause_headers, depth + 1)
    return _C.UNKNOWN, None, None, None


def _provider_category(obj: object, status: int | None) -> ErrorCategory | None:
    """What an OpenAI/Anthropic-style error body says; the exception's own text is not read."""
    try:
        body = getattr(obj, "body", _MISSING)
    except Exception:
        return None
    if body is _MISSING:  # not a provider SDK error; skips e.g. aiohttp's deprecated .code
        return None
    codes: list[object] = [_attr(obj, "error_code"), _attr(obj, "code"), _attr(obj, "type")]
    messages: list[object] = []
    if isinstance(body, Mapping):
        for err in (body, body.get("error")):
            if isinstance(err, Mapping):
                details, inner = err.get("details"), err.get("innererror")
                for extra in (details, inner):
                    if isinstance(extra, Mapping):
                        codes += [extra.get("error_code"), extra.get("code")]
                codes += [err.get("code"), err.get("type")]
                messages.append(err.get("message"))
    for code in codes:
        if isinstance(code, str) and (category := category_for_code(code)) is not None:
            return category
    if status is None or category_for_status(status) in _REQUEST_CATEGORIES:
        for message in messages:
            if isinstance(message, str) and (category := category_for_message(message)):
                return category
    return None


#: A shared classifier with no user rules; build your own to add rules or overrides.
DEFAULT_CLASSIFIER = ErrorClassifier()
