"""Anthropic calls with a circuit breaker per model: one overloaded model is cut off, the other
keeps serving.

The calls below are the plain anthropic client. ``AnthropicInstrumentor().instrument()`` gives
every messages call retries (on 429, 529 overloaded, 5xx, timeouts and connection errors, with
the SDK's own retries switched off) and one breaker per provider + model (docs/llm.md). While a
model's breaker is open its calls fail at once with ``CircuitOpenError`` and never reach the
network; the app answers "busy" instead of waiting.

Without arguments it runs against the tests' local stand-in for the anthropic API, where
claude-sonnet-4-6 answers 529 (overloaded) to everything and claude-haiku-4-5 is fine: sonnet's
first two calls fail after two attempts each, its breaker opens, and its later calls are
rejected without a request, while haiku answers every time::

    python examples/anthropic_breaker.py                       # local stand-in
    ANTHROPIC_API_KEY=sk-ant-... python examples/anthropic_breaker.py https://api.anthropic.com

Spans go to stderr (``pretty``) unless ``OTEL_RESILIENCE_EXPORTER`` names another exporter.
"""

from __future__ import annotations

import sys
from typing import Any

import anthropic
import llm_local
from otel_resilience_instrumentation.anthropic import AnthropicInstrumentor

from otel_resilience import CircuitOpenError

BUSY, STEADY = "claude-sonnet-4-6", "claude-haiku-4-5"
#: Demo settings (docs/llm.md has the defaults and why): two attempts per call with short
#: waits, and a breaker per model that opens once 4 attempts all failed.
RESILIENCE: dict[str, Any] = {
    "max_attempts": 2,
    "base_delay": 0.05,
    "max_delay": 2.0,
    "failure_ratio": 0.9,
    "minimum_calls": 4,
    "break_duration": 60.0,
}
ROUNDS = 4


def instrument(**kwargs: Any) -> AnthropicInstrumentor:
    """Instrument anthropic once, at start-up (``kwargs``: providers, or a test's ``clock``)."""
    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument(**{**RESILIENCE, **kwargs})
    return instrumentor


def summarise(client: anthropic.Anthropic, model: str, text: str) -> str:
    """One line of summary from ``model``, or why there is none."""
    try:
        message = client.messages.create(
            model=model, max_tokens=64, messages=[{"role": "user", "content": f"Summarise: {text}"}]
        )
    except CircuitOpenError:
        return "busy (circuit open, no request sent)"
    except anthropic.APIStatusError as exc:
        return f"failed ({type(exc).__name__}, HTTP {exc.status_code})"
    block = message.content[0]
    return getattr(block, "text", "")


def overloaded_model(server: Any) -> None:
    """The local scenario: every claude-sonnet-4-6 request answers 529."""
    server.model_defaults[BUSY] = llm_local.server_module().overloaded()


def main(argv: list[str]) -> int:
    """Alternate the two models for a few rounds; print each answer."""
    from otel_resilience_exporters import configure

    telemetry = configure(service_name="anthropic-breaker", exporter=llm_local.exporter())
    instrumentor = instrument()
    try:
        with llm_local.provider(argv, "anthropic", overloaded_model) as (base_url, server):
            key = llm_local.api_key("ANTHROPIC_API_KEY")
            with anthropic.Anthropic(base_url=base_url, api_key=key) as client:
                for n in range(1, ROUNDS + 1):
                    for model in (BUSY, STEADY):
                        print(f"round {n} {model}: {summarise(client, model, 'a breaker')}")
            if server is not None:
                sent = {m: server.count_for(model=m) for m in (BUSY, STEADY)}
                print(f"requests: {BUSY} {sent[BUSY]}, {STEADY} {sent[STEADY]}")
    finally:
        instrumentor.uninstrument()
        telemetry.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
