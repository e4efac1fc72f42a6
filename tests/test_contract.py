"""The strategy contract: what a strategy sees, the decisions it may take, the outcomes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from core_support import counted

from otel_resilience import (
    Pipeline,
    Retry,
    RetryExhaustedError,
    semconv,
)
from otel_resilience._strategy import (
    Again,
    CallContext,
    DecidingStrategy,
    Fail,
    Finish,
    Prepare,
    Strategy,
    Substitute,
    Wait,
)


class Scripted(DecidingStrategy):
    """Test-only deciding strategy: answers each hook from a script and records what it saw."""

    def __init__(self, *, enter: Any = (), failure: Any = (), success: Any = ()) -> None:
        super().__init__()
        self.enter_script = list(enter)
        self.failure_script = list(failure)
        self.success_script = list(success)
        self.seen: list[tuple[Any, ...]] = []

    def enter(self, ctx: CallContext) -> Any:
        """The next scripted answer, else a fresh per-call state."""
        self.seen.append(("enter", ctx.fn, ctx.args, ctx.kwargs, ctx.clock, ctx.deadline))
        return self.enter_script.pop(0) if self.enter_script else ["state"]

    def on_success(self, ctx: CallContext, state: Any, result: Any) -> Any:
        """Record the result; the next scripted decision, if any."""
        self.seen.append(("success", state, result))
        return self.success_script.pop(0) if self.success_script else None

    def on_failure(self, ctx: CallContext, state: Any, exc: Any, result: Any) -> Any:
        """Record the failure; the next scripted decision, if any."""
        self.seen.append(("failure", state, exc if exc is not None else result))
        return self.failure_script.pop(0) if self.failure_script else None

    def on_again(self, ctx: CallContext, state: Any) -> None:
        """Record the state a rerun starts with."""
        self.seen.append(("again", state))


# -- what a strategy sees ------------------------------------------------------------------


def test_context_shows_the_call(fake_clock):
    """enter sees the function, its arguments, the pipeline's clock and no deadline by default."""
    strategy = Scripted()
    fn = counted()
    assert Pipeline("p", strategy, clock=fake_clock).call(fn, 1, 2, k="v") == (
        "echo",
        (1, 2),
        {"k": "v"},
    )
    assert strategy.seen[0] == ("enter", fn, (1, 2), {"k": "v"}, fake_clock, None)


def test_async_context_shows_the_call(fake_clock):
    """Under acall the context carries the async function and its arguments."""
    strategy = Scripted()

    async def afn(a: int, *, b: int) -> int:
        return a + b

    assert asyncio.run(Pipeline("p", strategy, clock=fake_clock).acall(afn, 1, b=2)) == 3
    assert strategy.seen[0] == ("enter", afn, (1,), {"b": 2}, fake_clock, None)


class Tighten(DecidingStrategy):
    """Test-only: tightens the call's deadline to ``seconds`` from now."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    def enter(self, ctx: CallContext) -> Any:
        """Tighten the deadline for what runs inside."""
        return ctx.tighten_deadline(ctx.clock.monotonic() + self.seconds)

    def on_success(self, ctx: CallContext, state: Any, result: Any) -> None:
        """Restore the deadline."""
        ctx.restore_deadline(state)

    def on_failure(self, ctx: CallContext, state: Any, exc: Any, result: Any) -> None:
        """Restore the deadline."""
        ctx.restore_deadline(state)


def test_a_tightened_deadline_bounds_inner_retries(run, flaky, fake_clock):
    """A deadline an outer strategy sets on the context stops an inner Retry's retries."""
    dep = flaky(*[TimeoutError() for _ in range(5)])
    retry = Retry(max_attempts=10, base_delay=1.0, jitter=False, on_exhausted="wrap")
    err = run.raises(RetryExhaustedError, Pipeline("p", Tighten(2.5), retry, clock=fake_clock), dep)
    assert err.reason == semconv.RETRY_REASON_DEADLINE
    assert fake_clock.sleeps == [1.0]
    assert dep.calls == 2


# -- decisions -------------------------------------------------------------------------------


def test_finish_from_enter_short_circuits(run, fake_clock, otel_capture):
    """Finish from enter returns its value without calling the function (not an attempt)."""
    fn = counted()
    pipeline = Pipeline("p", Scripted(enter=[Finish("cached")]), **otel_capture.providers)
    assert run(pipeline, fn) == "cached"
    assert fn.calls == []  # type: ignore[attr-defined]
    assert otel_capture.span("p").attributes[semconv.ATTEMPTS] == 0


def test_fail_from_enter_raises_without_calling(run):
    """Fail from enter raises its error and never calls the function."""
    fn = counted()
    error = LookupError("no")
    assert run.raises(LookupError, Pipeline("p", Scripted(enter=[Fail(error)])), fn) is error
    assert fn.calls == []  # type: ignore[attr-defined]


def test_fail_from_a_hook_chains_the_attempts_error(run):
    """Fail from on_failure raises its error with the attempt's exception as its cause."""
    cause = ConnectionError("down")
    pipeline = Pipeline("p", Scripted(failure=[Fail(LookupError("mapped"))]))
    err = run.raises(LookupError, pipeline, counted(cause))
    assert err.__cause__ is cause


def test_wait_from_enter_sleeps_then_asks_again(run, fake_clock):
    """Wait from enter sleeps on the pipeline clock and asks enter again before calling."""
    strategy = Scripted(enter=[Wait(2.0), Wait(0.5)])
    fn = counted()
    assert run(Pipeline("p", strategy, clock=fake_clock), fn) == ("echo", (), {})
    assert fake_clock.sleeps == [2.0, 0.5]
    assert [s[0] for s in strategy.seen] == ["enter", "enter", "enter", "success"]
    assert len(fn.calls) == 1  # type: ignore[attr-defined]


def test_prepare_from_enter_runs_first_and_answers_for_enter(run, fake_clock):
    """Prepare runs its sync part in sync calls, awaits its async part in async calls; what it
    returns stands for enter's answer (a Wait included), and enter is not asked again."""
    ran: list[str] = []

    def prepare(ctx: CallContext) -> Any:
        ran.append("sync")
        return Wait(1.0) if len(ran) == 1 else "prepared"

    async def aprepare(ctx: CallContext) -> Any:
        ran.append("async")
        await asyncio.sleep(0)
        return Wait(1.0) if len(ran) == 1 else "prepared"

    strategy = Scripted(enter=[Prepare(prepare, aprepare), Prepare(prepare, aprepare)])
    assert run(Pipeline("p", strategy, clock=fake_clock), counted()) == ("echo", (), {})
    assert ran == ([run.mode] * 2)
    assert fake_clock.sleeps == [1.0]
    assert [s[0] for s in strategy.seen] == ["enter", "enter", "success"]
    assert strategy.seen[-1][1] == "prepared"


def test_again_reruns_with_the_new_state(run, fake_clock):
    """Again sleeps its delay, hands on_again the new state and runs the function again."""
    strategy = Scripted(failure=[Again(1.5, "second")])
    fn = counted(TimeoutError())
    assert run(Pipeline("p", strategy, clock=fake_clock), fn) == ("echo", (), {})
    assert fake_clock.sleeps == [1.5]
    assert strategy.seen[-2:] == [("again", "second"), ("success", "second", ("echo", (), {}))]


def test_substitute_calls_another_function_with_the_same_arguments(fake_clock):
    """Substitute calls its function with the call's arguments; its result goes through hooks."""
    strategy = Scripted(failure=[Substitute(lambda *a, **k: ("backup", a, k))])
    pipeline = Pipeline("p", strategy, clock=fake_clock)
    assert pipeline.call(counted(ConnectionError()), 1, k=2) == ("backup", (1,), {"k": 2})
    assert strategy.seen[-1][0] == "success"


def test_substitute_under_acall_takes_async_and_plain_functions(fake_clock):
    """Under acall a substitute may be an async function or a plain one returning a value."""

    async def backup(x: int) -> str:
        return f"async {x}"

    def plain(x: int) -> str:
        return f"plain {x}"

    async def down(x: int) -> str:
        raise ConnectionError

    for substitute, expected in ((backup, "async 7"), (plain, "plain 7")):
        strategy = Scripted(failure=[Substitute(substitute)])
        pipeline = Pipeline("p", strategy, clock=fake_clock)
        assert asyncio.run(pipeline.acall(down, 7)) == expected
        assert strategy.seen[-1] == ("success", ["state"], expected)


def test_failing_substitute_goes_through_on_failure(run):
    """A substitute that raises is a failure like the call's own: on_failure sees it."""
    second = KeyError("backup down")
    strategy = Scripted(failure=[Substitute(counted(second))])
    assert run.raises(KeyError, Pipeline("p", strategy), counted(ConnectionError())) is second
    assert strategy.seen[-1] == ("failure", ["state"], second)


def test_concurrent_calls_keep_their_own_state(fake_clock):
    """Two calls in flight at once through one strategy each see only their own state."""

    class PerCall(Scripted):
        def enter(self, ctx: CallContext) -> Any:
            return [ctx.args[0]]

        def on_failure(self, ctx: CallContext, state: Any, exc: Any, result: Any) -> Any:
            return Again(1.0, [*state, ctx.args[0]]) if len(state) < 3 else None

        def on_success(self, ctx: CallContext, state: Any, result: Any) -> Any:
            return Finish((result, state))

    async def fail_twice(tag: str, seen: dict[str, int]) -> str:
        seen[tag] = seen.get(tag, 0) + 1
        await asyncio.sleep(0)
        if seen[tag] < 3:
            raise ConnectionError
        return tag

    async def main() -> list[Any]:
        pipeline = Pipeline("p", PerCall(), clock=fake_clock)
        seen: dict[str, int] = {}
        return await asyncio.gather(
            pipeline.acall(fail_twice, "a", seen), pipeline.acall(fail_twice, "b", seen)
        )

    assert asyncio.run(main()) == [("a", ["a", "a", "a"]), ("b", ["b", "b", "b"])]


# -- outcomes -----------------------------------------------------------------------------


class Weird(Strategy):
    """Test-only shaping strategy that writes an outcome outside the valid set."""

    def _run(self, nxt: Callable[[], Any], ctx: CallContext) -> Any:
        ctx.outcome = "weird"
        return nxt()

    async def _arun(self, nxt: Callable[[], Any], ctx: CallContext) -> Any:
        ctx.outcome = "weird"
        return await nxt()


def test_an_unknown_outcome_still_ends_and_exports_the_span(run, otel_capture):
    """A strategy writing an invalid outcome does not leave the call's span open and lost."""
    assert run(Pipeline("p", Weird(), **otel_capture.providers), lambda: "ok") == "ok"
    span = otel_capture.span("p")
    assert span.end_time is not None
    assert span.attributes[semconv.PIPELINE_NAME] == "p"


def test_set_outcome_accepts_only_the_semconv_values(fake_clock):
    """ctx.set_outcome refuses a value outside semconv.OUTCOMES with a ValueError."""
    seen: list[str] = []

    class Reporter(DecidingStrategy):
        def enter(self, ctx: CallContext) -> Any:
            for outcome in sorted(semconv.OUTCOMES):
                ctx.set_outcome(outcome)
                seen.append(outcome)
            with pytest.raises(ValueError, match="outcome"):
                ctx.set_outcome("weird")
            return None

    Pipeline("p", Reporter(), clock=fake_clock).call(lambda: None)
    assert seen == sorted(semconv.OUTCOMES)
    assert {"success", "failure", "fallback", "rejected"} == semconv.OUTCOMES
