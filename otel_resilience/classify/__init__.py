"""Error classification: what kind of failure an exception or response is, and what to do.

``ErrorClassifier().classify(exc_or_response)`` returns an :class:`ErrorInfo` with a category
(attached to telemetry as ``resilience.error.category``), a severity, whether a retry can help,
how long the server asked us to wait, a message safe to show users, and whether to alert.
Third-party exception types are recognised by name, so nothing here imports httpx, requests,
aiohttp, openai or anthropic. See ``docs/error-classification.md``.
"""

from __future__ import annotations

from ._classifier import DEFAULT_CLASSIFIER, ErrorClassifier
from ._headers import parse_retry_after
from ._model import CategoryOverride, ClassificationRule, ErrorCategory, ErrorInfo, Severity
from ._results import FAILURE_STATUSES, is_http_failure

__all__ = [
    "DEFAULT_CLASSIFIER",
    "FAILURE_STATUSES",
    "CategoryOverride",
    "ClassificationRule",
    "ErrorCategory",
    "ErrorClassifier",
    "ErrorInfo",
    "Severity",
    "is_http_failure",
    "parse_retry_after",
]
