"""An openai app with no telemetry and no resilience code: only openai client calls.

Run it under ``opentelemetry-instrument`` with otel-resilience-instrumentation installed, and
each chat call becomes one GenAI span (model, token usage, breaker state) with one HTTP span per
attempt under it, a rate-limited call is retried by our pipeline (the SDK's own retries off,
so attempts never multiply), and streams are measured, configured from the environment alone::

    OTEL_PYTHON_DISTRO=otel_resilience OTEL_SERVICE_NAME=chat-app \
    OTEL_RESILIENCE_EXPORTER=jsonl OTEL_RESILIENCE_JSONL_PATH=/tmp/telemetry.jsonl \
    OTEL_RESILIENCE_LLM_BASE_DELAY=0.05 \
    OPENAI_BASE_URL=http://127.0.0.1:8000/v1 OPENAI_API_KEY=sk-local \
    opentelemetry-instrument python examples/zero_code_llm_app.py

The openai SDK reads ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY`` itself (start the tests' local
stand-in with ``python tests/instrumentation/llm_server.py``). The app asks one question, streams
a second answer, and embeds two sentences; it prints one line per call.
"""

from __future__ import annotations

import sys

from openai import OpenAI

MODEL = "gpt-4o-mini"
EMBEDDINGS_MODEL = "text-embedding-3-small"
TIMEOUT = 10.0  # seconds, per request


def run(client: OpenAI) -> list[str]:
    """The app's calls; one line per call."""
    lines = []
    question = [{"role": "user", "content": "What does a circuit breaker do?"}]
    completion = client.chat.completions.create(model=MODEL, messages=question)  # type: ignore[arg-type]
    lines.append(f"chat: {completion.model} said {completion.choices[0].message.content!r}")
    pieces = []
    stream = client.chat.completions.create(model=MODEL, messages=question, stream=True)  # type: ignore[arg-type]
    with stream:
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                pieces.append(chunk.choices[0].delta.content)
    lines.append(f"stream: {len(pieces)} chunks, {''.join(pieces)!r}")
    vectors = client.embeddings.create(model=EMBEDDINGS_MODEL, input=["one", "two"])
    lines.append(f"embeddings: {len(vectors.data)} vectors of {len(vectors.data[0].embedding)}")
    return lines


def main() -> int:
    """Run the calls and print what each returned."""
    with OpenAI(timeout=TIMEOUT) as client:
        for line in run(client):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
