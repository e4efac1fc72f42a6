"""The GenAI metrics of the LLM instrumentors (issue 10) carry the semantic conventions' names,
units and bucket advice (checked on what the SDK's reader collected, not on our constants), and
the rate-limit gauge."""

from __future__ import annotations

import pytest
from llm_support import CHAT, MESSAGE, make_client

from otel_resilience import semconv

#: The conventions' values, written out here on purpose (a wrong constant must fail the test).
EXPECTED = {
    "gen_ai.client.operation.duration": (
        "s",
        [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92],
    ),
    "gen_ai.client.token.usage": (
        "{token}",
        [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216,
         67108864],
    ),
    "gen_ai.client.operation.time_to_first_chunk": (
        "s",
        [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92],
    ),
    "gen_ai.client.operation.time_per_output_chunk": (
        "s",
        [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5],
    ),
}  # fmt: skip


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_genai_metrics_names_units_and_buckets(llm_server, instrument, otel_capture, provider):
    """One streamed call records the four GenAI histograms (no other gen_ai.* metric), each
    with the conventions' unit and bucket boundaries."""
    instrument(provider)
    with make_client(llm_server, provider) as client:
        if provider == "openai":
            assert list(client.chat.completions.create(**CHAT, stream=True))
        else:
            assert list(client.messages.create(**MESSAGE, stream=True))
    data = otel_capture.metric_reader.get_metrics_data()
    found = {
        m.name: m
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name.startswith("gen_ai.")
    }
    assert set(found) == set(EXPECTED)
    for name, (unit, bounds) in EXPECTED.items():
        metric = found[name]
        assert metric.unit == unit, name
        assert all(list(p.explicit_bounds) == bounds for p in metric.data.data_points), name


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_anthropic_rate_limit_headers_feed_the_gauge(llm_server, instrument, otel_capture, stream):
    """anthropic-ratelimit-*-remaining of a response (a stream's too) are gauge points per
    provider + model + kind."""
    from llm_server import ok, ratelimit_headers

    instrument("anthropic")
    llm_server.script(ok(headers=ratelimit_headers("anthropic", requests=5, tokens=700)))
    with make_client(llm_server, "anthropic") as client:
        result = client.messages.create(**MESSAGE, stream=stream)
        if stream:
            assert list(result)
    points = {
        p.attributes[semconv.LLM_RATE_LIMIT_KIND]: p.value
        for p in otel_capture.metric_points(
            semconv.METRIC_LLM_RATE_LIMIT_REMAINING,
            **{
                semconv.GEN_AI_PROVIDER_NAME: "anthropic",
                semconv.GEN_AI_REQUEST_MODEL: MESSAGE["model"],
            },
        )
    }
    assert points == {"requests": 5, "tokens": 700}
