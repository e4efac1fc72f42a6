"""A chat with model fallback: when gpt-4o keeps failing, the same request goes to gpt-4o-mini.

The chat code below is the plain openai client. One ``OpenAIInstrumentor().instrument(
fallbacks=...)`` at start-up gives every chat call retries per model (with the SDK's own
retries switched off, so attempts never multiply), a circuit breaker per model, and the fallback
chain; ``completion.model`` says who served, and the GenAI span records the chain (docs/llm.md).

Without arguments it runs against the tests' local stand-in for the openai API, where gpt-4o
answers 503 to everything: the first two questions each cost two gpt-4o attempts before falling
back, after which gpt-4o's breaker is open and the third question goes to gpt-4o-mini at once::

    python examples/llm_fallback_chat.py                       # local stand-in
    OPENAI_API_KEY=sk-... python examples/llm_fallback_chat.py https://api.openai.com/v1

Spans go to stderr (``pretty``) unless ``OTEL_RESILIENCE_EXPORTER`` names another exporter.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import llm_local
from openai import OpenAI
from otel_resilience_instrumentation.openai import OpenAIInstrumentor

PRIMARY, BACKUP = "gpt-4o", "gpt-4o-mini"
FALLBACKS = {PRIMARY: [BACKUP]}
#: Demo settings (docs/llm.md has the defaults and why): two attempts per model with short
#: waits, and a breaker that opens once 4 calls to a model all failed.
RESILIENCE: dict[str, Any] = {
    "max_attempts": 2,
    "base_delay": 0.05,
    "max_delay": 2.0,
    "failure_ratio": 0.9,
    "minimum_calls": 4,
    "break_duration": 60.0,
}
QUESTIONS = ["What is a circuit breaker?", "Why add jitter to retries?", "What is a fallback?"]


@dataclass(frozen=True)
class Answer:
    """Which model answered, and what it said."""

    model: str
    text: str


def instrument(**kwargs: Any) -> OpenAIInstrumentor:
    """Instrument openai once, at start-up (``kwargs``: providers, or a test's ``clock``)."""
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(fallbacks=FALLBACKS, **{**RESILIENCE, **kwargs})
    return instrumentor


def ask(client: OpenAI, question: str) -> Answer:
    """One chat turn asked of the primary model."""
    completion = client.chat.completions.create(
        model=PRIMARY, messages=[{"role": "user", "content": question}]
    )
    return Answer(completion.model, completion.choices[0].message.content or "")


def primary_down(server: Any) -> None:
    """The local scenario: every gpt-4o request answers 503, gpt-4o-mini is fine."""
    server.model_defaults[PRIMARY] = llm_local.server_module().server_error(503)


def main(argv: list[str]) -> int:
    """Ask the questions and print who answered each."""
    from otel_resilience_exporters import configure

    telemetry = configure(service_name="fallback-chat", exporter=llm_local.exporter())
    instrumentor = instrument()
    try:
        with llm_local.provider(argv, "openai", primary_down) as (base_url, server):
            with OpenAI(base_url=base_url, api_key=llm_local.api_key("OPENAI_API_KEY")) as client:
                for question in QUESTIONS:
                    answer = ask(client, question)
                    print(f"asked {PRIMARY}, {answer.model} answered: {answer.text}")
            if server is not None:
                tried = {m: server.count_for(model=m) for m in (PRIMARY, BACKUP)}
                print(f"requests: {PRIMARY} {tried[PRIMARY]}, {BACKUP} {tried[BACKUP]}")
    finally:
        instrumentor.uninstrument()
        telemetry.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
