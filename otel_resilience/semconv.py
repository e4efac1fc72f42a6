"""Every telemetry name otel-resilience emits: spans, attributes, events, metrics and log events.

This module is the single source of truth; ``docs/telemetry.md`` documents each constant and a
test checks that everything emitted is listed here.
"""

from __future__ import annotations

from typing import Final

#: Instrumentation scope name of every tracer, meter and logger the core creates.
SCOPE_NAME: Final = "otel_resilience"

# --- Attributes -------------------------------------------------------------------------------
PIPELINE_NAME: Final = "resilience.pipeline.name"
OUTCOME: Final = "resilience.outcome"
ATTEMPTS: Final = "resilience.attempts"
ATTEMPT_NUMBER: Final = "resilience.attempt.number"
ATTEMPT_DURATION: Final = "resilience.attempt.duration"
ATTEMPT_OUTCOME: Final = "resilience.attempt.outcome"
RETRY_DELAY: Final = "resilience.retry.delay"
#: Why a Retry gave up: one of the ``RETRY_REASON_*`` values.
RETRY_REASON: Final = "resilience.retry.reason"
#: The delay (seconds) a server asked for (Retry-After and similar headers).
RETRY_REQUESTED_DELAY: Final = "resilience.retry.requested_delay"
STRATEGY: Final = "resilience.strategy"
EVENT: Final = "resilience.event"
ERROR_CATEGORY: Final = "resilience.error.category"
ERROR_TYPE: Final = "error.type"  # OpenTelemetry general semantic convention
CIRCUIT_BREAKER_NAME: Final = "resilience.circuit_breaker.name"
CIRCUIT_BREAKER_STATE: Final = "resilience.circuit_breaker.state"
CIRCUIT_BREAKER_PREVIOUS_STATE: Final = "resilience.circuit_breaker.previous_state"
CIRCUIT_BREAKER_RETRY_AFTER: Final = "resilience.circuit_breaker.retry_after"

# --- Values of resilience.outcome -------------------------------------------------------------
OUTCOME_SUCCESS: Final = "success"
OUTCOME_FAILURE: Final = "failure"
OUTCOME_FALLBACK: Final = "fallback"
OUTCOME_REJECTED: Final = "rejected"
#: Every valid value of resilience.outcome; strategies may report no other.
OUTCOMES: Final = frozenset({OUTCOME_SUCCESS, OUTCOME_FAILURE, OUTCOME_FALLBACK, OUTCOME_REJECTED})

# --- Values of resilience.retry.reason ----------------------------------------------------------
RETRY_REASON_ATTEMPTS: Final = "attempts"
RETRY_REASON_DEADLINE: Final = "deadline"
RETRY_REASON_NOT_RETRYABLE: Final = "not_retryable"
RETRY_REASON_RETRY_AFTER_EXCEEDS_MAX_DELAY: Final = "retry_after_exceeds_max_delay"
RETRY_REASON_RETRY_AFTER_EXCEEDS_DEADLINE: Final = "retry_after_exceeds_deadline"

# --- Values of resilience.circuit_breaker.state and .previous_state --------------------------
CIRCUIT_STATE_CLOSED: Final = "closed"
CIRCUIT_STATE_OPEN: Final = "open"
CIRCUIT_STATE_HALF_OPEN: Final = "half_open"

# --- Values of resilience.strategy ------------------------------------------------------------
STRATEGY_RETRY: Final = "retry"
STRATEGY_CIRCUIT_BREAKER: Final = "circuit_breaker"

# --- Values of resilience.event (counter attribute) ---------------------------------------------
EVENT_RETRY: Final = "retry"
EVENT_RETRY_EXHAUSTED: Final = "retry_exhausted"
EVENT_CIRCUIT_OPENED: Final = "circuit_opened"
EVENT_CIRCUIT_HALF_OPENED: Final = "circuit_half_opened"
EVENT_CIRCUIT_CLOSED: Final = "circuit_closed"
EVENT_CIRCUIT_REJECTED: Final = "circuit_rejected"

# --- Span events ------------------------------------------------------------------------------
SPAN_EVENT_ATTEMPT: Final = "resilience.attempt"
SPAN_EVENT_RETRY: Final = "resilience.retry"
SPAN_EVENT_RETRY_EXHAUSTED: Final = "resilience.retry_exhausted"
SPAN_EVENT_CIRCUIT_REJECTED: Final = "resilience.circuit_breaker.rejected"
#: Also the event name of the log record emitted for every breaker transition.
SPAN_EVENT_CIRCUIT_STATE_CHANGE: Final = "resilience.circuit_breaker.state_change"

#: OpenTelemetry's exception event, written by hand when an exception cannot be printed.
SPAN_EVENT_EXCEPTION: Final = "exception"
EXCEPTION_TYPE: Final = "exception.type"
EXCEPTION_MESSAGE: Final = "exception.message"

# --- Log events -------------------------------------------------------------------------------
LOG_EVENT_CIRCUIT_STATE_CHANGE: Final = SPAN_EVENT_CIRCUIT_STATE_CHANGE

# --- Metrics ----------------------------------------------------------------------------------
METRIC_PIPELINE_DURATION: Final = "resilience.pipeline.duration"
METRIC_EVENTS: Final = "resilience.events"
METRIC_CIRCUIT_BREAKER_STATE: Final = "resilience.circuit_breaker.state"

#: Explicit bucket advice (seconds) for resilience.pipeline.duration: 1 ms .. 2 min.
DURATION_BUCKETS: Final = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
)  # fmt: skip

# --- Bulkhead ---
STRATEGY_BULKHEAD: Final = "bulkhead"
#: Attribute: the bulkhead's name (its first pipeline's name unless given).
BULKHEAD_NAME: Final = "resilience.bulkhead.name"
#: Attribute of resilience.bulkhead.queued: seconds the call waited for a permit.
BULKHEAD_WAIT: Final = "resilience.bulkhead.wait"
EVENT_BULKHEAD_REJECTED: Final = "bulkhead_rejected"
SPAN_EVENT_BULKHEAD_QUEUED: Final = "resilience.bulkhead.queued"
SPAN_EVENT_BULKHEAD_REJECTED: Final = "resilience.bulkhead.rejected"
#: Up-down counters (attribute resilience.bulkhead.name): calls running, calls waiting.
METRIC_BULKHEAD_ACTIVE: Final = "resilience.bulkhead.active"
METRIC_BULKHEAD_QUEUED: Final = "resilience.bulkhead.queued"

# --- ResponseCache ---
STRATEGY_CACHE: Final = "cache"
#: Span attribute: how the cache answered the call, one of the ``CACHE_STATUS_*`` values.
CACHE_STATUS: Final = "resilience.cache.status"
#: Attribute of resilience.cache.size: the cache's name (its pipeline's name by default).
CACHE_NAME: Final = "resilience.cache.name"
CACHE_STATUS_HIT: Final = "hit"
CACHE_STATUS_MISS: Final = "miss"
CACHE_STATUS_STALE: Final = "stale"
CACHE_STATUS_BYPASS: Final = "bypass"
EVENT_CACHE_HIT: Final = "cache_hit"
EVENT_CACHE_MISS: Final = "cache_miss"
EVENT_CACHE_STALE_SERVED: Final = "cache_stale_served"
#: Observable gauge: entries held by each cache.
METRIC_CACHE_SIZE: Final = "resilience.cache.size"

# --- Timeout ---
STRATEGY_TIMEOUT: Final = "timeout"
EVENT_TIMEOUT: Final = "timeout"
SPAN_EVENT_TIMEOUT: Final = "resilience.timeout"
#: Attribute of resilience.timeout: the bound that ran out, in seconds.
TIMEOUT_SECONDS: Final = "resilience.timeout.seconds"

# --- RateLimiter ---
STRATEGY_RATE_LIMITER: Final = "rate_limiter"
#: Counter event: a RateLimiter refused a call (RateLimitedError).
EVENT_RATE_LIMITED: Final = "rate_limited"
RATE_LIMITER_NAME: Final = "resilience.rate_limiter.name"
#: Seconds until the refused call would have found a free permit.
RATE_LIMITER_RETRY_AFTER: Final = "resilience.rate_limiter.retry_after"
#: Seconds a call waited for its permit.
RATE_LIMITER_WAIT: Final = "resilience.rate_limiter.wait"
SPAN_EVENT_RATE_LIMITER_REJECTED: Final = "resilience.rate_limiter.rejected"
SPAN_EVENT_RATE_LIMITER_WAITED: Final = "resilience.rate_limiter.waited"

# --- Fallback ---
STRATEGY_FALLBACK: Final = "fallback"
#: 1-based position of the alternative that served (1 for ``value`` and ``handler``).
FALLBACK_INDEX: Final = "resilience.fallback.index"
#: The alternative's name: its given name, else its qualified name (``value`` for a value).
FALLBACK_NAME: Final = "resilience.fallback.name"
EVENT_FALLBACK_USED: Final = "fallback_used"
#: An alternative (or the handler) failed: attempt-like, with its index, name and error.
SPAN_EVENT_FALLBACK_FAILED: Final = "resilience.fallback.failed"

# --- Hedging ---
STRATEGY_HEDGING: Final = "hedging"
#: Counter event: a Hedging started an extra attempt.
EVENT_HEDGE: Final = "hedge"
SPAN_EVENT_HEDGE: Final = "resilience.hedge"
#: Attribute of resilience.hedge: which extra attempt this is (1 for the first hedge).
HEDGE_NUMBER: Final = "resilience.hedge.number"
#: Attribute of resilience.hedge: seconds since the previous attempt started.
HEDGE_DELAY: Final = "resilience.hedge.delay"

# --- Resilience libraries instrumentation ---
# Values of resilience.strategy for decisions of third-party resilience libraries, recorded by
# otel_resilience_instrumentation (tenacity, backoff, stamina, pybreaker).
STRATEGY_TENACITY: Final = "tenacity"
STRATEGY_BACKOFF: Final = "backoff"
STRATEGY_STAMINA: Final = "stamina"
STRATEGY_PYBREAKER: Final = "pybreaker"

# --- HTTP semantic conventions (stable) ---
# Standard OpenTelemetry names emitted by otel_resilience_instrumentation's HTTP client patches
# (one CLIENT span per attempt), plus the instrumentation's own scope name.

#: Instrumentation scope of the HTTP client instrumentors' tracer and meter.
HTTP_SCOPE_NAME: Final = "otel_resilience_instrumentation"
HTTP_REQUEST_METHOD: Final = "http.request.method"
#: The method as sent when it is not a known one (then http.request.method is "_OTHER").
HTTP_REQUEST_METHOD_ORIGINAL: Final = "http.request.method_original"
#: 1, 2, ... on the second, third... attempt of one logical request; absent on the first.
HTTP_REQUEST_RESEND_COUNT: Final = "http.request.resend_count"
HTTP_RESPONSE_STATUS_CODE: Final = "http.response.status_code"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
#: The request URL, user info and sensitive query values redacted.
URL_FULL: Final = "url.full"
URL_SCHEME: Final = "url.scheme"
NETWORK_PROTOCOL_VERSION: Final = "network.protocol.version"
#: Histogram (seconds) of one attempt, failures and exceptions included.
METRIC_HTTP_CLIENT_REQUEST_DURATION: Final = "http.client.request.duration"
#: The semconv explicit bucket advice for http.client.request.duration.
HTTP_DURATION_BUCKETS: Final = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)  # fmt: skip
#: Value of http.request.method (and span name "HTTP") for a method outside the known set.
HTTP_METHOD_OTHER: Final = "_OTHER"
#: Value written in place of redacted user info and sensitive query values in url.full.
REDACTED: Final = "REDACTED"
#: Old (pre-stable) names, emitted beside the stable ones only with
#: OTEL_SEMCONV_STABILITY_OPT_IN=http/dup.
OLD_HTTP_METHOD: Final = "http.method"
OLD_HTTP_URL: Final = "http.url"
OLD_HTTP_STATUS_CODE: Final = "http.status_code"
OLD_NET_PEER_NAME: Final = "net.peer.name"
OLD_NET_PEER_PORT: Final = "net.peer.port"

# --- Policies (policies files, live reload) ---
#: Log event: a policies file was (re)loaded and its pipelines are in use.
LOG_EVENT_CONFIG_RELOADED: Final = "resilience.config.reloaded"
#: Log event (severity ERROR): a changed policies file was invalid; the previous policies stay.
LOG_EVENT_CONFIG_RELOAD_FAILED: Final = "resilience.config.reload_failed"
#: Path of the policies file, as given to load_policies.
CONFIG_FILE: Final = "resilience.config.file"
#: SHA-256 (hex) of the policies file's bytes now in use.
CONFIG_HASH: Final = "resilience.config.hash"
#: Why a reload failed: the file, TOML key or line, and the reason.
CONFIG_ERROR: Final = "resilience.config.error"

# --- RetryBudget ---
#: Value of resilience.retry.reason: the retry budget refused the retry.
RETRY_REASON_BUDGET: Final = "budget"
#: Counter event: a Retry gave up because its RetryBudget refused the retry.
EVENT_RETRY_BUDGET_EXHAUSTED: Final = "retry_budget_exhausted"
#: Attribute: the retry budget's name (its first pipeline's name unless given).
RETRY_BUDGET_NAME: Final = "resilience.retry_budget.name"
#: Observable gauge: tokens left in each retry budget (retries left, for the percent kind).
METRIC_RETRY_BUDGET_TOKENS: Final = "resilience.retry_budget.tokens"

# --- Chaos ---
STRATEGY_CHAOS: Final = "chaos"
#: Counter event: a Chaos injected a fault, a delay or a result (attribute resilience.chaos.kind).
EVENT_CHAOS_INJECTED: Final = "chaos_injected"
#: Span attribute (boolean): a Chaos injected something into this call.
CHAOS_INJECTED: Final = "resilience.chaos.injected"
#: What a Chaos injected: one of the ``CHAOS_KIND_*`` values.
CHAOS_KIND: Final = "resilience.chaos.kind"
CHAOS_KIND_FAULT: Final = "fault"
CHAOS_KIND_LATENCY: Final = "latency"
CHAOS_KIND_RESULT: Final = "result"
#: Span event, one per injection, with resilience.chaos.kind.
SPAN_EVENT_CHAOS: Final = "resilience.chaos"

# --- CircuitBreaker: health probes and adaptive threshold ---
#: Counter events: a health probe of an open breaker passed (it half-opens) or failed.
EVENT_HEALTH_PROBE_PASSED: Final = "health_probe_passed"
EVENT_HEALTH_PROBE_FAILED: Final = "health_probe_failed"
#: Span event (in the call that ran the probe) and log event (always) of a probe's result.
SPAN_EVENT_HEALTH_PROBE: Final = "resilience.circuit_breaker.health_probe"
LOG_EVENT_HEALTH_PROBE: Final = SPAN_EVENT_HEALTH_PROBE
#: Attribute of resilience.circuit_breaker.health_probe: one of the HEALTH_PROBE_* values.
HEALTH_PROBE_RESULT: Final = "resilience.circuit_breaker.health_probe.result"
#: Attribute of resilience.circuit_breaker.health_probe: seconds the probe took.
HEALTH_PROBE_DURATION: Final = "resilience.circuit_breaker.health_probe.duration"
HEALTH_PROBE_PASSED: Final = "passed"
HEALTH_PROBE_FAILED: Final = "failed"
#: Observable gauge (attribute resilience.circuit_breaker.name): an adaptive breaker's ratio.
METRIC_CIRCUIT_BREAKER_THRESHOLD: Final = "resilience.circuit_breaker.threshold"

# --- Health checks and reliability endpoints (issue 11) ---
#: Observable gauge (attributes resilience.health.check, resilience.health.status): 1 for each
#: check's current status, 0 for the others (like the breaker state gauge).
METRIC_HEALTH_STATUS: Final = "resilience.health.status"
#: Histogram (seconds) of one health check run, by check and resulting status.
METRIC_HEALTH_CHECK_DURATION: Final = "resilience.health.check.duration"
#: Log event: a health check's status changed (a recovery is a change back to healthy).
LOG_EVENT_HEALTH_STATUS_CHANGE: Final = "resilience.health.status_change"
#: Attribute: the check's registered name.
HEALTH_CHECK_NAME: Final = "resilience.health.check"
#: Attribute: the check's status, one of the HEALTH_STATUS_* values.
HEALTH_STATUS: Final = "resilience.health.status"
#: Attribute of resilience.health.status_change: the status before the change.
HEALTH_PREVIOUS_STATUS: Final = "resilience.health.previous_status"
HEALTH_STATUS_HEALTHY: Final = "healthy"
HEALTH_STATUS_DEGRADED: Final = "degraded"
HEALTH_STATUS_UNHEALTHY: Final = "unhealthy"
HEALTH_STATUS_UNKNOWN: Final = "unknown"
# --- Error tracking, budgets and profiling (issue 11) ---
#: Log event of each error an ErrorTracker exports (with the exception.* attributes).
LOG_EVENT_ERROR: Final = "resilience.error"
#: OpenTelemetry exception semantic convention: the formatted traceback.
EXCEPTION_STACKTRACE: Final = "exception.stacktrace"
#: Attribute of resilience.error: the error's group (type, user frames, message template).
ERROR_FINGERPRINT: Final = "resilience.error.fingerprint"
#: Attribute of resilience.error: occurrences of the group so far, this one included.
ERROR_GROUP_COUNT: Final = "resilience.error.group.count"
#: Attribute of resilience.error: the breadcrumb trail, oldest first, one string each.
ERROR_BREADCRUMBS: Final = "resilience.error.breadcrumbs"
#: Attribute of resilience.error: the classifier's severity of the error.
ERROR_SEVERITY: Final = "resilience.error.severity"
#: Attribute of resilience.error: true when a pipeline strategy saw it (retried, fell back...).
ERROR_HANDLED: Final = "resilience.error.handled"
#: Counter of tracked errors (attribute resilience.error.category only: bounded cardinality).
METRIC_ERRORS: Final = "resilience.errors"
STRATEGY_BUDGET: Final = "budget"
#: Counter event: a Budget's block used more than a limit (attribute resilience.budget.resource).
EVENT_BUDGET_EXCEEDED: Final = "budget_exceeded"
#: Histogram (ratio used/limit, "1") of each limited resource of a Budget's block.
METRIC_BUDGET_USAGE: Final = "resilience.budget.usage"
#: Attribute: the Budget's name (its pipeline's name, else "budget").
BUDGET_NAME: Final = "resilience.budget.name"
#: Attribute: one of the BUDGET_RESOURCE_* values.
BUDGET_RESOURCE: Final = "resilience.budget.resource"
BUDGET_RESOURCE_DURATION: Final = "duration"
BUDGET_RESOURCE_CPU: Final = "cpu"
BUDGET_RESOURCE_MEMORY: Final = "memory"
#: Span attributes: what the block used (seconds, CPU seconds, bytes).
BUDGET_DURATION: Final = "resilience.budget.duration"
BUDGET_CPU: Final = "resilience.budget.cpu"
BUDGET_MEMORY: Final = "resilience.budget.memory"
#: Span attribute: the resources over their limit (string array).
BUDGET_EXCEEDED: Final = "resilience.budget.exceeded"
#: Attributes of profile spans: the profile's name, the phase, its CPU seconds and memory bytes.
PROFILE_NAME: Final = "resilience.profile.name"
PROFILE_PHASE: Final = "resilience.profile.phase"
PROFILE_CPU: Final = "resilience.profile.cpu"
PROFILE_MEMORY: Final = "resilience.profile.memory"
# --- Safe change: Shadow, Rollout, CanaryAnalysis, ABTest (issue 13) ---
STRATEGY_SHADOW: Final = "shadow"
STRATEGY_ROLLOUT: Final = "rollout"
STRATEGY_CANARY: Final = "canary"
STRATEGY_AB_TEST: Final = "ab_test"
#: Span and metric attribute: which variant served the call (or ran, on a shadow span).
VARIANT: Final = "resilience.variant"
#: Value of resilience.variant for the pipeline's protected function (Shadow, Rollout, canary).
VARIANT_PRIMARY: Final = "primary"
#: Call span attributes: the call was sampled for a shadow call (bool), and whether the shadow
#: call was dropped (bool: every background slot was taken).
SHADOW_SAMPLED: Final = "resilience.shadow.sampled"
SHADOW_DROPPED: Final = "resilience.shadow.dropped"
#: Attribute: the shadow's (or rollout's) candidate name.
SHADOW_NAME: Final = "resilience.shadow.name"
#: Shadow span attribute: the compare function's score of the candidate against the primary.
SHADOW_AGREEMENT: Final = "resilience.shadow.agreement"
#: Name of the span of each shadow call (linked to the call span, never its child).
SPAN_SHADOW: Final = "resilience.shadow"
#: Counter events: a shadow call dropped (no free slot), timed out, or failed.
EVENT_SHADOW_DROPPED: Final = "shadow_dropped"
EVENT_SHADOW_TIMEOUT: Final = "shadow_timeout"
EVENT_SHADOW_FAILED: Final = "shadow_failed"
#: Counter events and log events of a Rollout: the share grew, the candidate was rolled back.
EVENT_ROLLOUT_ADVANCED: Final = "rollout_advanced"
EVENT_ROLLOUT_ROLLED_BACK: Final = "rollout_rolled_back"
LOG_EVENT_ROLLOUT_ADVANCED: Final = "resilience.rollout.advanced"
LOG_EVENT_ROLLOUT_ROLLED_BACK: Final = "resilience.rollout.rolled_back"
#: Attribute: the share of calls routed to the candidate (0 to 1).
ROLLOUT_SHARE: Final = "resilience.rollout.share"
#: Attribute of resilience.rollout.rolled_back: why (one of the ROLLBACK_REASON_* values).
ROLLOUT_REASON: Final = "resilience.rollout.reason"
ROLLBACK_REASON_ERROR_RATE: Final = "error_rate"
ROLLBACK_REASON_LATENCY: Final = "latency"
#: Call span attribute (bool): the candidate failed and the primary served the call.
ROLLOUT_CANDIDATE_FAILED: Final = "resilience.rollout.candidate_failed"
#: Attribute: the A/B test's name.
AB_TEST_NAME: Final = "resilience.ab_test.name"
#: Observable gauge: each rollout's current share (attributes pipeline, variant).
METRIC_ROLLOUT_SHARE: Final = "resilience.rollout.share"
#: Histogram (s) per variant: attributes pipeline, resilience.variant, resilience.outcome.
METRIC_VARIANT_DURATION: Final = "resilience.variant.duration"
#: Histogram (1) of compare scores per shadow candidate: attributes pipeline, variant.
METRIC_VARIANT_AGREEMENT: Final = "resilience.variant.agreement"
#: Histogram of an ABTest's ``metric(result)`` per variant: attributes pipeline, variant.
METRIC_VARIANT_METRIC: Final = "resilience.variant.metric"
# --- SLOs and burn-rate alerts (issue 13) ---
#: Attribute of the SLO gauges: the SLO's name.
SLO_NAME: Final = "resilience.slo.name"
#: Attribute of resilience.slo.burn_rate: the window, one of 5m, 30m, 1h, 6h, 3d.
SLO_BURN_WINDOW: Final = "resilience.slo.burn_window"
#: Attribute of resilience.slo.alert: ``page`` (fast burn) or ``ticket`` (slow burn).
SLO_SEVERITY: Final = "resilience.slo.severity"
SLO_SEVERITY_PAGE: Final = "page"
SLO_SEVERITY_TICKET: Final = "ticket"
#: Observable gauge: share of the error budget left over the window (1 untouched, < 0 spent).
METRIC_SLO_ERROR_BUDGET_REMAINING: Final = "resilience.slo.error_budget.remaining"
#: Observable gauge: error ratio over a window divided by the error budget (1 = on budget).
METRIC_SLO_BURN_RATE: Final = "resilience.slo.burn_rate"
#: Observable gauge: 1 while the multi-window burn-rate alert of a severity fires, else 0.
METRIC_SLO_ALERT: Final = "resilience.slo.alert"
# --- Shared state on Redis (issue 12) ---
#: resilience.strategy value of events counted by a state store (otel_resilience.store).
STRATEGY_STATE_STORE: Final = "state_store"
#: Counter event: a state store command failed or timed out; the strategy decided locally.
EVENT_STATE_STORE_ERROR: Final = "state_store_error"
#: Observable gauge: 1 while the state store reaches its server, 0 while it is failing open.
METRIC_STATE_STORE_CONNECTED: Final = "resilience.state_store.connected"
#: Attribute of the state store's gauge, events and log records: the store's key prefix.
STATE_STORE_PREFIX: Final = "resilience.state_store.prefix"
#: Log events (one each, not one per call): the store lost its server / reached it again.
LOG_EVENT_STATE_STORE_DISCONNECTED: Final = "resilience.state_store.disconnected"
LOG_EVENT_STATE_STORE_RECONNECTED: Final = "resilience.state_store.reconnected"
#: Counter events of a ResponseCache with a shared (Redis) level, strategy ``cache``: a local
#: miss answered by Redis; a miss that waited for another process's call; a value kept local
#: because the codec refused it / because it exceeds ``max_value_bytes``.
EVENT_CACHE_L2_HIT: Final = "cache_l2_hit"
EVENT_CACHE_L2_WAIT: Final = "cache_l2_wait"
EVENT_CACHE_L2_UNENCODABLE: Final = "cache_l2_unencodable"
EVENT_CACHE_L2_TOO_LARGE: Final = "cache_l2_too_large"
# --- LLM instrumentation (issue 10) ---
# GenAI semantic conventions (development status) emitted by the openai and anthropic
# instrumentors of otel_resilience_instrumentation, and their resilience additions.
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_TEMPERATURE: Final = "gen_ai.request.temperature"
GEN_AI_REQUEST_TOP_P: Final = "gen_ai.request.top_p"
GEN_AI_REQUEST_TOP_K: Final = "gen_ai.request.top_k"
GEN_AI_REQUEST_STOP_SEQUENCES: Final = "gen_ai.request.stop_sequences"
GEN_AI_REQUEST_FREQUENCY_PENALTY: Final = "gen_ai.request.frequency_penalty"
GEN_AI_REQUEST_PRESENCE_PENALTY: Final = "gen_ai.request.presence_penalty"
GEN_AI_REQUEST_SEED: Final = "gen_ai.request.seed"
GEN_AI_REQUEST_CHOICE_COUNT: Final = "gen_ai.request.choice.count"
GEN_AI_REQUEST_ENCODING_FORMATS: Final = "gen_ai.request.encoding_formats"
GEN_AI_REQUEST_STREAM: Final = "gen_ai.request.stream"
GEN_AI_RESPONSE_ID: Final = "gen_ai.response.id"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: Final = "gen_ai.usage.cache_creation.input_tokens"
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: Final = "gen_ai.usage.reasoning.output_tokens"
#: Opt-in content (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true): JSON strings.
GEN_AI_INPUT_MESSAGES: Final = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
GEN_AI_SYSTEM_INSTRUCTIONS: Final = "gen_ai.system_instructions"
#: Attribute of gen_ai.client.token.usage: "input" or "output".
GEN_AI_TOKEN_TYPE: Final = "gen_ai.token.type"
GEN_AI_TOKEN_TYPE_INPUT: Final = "input"
GEN_AI_TOKEN_TYPE_OUTPUT: Final = "output"
#: Values of gen_ai.operation.name (count_tokens: anthropic's token counting, no semconv value).
GEN_AI_OPERATION_CHAT: Final = "chat"
GEN_AI_OPERATION_EMBEDDINGS: Final = "embeddings"
GEN_AI_OPERATION_COUNT_TOKENS: Final = "count_tokens"
#: Values of gen_ai.provider.name.
GEN_AI_PROVIDER_OPENAI: Final = "openai"
GEN_AI_PROVIDER_ANTHROPIC: Final = "anthropic"
#: Histogram (s): one per logical LLM operation (retries and fallbacks included).
METRIC_GEN_AI_OPERATION_DURATION: Final = "gen_ai.client.operation.duration"
#: Histogram ({token}): tokens the provider reported, per attempt, by gen_ai.token.type.
METRIC_GEN_AI_TOKEN_USAGE: Final = "gen_ai.client.token.usage"
#: Histograms (s) of streamed operations.
METRIC_GEN_AI_TIME_TO_FIRST_CHUNK: Final = "gen_ai.client.operation.time_to_first_chunk"
METRIC_GEN_AI_TIME_PER_OUTPUT_CHUNK: Final = "gen_ai.client.operation.time_per_output_chunk"
#: The semconv bucket advice of the histograms above.
GEN_AI_DURATION_BUCKETS: Final = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip
GEN_AI_TOKEN_BUCKETS: Final = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)  # fmt: skip
GEN_AI_CHUNK_BUCKETS: Final = (
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5,
)  # fmt: skip
#: Logical span: input + output tokens the provider reported over every attempt and fallback.
LLM_TOKENS_TOTAL: Final = "resilience.llm.tokens.total"
#: Logical span: the part of resilience.llm.tokens.total spent by attempts that did not serve.
LLM_TOKENS_WASTED: Final = "resilience.llm.tokens.wasted"
#: Logical span: the models tried, in order, the last one being the one that served (or failed).
FALLBACK_CHAIN: Final = "resilience.fallback.chain"
#: Span event, one per fallback hop, with resilience.fallback.from/.to/.reason.
SPAN_EVENT_FALLBACK: Final = "resilience.fallback"
FALLBACK_FROM: Final = "resilience.fallback.from"
FALLBACK_TO: Final = "resilience.fallback.to"
#: Why a hop happened: "circuit_open" or the error category that exhausted the retries.
FALLBACK_REASON: Final = "resilience.fallback.reason"
#: Logical span of a stream: how it ended: completed, closed (the caller stopped early),
#: consumer_error (the caller's code raised), failed (mid-stream error), abandoned (collected).
LLM_STREAM_END: Final = "resilience.llm.stream.end"
#: Seconds to a stream's first chunk: on the logical span from the operation's start (retries,
#: backoff and fallbacks included), on the attempt span that served it from that attempt's send.
LLM_TIME_TO_FIRST_CHUNK: Final = "resilience.llm.time_to_first_chunk"
#: Observable gauge: what a provider's rate-limit headers said remains, per provider + model.
METRIC_LLM_RATE_LIMIT_REMAINING: Final = "resilience.llm.rate_limit.remaining"
#: Attribute of resilience.llm.rate_limit.remaining: "requests", "tokens", "input-tokens"...
LLM_RATE_LIMIT_KIND: Final = "resilience.llm.rate_limit.kind"
# --- Streams (issue 10) ---
#: Span (kind INTERNAL) of one monitored stream, from its first read to its end: ``stream {name}``.
SPAN_STREAM: Final = "stream"
#: Attribute: the name given to monitor_stream.
STREAM_NAME: Final = "resilience.stream.name"
#: Attribute: the stream's state (final state on the span; new state on a transition event).
STREAM_STATE: Final = "resilience.stream.state"
#: Attribute of resilience.stream.state_change: the state before the transition.
STREAM_PREVIOUS_STATE: Final = "resilience.stream.previous_state"
#: Values of resilience.stream.state.
STREAM_STATE_IDLE: Final = "idle"
STREAM_STATE_STREAMING: Final = "streaming"
STREAM_STATE_PAUSED: Final = "paused"
STREAM_STATE_COMPLETED: Final = "completed"
STREAM_STATE_CANCELLED: Final = "cancelled"
STREAM_STATE_FAILED: Final = "failed"
#: Span event, one per state transition, with resilience.stream.state and .previous_state.
SPAN_EVENT_STREAM_STATE_CHANGE: Final = "resilience.stream.state_change"
#: Span attributes at the end: chunks, bytes and tokens delivered, seconds to the first chunk,
#: the longest gap between chunks, seconds paused, and tokens per second (average and peak).
STREAM_CHUNKS: Final = "resilience.stream.chunks"
STREAM_BYTES: Final = "resilience.stream.bytes"
STREAM_TOKENS: Final = "resilience.stream.tokens"
STREAM_TIME_TO_FIRST_CHUNK: Final = "resilience.stream.time_to_first_chunk"
STREAM_MAX_GAP: Final = "resilience.stream.max_gap"
STREAM_PAUSED: Final = "resilience.stream.paused"
STREAM_TOKENS_PER_SECOND_AVG: Final = "resilience.stream.tokens_per_second.avg"
STREAM_TOKENS_PER_SECOND_PEAK: Final = "resilience.stream.tokens_per_second.peak"

# --- Exporters distribution (otel-resilience-exporters) ---------------------------------------
# Names emitted only by otel_resilience_exporters, not by the core.

#: Counter of spans, log records and metric points lost before reaching a backend.
METRIC_TELEMETRY_DROPPED: Final = "resilience.telemetry.dropped"
#: Attribute of resilience.telemetry.dropped: "traces", "logs" or "metrics".
TELEMETRY_SIGNAL: Final = "resilience.telemetry.signal"
#: Values of error.type on resilience.telemetry.dropped.
DROP_REASON_QUEUE_FULL: Final = "queue_full"
DROP_REASON_EXPORT_FAILED: Final = "export_failed"
DROP_REASON_SHUTDOWN: Final = "shutdown"
DROP_REASON_REDACTION_FAILED: Final = "redaction_failed"
#: Boolean attribute marking a span that only carries a mirrored log event (trace-only backends).
MIRRORED_EVENT: Final = "resilience.event.mirrored"
