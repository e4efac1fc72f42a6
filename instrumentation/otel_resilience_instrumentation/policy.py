"""Public configuration of the HTTP instrumentors: :class:`HttpPolicy` and where policies come
from (``instrument(policies=...)``, ``OTEL_RESILIENCE_HTTP_*``; see docs/instrumentation.md)."""

from otel_resilience_instrumentation._http.config import ENV_PREFIX, policy_from_env
from otel_resilience_instrumentation._http.policy import (
    IDEMPOTENT_METHODS,
    RETRY_STATUSES,
    HttpPolicy,
)

__all__ = ["ENV_PREFIX", "IDEMPOTENT_METHODS", "RETRY_STATUSES", "HttpPolicy", "policy_from_env"]
