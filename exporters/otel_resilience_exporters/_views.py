"""Histogram views: second-scaled buckets for durations, token-count buckets for token usage.

The SDK's default buckets (0, 5, 10, 25 ... 10000) suit milliseconds; our histograms, and the
HTTP and GenAI semantic-convention ones, record seconds, so without these views nearly every
request lands in the first bucket.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View

from otel_resilience import semconv

__all__ = ["HISTOGRAM_BUCKETS", "default_views"]

# Boundaries advised by the OpenTelemetry semantic conventions for each instrument.
_HTTP_SECONDS: Final = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
)
_GENAI_SECONDS: Final = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip
_GENAI_FIRST_TOKEN: Final = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)  # fmt: skip
_GENAI_PER_TOKEN: Final = (
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5,
)  # fmt: skip
_GENAI_TOKENS: Final = tuple(float(4**i) for i in range(14))  # 1, 4, 16 ... 67108864

#: Instrument name -> explicit bucket boundaries installed by :func:`default_views`.
HISTOGRAM_BUCKETS: Final[Mapping[str, Sequence[float]]] = {
    semconv.METRIC_PIPELINE_DURATION: semconv.DURATION_BUCKETS,
    "http.client.request.duration": _HTTP_SECONDS,
    "http.server.request.duration": _HTTP_SECONDS,
    "gen_ai.client.operation.duration": _GENAI_SECONDS,
    "gen_ai.server.request.duration": _GENAI_SECONDS,
    "gen_ai.server.time_to_first_token": _GENAI_FIRST_TOKEN,
    "gen_ai.server.time_per_output_token": _GENAI_PER_TOKEN,
    "gen_ai.client.token.usage": _GENAI_TOKENS,
}


def default_views() -> list[View]:
    """One view per entry of :data:`HISTOGRAM_BUCKETS`, matched by instrument name."""
    return [
        View(
            instrument_name=name,
            aggregation=ExplicitBucketHistogramAggregation(boundaries=tuple(bounds)),
        )
        for name, bounds in HISTOGRAM_BUCKETS.items()
    ]
