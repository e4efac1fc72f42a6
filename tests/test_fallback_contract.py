"""The contract pieces Fallback added: Substitute's state, sees_refusals, async substitutes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from otel_resilience import Pipeline
from otel_resilience._strategy import DecidingStrategy, Decision, Substitute, UsageError
from otel_resilience.errors import RejectedError
from otel_resilience.fallback import Fallback, fallback_errors_of


class Counting(DecidingStrategy):
    """Substitutes ``alt`` with state 1, 2, ... and records the state each hook sees."""

    __slots__ = ("seen",)

    def __init__(self) -> None:
        super().__init__()
        self._entry = None
        self.seen: list[Any] = []

    def on_failure(self, ctx: Any, state: Any, exc: Any, result: Any) -> Decision | None:
        self.seen.append(state)
        n = 0 if state is None else state
        return Substitute(lambda: "alt" if n >= 2 else boom(), n + 1) if n < 3 else None


class SeeingRefusals(Counting):
    """Counting, with refusals reaching ``on_failure``."""

    __slots__ = ()
    sees_refusals = True


def boom(*_a: Any) -> Any:
    raise ConnectionError


def refused(*_a: Any) -> Any:
    raise RejectedError("full")


def test_substitute_carries_state(run):
    """A Substitute's state replaces the call's state for the hooks that follow."""
    strategy = Counting()
    assert run(Pipeline("svc", strategy), boom) == "alt"
    assert strategy.seen == [None, 1, 2]


def test_refusals_reach_on_failure_only_when_asked(run):
    """A RejectedError reaches on_failure with sees_refusals, else it is abandoned."""
    plain = Counting()
    run.raises(RejectedError, Pipeline("svc", plain), refused)
    assert plain.seen == []
    seeing = SeeingRefusals()
    assert run(Pipeline("svc", seeing), refused) == "alt"
    assert seeing.seen == [None, 1, 2]


def test_async_substitute_in_async_call_is_awaited():
    """An async substitute serving an async call is awaited (no UsageError)."""

    async def alt() -> str:
        return "async alt"

    async def afail() -> str:
        raise ConnectionError

    assert asyncio.run(Pipeline("svc", Fallback(chain=[alt])).acall(afail)) == "async alt"


def test_hostile_exception_still_raised(run):
    """An exception refusing new attributes is still raised as it is when all fail."""

    class Sealed(Exception):
        __slots__ = ()

        def __setattr__(self, name: str, value: Any) -> None:
            raise AttributeError("sealed")

    sealed = Sealed()

    def raise_sealed(*_a: Any) -> Any:
        raise sealed

    err = run.raises(Sealed, Pipeline("svc", Fallback(chain=[raise_sealed])), boom)
    assert err is sealed
    assert fallback_errors_of(err) == ()


def test_usage_error_from_alternative_not_masked(run):
    """Misuse inside an alternative surfaces; the next alternative is not tried."""
    called: list[int] = []

    def misuse(*_a: Any) -> Any:
        raise UsageError("wrong call")

    pipeline = Pipeline("svc", Fallback(chain=[misuse, lambda: called.append(1)]))
    with pytest.raises(UsageError):
        run(pipeline, boom)
    assert called == []
