"""The client-neutral HTTP core every HTTP client instrumentor plugs into (no client imports).

How a client adapter plugs in
-----------------------------
1. At ``_instrument(**kwargs)`` build one runner::

       runner = HttpRunner(
           MyResponseAdapter(),             # a ResponseAdapter for the client's response type
           policies=kwargs.get("policies"),  # Mapping[str, HttpPolicy] | None
           tracer_provider=kwargs.get("tracer_provider"),
           meter_provider=kwargs.get("meter_provider"),
           logger_provider=kwargs.get("logger_provider"),
           clock=kwargs.get("clock"),        # FakeClock in tests, None in production
       )

   Invalid ``policies`` raise ``ValueError``; invalid ``OTEL_RESILIENCE_HTTP_*`` values are
   logged and ignored (:mod:`.config`).

2. Patch the client where each physical request passes (one request, no redirects, response
   headers read, body not yet handed to the caller) and hand every request to the runner::

       def wrapper(wrapped, instance, args, kwargs):
           request = ...  # the client's request object
           info = HttpRequest(method, url, headers, replayable=<body can be sent again>)

           def send(attempt: Attempt):
               # set attempt.headers on the request (trace context of this attempt's span),
               # cap the request's timeouts at attempt.timeout when it is not None,
               # then call the original, unchanged
               return wrapped(*args, **kwargs)

           return runner.send(info, send)          # or: await runner.asend(info, async_send)

   What comes back is exactly what ``send`` returned on the last attempt (the client's own
   response object), or the exception of the last attempt, or
   :class:`~otel_resilience.CircuitOpenError` (no ``send`` at all) while the host's breaker is
   open. Under ``suppress_instrumentation`` / ``suppress_http_instrumentation``, and for a
   host whose policy has ``enabled=False``, ``send`` is called once with
   ``Attempt(1, {}, None)`` and nothing else happens.

3. The ``ResponseAdapter`` tells the core a response's status code, its protocol version and
   arranges ``done(exc_or_None)`` to be called once its body has been consumed, closed, or
   failed (for streaming bodies: wrap the client's stream); that ends the attempt's span.

What the core does around ``send``: one :class:`~otel_resilience.Pipeline` per host key
(``host`` or ``host:port`` for a non-default port) named ``HTTP {key}`` (its INTERNAL span is
the logical request), Retry (when the method is idempotent, the body replayable and
``max_attempts > 1``) then the host's CircuitBreaker (from a bounded
``CircuitBreakerRegistry``). Each attempt is one CLIENT span named ``{method}`` with the
stable HTTP semantic-convention attributes (``url.full`` redacted) and
``http.request.resend_count`` from the second attempt on, one ``http.client.request.duration``
measurement, and runs under ``suppress_http_instrumentation()`` so that a contrib
instrumentor patched further in (at the transport) does not add a second CLIENT span.
Responses a retry drops are closed by the pipeline (``otel_resilience._responses``), which
knows the response types of httpx, httpx2, requests and aiohttp; Retry-After is read by the
core's classifier from the response's ``status_code``/``status`` and ``headers``.

Stability: names here are extended, never renamed; adapters import from this package only.
"""

from otel_resilience_instrumentation._http.attrs import SENSITIVE_QUERY_KEYS, Target, redact_url
from otel_resilience_instrumentation._http.config import (
    ENV_PREFIX,
    file_policies,
    load_policies,
    policy_from_env,
)
from otel_resilience_instrumentation._http.policy import (
    IDEMPOTENT_METHODS,
    RETRY_STATUSES,
    HttpPolicy,
)
from otel_resilience_instrumentation._http.runner import HttpRunner
from otel_resilience_instrumentation._http.types import (
    PASS_THROUGH,
    Attempt,
    BodyDone,
    HttpRequest,
    ResponseAdapter,
)

__all__ = [
    "ENV_PREFIX",
    "IDEMPOTENT_METHODS",
    "PASS_THROUGH",
    "RETRY_STATUSES",
    "SENSITIVE_QUERY_KEYS",
    "Attempt",
    "BodyDone",
    "HttpPolicy",
    "HttpRequest",
    "HttpRunner",
    "ResponseAdapter",
    "Target",
    "file_policies",
    "load_policies",
    "policy_from_env",
    "redact_url",
]
