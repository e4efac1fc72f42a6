"""Which exceptions a strategy acts on: Retry's ``retry_on``, Fallback's and Hedging's ``on``.

One form for all three: error categories and/or exception types (one, or an iterable of
them), or a predicate on the exception. ``None`` means "not given": each strategy then applies
its own default (Retry: the classifier's ``retryable``; Fallback and Hedging: every failure).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from otel_resilience._util import category_name

if TYPE_CHECKING:
    from otel_resilience._context import CallContext
    from otel_resilience.classify import ErrorClassifier

__all__ = ["ExceptionFilter"]

_log = logging.getLogger(__name__)


class ExceptionFilter:
    """A parsed ``retry_on`` / ``on`` option; ValueError naming ``field`` when malformed."""

    __slots__ = ("categories", "field", "given", "predicate", "types")

    def __init__(self, field: str, value: Any) -> None:
        self.field = field
        self.given = value is not None
        self.types: tuple[type[BaseException], ...] = ()
        self.categories: frozenset[str] = frozenset()
        self.predicate: Callable[[BaseException], bool] | None = None
        if value is None:
            return
        if callable(value) and not isinstance(value, type):
            self.predicate = value
            return
        items = (value,) if isinstance(value, (str, type)) else value
        if not isinstance(items, Iterable):
            raise ValueError(
                f"{field} must be error categories and/or exception types, or a predicate; "
                f"got {value!r}"
            )
        types: list[type[BaseException]] = []
        categories: set[str] = set()
        for item in items:
            if isinstance(item, type) and issubclass(item, BaseException):
                types.append(item)
            elif isinstance(item, str):  # ErrorCategory is a str enum
                categories.add(category_name(field, item))
            else:
                raise ValueError(
                    f"{field} items must be error categories or exception types, got {item!r}"
                )
        self.types, self.categories = tuple(types), frozenset(categories)

    def matches(self, ctx: CallContext, classifier: ErrorClassifier, exc: BaseException) -> bool:
        """Whether a *given* filter selects ``exc`` (an explicit empty list selects nothing).

        A predicate that raises selects nothing: a broken predicate is no new error.
        """
        if self.predicate is not None:
            try:
                return bool(self.predicate(exc))
            except Exception:
                _log.debug("otel-resilience: %s predicate raised", self.field, exc_info=True)
                return False
        if isinstance(exc, self.types):
            return True
        return bool(self.categories) and (
            ctx.classify(classifier, exc).category.value in self.categories
        )
