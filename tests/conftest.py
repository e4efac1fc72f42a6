"""Shared fixtures: one test body runs for both the sync and the async call site."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import settings

from otel_resilience import Pipeline

# Properties are about values, not speed: a per-example deadline only adds flakes on a loaded
# 2-core CI machine (first examples pay for imports and regex compilation).
settings.register_profile("otel-resilience", deadline=None)
settings.load_profile("otel-resilience")


class Runner:
    """Calls a plain function through a pipeline with ``call`` or, wrapped, with ``acall``."""

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def __call__(self, pipeline: Pipeline, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        if self.mode == "sync":
            return pipeline.call(fn, *args, **kw)

        async def afn(*a: Any, **k: Any) -> Any:
            return fn(*a, **k)

        return asyncio.run(pipeline.acall(afn, *args, **kw))

    def raises(
        self, exc_type: type[BaseException], pipeline: Pipeline, fn: Callable[..., Any]
    ) -> Any:
        """Call and return the exception of ``exc_type`` it must raise."""
        with pytest.raises(exc_type) as info:
            self(pipeline, fn)
        return info.value


@pytest.fixture(params=["sync", "async"])
def run(request: pytest.FixtureRequest) -> Runner:
    """Call through a pipeline synchronously, then (second parametrization) asynchronously."""
    return Runner(request.param)


class Flaky:
    """A dependency that raises the queued errors (or returns queued values), then succeeds."""

    def __init__(self, *outcomes: Any, result: Any = "ok", clock: Any = None, takes: float = 0.0):
        self.outcomes = list(outcomes)
        self.result = result
        self.calls = 0
        self.clock = clock
        self.takes = takes

    def __call__(self) -> Any:
        self.calls += 1
        if self.clock is not None and self.takes:
            self.clock.advance(self.takes)
        if self.outcomes:
            outcome = self.outcomes.pop(0)
            if isinstance(outcome, BaseException):
                raise outcome
            return outcome
        return self.result


@pytest.fixture
def flaky() -> type[Flaky]:
    """The Flaky dependency class."""
    return Flaky
