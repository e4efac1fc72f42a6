"""The LLM examples against the local LLM server: the chat with model fallback (in process, and
as a script starting its own server), the streaming chat with its figures, and the anthropic
breaker per model."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import anthropic
import openai
import pytest
from llm_server import Behaviour, LLMServer

from otel_resilience import semconv
from otel_resilience.testing import FakeClock

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
RUN_TIMEOUT = 60.0  # seconds: a hung run fails the test; it normally takes a few


def _load(name: str) -> ModuleType:
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))  # the examples import their llm_local helper
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


fallback_chat = _load("llm_fallback_chat")
streaming_chat = _load("llm_streaming_chat")
anthropic_breaker = _load("anthropic_breaker")


@pytest.fixture
def instrumented(otel_capture: Any) -> Iterator[Callable[..., Any]]:
    """``instrumented(example, **kwargs)``: the example's ``instrument`` with the capture's
    providers; un-instrumented at teardown."""
    used: list[Any] = []

    def start(example: ModuleType, **kwargs: Any) -> Any:
        instrumentor = example.instrument(**otel_capture.providers, **kwargs)
        used.append(instrumentor)
        return instrumentor

    yield start
    for instrumentor in used:
        instrumentor.uninstrument()


def _client(server: LLMServer, provider: str) -> Any:
    cls: Any = openai.OpenAI if provider == "openai" else anthropic.Anthropic
    url = server.openai_url if provider == "openai" else server.url
    return cls(base_url=url, api_key="sk-local-test")


def test_fallback_chat_falls_back_then_skips_the_open_breaker(
    llm_server: LLMServer, instrumented: Any, fake_clock: FakeClock, otel_capture: Any
) -> None:
    """gpt-4o always 503: two questions cost 2 gpt-4o attempts each before gpt-4o-mini answers,
    then gpt-4o's breaker is open and the third goes to gpt-4o-mini without trying gpt-4o; each
    question is one GenAI span named after gpt-4o."""
    fallback_chat.primary_down(llm_server)
    instrumented(fallback_chat, clock=fake_clock)
    with _client(llm_server, "openai") as client:
        answers = [fallback_chat.ask(client, q) for q in fallback_chat.QUESTIONS]
    assert {(a.model, a.text) for a in answers} == {("gpt-4o-mini", "Hello from gpt-4o-mini.")}
    assert llm_server.count_for(model="gpt-4o") == 4
    assert llm_server.count_for(model="gpt-4o-mini") == 3
    chats = [s for s in otel_capture.spans() if s.name == "chat gpt-4o"]
    assert len(chats) == 3
    assert {s.attributes["gen_ai.response.model"] for s in chats} == {"gpt-4o-mini"}


def test_fallback_chat_script_prints_who_answered() -> None:
    """As a script with no argument it starts the local server and prints the same story."""
    env = {**os.environ, "OTEL_RESILIENCE_EXPORTER": "none"}
    run = subprocess.run(
        [sys.executable, str(EXAMPLES / "llm_fallback_chat.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        "asked gpt-4o, gpt-4o-mini answered: Hello from gpt-4o-mini.",
    ] * 3 + ["requests: gpt-4o 4, gpt-4o-mini 3"]


def test_anthropic_breaker_cuts_off_only_the_overloaded_model(
    llm_server: LLMServer, instrumented: Any, fake_clock: FakeClock, otel_capture: Any
) -> None:
    """claude-sonnet-4-6 always 529: two failed calls (2 attempts each) open its breaker, its
    later calls are rejected without a request, and claude-haiku-4-5 answers every round."""
    anthropic_breaker.overloaded_model(llm_server)
    instrumented(anthropic_breaker, clock=fake_clock)
    busy, steady = anthropic_breaker.BUSY, anthropic_breaker.STEADY
    with _client(llm_server, "anthropic") as client:
        answers = [
            (model, anthropic_breaker.summarise(client, model, "a breaker"))
            for _ in range(4)
            for model in (busy, steady)
        ]
    failed = "failed (OverloadedError, HTTP 529)"
    rejected = "busy (circuit open, no request sent)"
    assert [a for m, a in answers if m == busy] == [failed, failed, rejected, rejected]
    assert [a for m, a in answers if m == steady] == [f"Hello from {steady}."] * 4
    assert (llm_server.count_for(model=busy), llm_server.count_for(model=steady)) == (4, 4)
    spans = otel_capture.spans()
    state = semconv.CIRCUIT_BREAKER_STATE
    assert [s.attributes[state] for s in spans if s.name == f"chat {busy}"][-2:] == ["open"] * 2
    assert {s.attributes[state] for s in spans if s.name == f"chat {steady}"} == {"closed"}


def test_streaming_chat_reports_the_figures_its_stream_measured(
    llm_server: LLMServer, instrumented: Any
) -> None:
    """A 38-word reply after a 50 ms first byte: every word reaches the caller, and the stream's
    metrics show a time to first chunk of at least that delay, every chunk delivered (role, 38
    words, finish; the usage chunk we asked for is hidden and not counted), the 38 output tokens
    the server reported, and a token rate."""
    llm_server.default = Behaviour(delay=0.05, pace=0.002, text=streaming_chat.LOCAL_REPLY)
    instrumented(streaming_chat)
    pieces: list[str] = []
    with _client(llm_server, "openai") as client:
        metrics = streaming_chat.stream_reply(client, "Explain backoff", pieces.append)
    assert "".join(pieces) == streaming_chat.LOCAL_REPLY
    assert metrics.time_to_first_chunk >= 0.05
    assert metrics.chunks == len(streaming_chat.LOCAL_REPLY.split()) + 2
    assert metrics.tokens == len(streaming_chat.LOCAL_REPLY.split())
    assert llm_server.requests[0].json["stream_options"] == {"include_usage": True}
    lines = streaming_chat.summary(metrics)
    assert lines[0].startswith("time to first chunk: ")
    assert lines[-1].startswith("tokens/s: ")
