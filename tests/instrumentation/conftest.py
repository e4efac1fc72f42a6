"""Fixtures for the instrumentation tests: a clean OTEL_* environment, a scripted local server,
and instrumentors that are always un-instrumented at teardown."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from llm_support import (  # noqa: F401  (fixtures of the LLM tests, issue 10)
    anthropic_client,
    async_anthropic_client,
    async_openai_client,
    llm_sdk,
    llm_server,
    no_leak_logs,
    openai_client,
)
from servers import InstrServer, running_server

from otel_resilience import CircuitBreaker
from otel_resilience.testing import FakeClock

INSTRUMENTORS = {
    "httpx": ("otel_resilience_instrumentation.httpx", "ResilienceHttpxInstrumentor"),
    "httpx2": ("otel_resilience_instrumentation.httpx2", "ResilienceHttpx2Instrumentor"),
    "aiohttp": (
        "otel_resilience_instrumentation.aiohttp_client",
        "ResilienceAiohttpClientInstrumentor",
    ),
    "requests": ("otel_resilience_instrumentation.requests", "ResilienceRequestsInstrumentor"),
    "openai": ("otel_resilience_instrumentation.openai", "OpenAIInstrumentor"),
    "anthropic": ("otel_resilience_instrumentation.anthropic", "AnthropicInstrumentor"),
}


@pytest.fixture(autouse=True)
def _clean_otel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts without OTEL_* variables from the machine."""
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)


@pytest.fixture
def server() -> Iterator[InstrServer]:
    """A scripted server on 127.0.0.1, answering 200 by default."""
    with running_server() as httpd:
        yield httpd


@pytest.fixture
def instrument(otel_capture: Any, fake_clock: FakeClock) -> Iterator[Callable[..., Any]]:
    """``instrument(name, **kwargs)``: instrument library ``name`` with the capture's providers
    and the FakeClock (unless given); every instrumentor used is un-instrumented at teardown."""
    used: list[Any] = []

    def start(name: str, **kwargs: Any) -> Any:
        module, cls = INSTRUMENTORS[name]
        instrumentor = getattr(importlib.import_module(module), cls)()
        kwargs = {**otel_capture.providers, "clock": fake_clock, **kwargs}
        instrumentor.instrument(**kwargs)
        used.append(instrumentor)
        return instrumentor

    yield start
    for instrumentor in used:
        instrumentor.uninstrument()


@pytest.fixture
def fast_successes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Permits of the successes a breaker counted without a pipeline (the HTTP lane or the
    general path's fast success), in order."""
    seen: list[int] = []
    original = CircuitBreaker._closed_success

    def spy(self: CircuitBreaker, permit: int) -> None:
        seen.append(permit)
        original(self, permit)

    monkeypatch.setattr(CircuitBreaker, "_closed_success", spy)
    return seen
