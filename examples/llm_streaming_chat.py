"""A streaming chat that prints the reply as it arrives, then its time to first chunk and tokens
per second, as measured by the stream otel-resilience hands back.

The chat code is the plain openai client with ``stream=True``. Once
``OpenAIInstrumentor().instrument()`` ran, the stream returned is a proxy of the SDK's own
(same iteration, ``with``, ``close()``, ``.response``) that adds ``.metrics`` (time to first
chunk, gaps, chunks, output tokens, tokens per second with paused time left out), ``pause()``,
``resume()`` and ``cancel()``; a stall before the first chunk is retried, a stall after it
raises a timeout error, and the GenAI span ends exactly once however the stream ends
(docs/llm.md, docs/streams.md).

Without arguments it runs against the tests' local stand-in for the openai API, which answers
after 0.2 s and then sends one word every 20 ms::

    python examples/llm_streaming_chat.py                      # local stand-in
    OPENAI_API_KEY=sk-... python examples/llm_streaming_chat.py https://api.openai.com/v1

Spans go to stderr (``pretty``) unless ``OTEL_RESILIENCE_EXPORTER`` names another exporter.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import llm_local
from openai import OpenAI
from otel_resilience_instrumentation.openai import OpenAIInstrumentor

MODEL = "gpt-4o-mini"
QUESTION = "Explain exponential backoff with jitter in a few sentences."
#: The local stand-in's answer: 38 words, one chunk each.
LOCAL_REPLY = (
    "Exponential backoff waits longer after each failure: jitter spreads the retries of many"
    " clients over time so that they do not hit a recovering service all at once, which would"
    " otherwise fail again under the same synchronised load."
)


def instrument(**kwargs: Any) -> OpenAIInstrumentor:
    """Instrument openai once, at start-up (``kwargs``: providers, options, a test's ``clock``)."""
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(**kwargs)
    return instrumentor


def stream_reply(client: OpenAI, question: str, show: Callable[[str], None]) -> Any:
    """Stream one reply, passing each piece of text to ``show``; the stream's metrics."""
    stream = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": question}], stream=True
    )
    with stream:
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                show(chunk.choices[0].delta.content)
    return stream.metrics  # type: ignore[attr-defined]  # added by the instrumentation


def summary(metrics: Any) -> list[str]:
    """The figures worth printing: time to first chunk, chunks, tokens and the rates."""
    lines = [f"time to first chunk: {metrics.time_to_first_chunk:.3f} s"]
    counted = "" if metrics.tokens is None else f", output tokens: {metrics.tokens}"
    lines.append(f"chunks: {metrics.chunks}{counted}")
    if metrics.tokens_per_second_avg is not None:
        lines.append(
            f"tokens/s: {metrics.tokens_per_second_avg:.1f} average, "
            f"{metrics.tokens_per_second_peak:.1f} peak"
        )
    elif metrics.elapsed > 0:  # no token count from the stream: its chunk rate instead
        lines.append(f"chunks/s: {metrics.chunks / metrics.elapsed:.1f} average")
    return lines


def slow_model(server: Any) -> None:
    """The local scenario: first byte after 0.2 s, then a word every 20 ms."""
    server.default = llm_local.server_module().Behaviour(delay=0.2, pace=0.02, text=LOCAL_REPLY)


def main(argv: list[str]) -> int:
    """Stream one reply to the terminal and print its figures."""
    from otel_resilience_exporters import configure

    telemetry = configure(service_name="streaming-chat", exporter=llm_local.exporter())
    instrumentor = instrument()
    try:
        key = llm_local.api_key("OPENAI_API_KEY")
        with (
            llm_local.provider(argv, "openai", slow_model) as (base_url, _),
            OpenAI(base_url=base_url, api_key=key) as client,
        ):
            metrics = stream_reply(client, QUESTION, lambda text: print(text, end="", flush=True))
        print()
        for line in summary(metrics):
            print(line)
    finally:
        instrumentor.uninstrument()
        telemetry.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
