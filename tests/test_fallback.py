"""Fallback: value, handler and chain; on= and on_result=; telemetry; refusals and cancellation."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from otel_resilience import Pipeline, semconv
from otel_resilience._strategy import UsageError
from otel_resilience.circuit_breaker import CircuitBreaker
from otel_resilience.errors import CircuitOpenError
from otel_resilience.fallback import Fallback, fallback_errors_of
from tests.core_support import http_response


def boom(*_a: Any, **_k: Any) -> Any:
    raise ConnectionError("down")


def used(otel_capture: Any, pipeline: str = "svc") -> int:
    points = otel_capture.metric_points(
        semconv.METRIC_EVENTS,
        **{semconv.PIPELINE_NAME: pipeline, semconv.EVENT: semconv.EVENT_FALLBACK_USED},
    )
    return sum(p.value for p in points)


def test_value_served_on_error(run, fake_clock, otel_capture):
    """value= is returned when the call raises; outcome fallback, index 1, name value."""
    pipeline = Pipeline("svc", Fallback(value="cached"), clock=fake_clock, **otel_capture.providers)
    assert run(pipeline, boom) == "cached"
    attrs = otel_capture.span("svc").attributes
    assert attrs[semconv.OUTCOME] == semconv.OUTCOME_FALLBACK
    assert attrs[semconv.FALLBACK_INDEX] == 1
    assert attrs[semconv.FALLBACK_NAME] == "value"
    assert used(otel_capture) == 1


def test_none_is_a_value(run, fake_clock):
    """value=None is a fallback value, not "no value"."""
    assert run(Pipeline("svc", Fallback(value=None), clock=fake_clock), boom) is None


def test_success_untouched(run, fake_clock, otel_capture):
    """A success is returned as it is: outcome success, no fallback counted, no attributes."""
    called: list[object] = []
    fallback = Fallback(chain=[lambda: called.append(1)])
    pipeline = Pipeline("svc", fallback, clock=fake_clock, **otel_capture.providers)
    assert run(pipeline, lambda: "fresh") == "fresh"
    attrs = otel_capture.span("svc").attributes
    assert attrs[semconv.OUTCOME] == semconv.OUTCOME_SUCCESS
    assert semconv.FALLBACK_INDEX not in attrs
    assert called == []
    assert used(otel_capture) == 0


def test_handler_gets_the_error(run, fake_clock):
    """handler= is called with the exception that ended the call."""
    seen: list[BaseException] = []

    def handler(err: BaseException) -> str:
        seen.append(err)
        return "degraded"

    assert run(Pipeline("svc", Fallback(handler=handler), clock=fake_clock), boom) == "degraded"
    assert len(seen) == 1
    assert isinstance(seen[0], ConnectionError)


def test_handler_gets_a_failed_result(run, fake_clock):
    """A result that is a failure (on_result) reaches the handler, which replaces it."""
    fallback = Fallback(handler=lambda r: f"instead of {r}", on_result=lambda r: r == 503)
    assert run(Pipeline("svc", fallback, clock=fake_clock), lambda: 503) == "instead of 503"


def test_http_error_response_falls_back_by_default(run, fake_clock):
    """Without on_result, the pipeline's predicate (error responses) decides."""
    fallback = Fallback(handler=lambda r: r.status_code)
    assert run(Pipeline("svc", fallback, clock=fake_clock), lambda: http_response(503)) == 503


def test_chain_gets_the_original_arguments(run, fake_clock, otel_capture):
    """Alternatives run in order with the call's arguments; the span names the one that served."""
    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def small(*args: Any, **kwargs: Any) -> Any:
        calls.append(("small", args, kwargs))
        raise TimeoutError("small is slow too")

    def other(*args: Any, **kwargs: Any) -> Any:
        calls.append(("other", args, kwargs))
        return "from other"

    fallback = Fallback(chain=[small, ("other-provider", other)])
    pipeline = Pipeline("svc", fallback, clock=fake_clock, **otel_capture.providers)
    assert run(pipeline, boom, "prompt", model="big") == "from other"
    assert calls == [
        ("small", ("prompt",), {"model": "big"}),
        ("other", ("prompt",), {"model": "big"}),
    ]
    span = otel_capture.span("svc")
    assert span.attributes[semconv.FALLBACK_INDEX] == 2
    assert span.attributes[semconv.FALLBACK_NAME] == "other-provider"
    failed = [e for e in span.events if e.name == semconv.SPAN_EVENT_FALLBACK_FAILED]
    assert len(failed) == 1
    assert failed[0].attributes[semconv.FALLBACK_INDEX] == 1
    assert failed[0].attributes[semconv.FALLBACK_NAME].endswith("small")
    assert failed[0].attributes[semconv.ERROR_TYPE] == "TimeoutError"
    assert failed[0].attributes[semconv.ERROR_CATEGORY] == "timeout"


def test_all_fail_raises_last_with_earlier_attached(run, fake_clock, otel_capture):
    """Every alternative failed: the last error is raised, the earlier ones attached in order."""
    first, second, last = ConnectionError("a"), ValueError("b"), KeyError("c")

    def raising(err: Exception) -> Any:
        def fn(*_a: Any) -> Any:
            raise err

        return fn

    fallback = Fallback(chain=[raising(second), raising(last)])
    pipeline = Pipeline("svc", fallback, clock=fake_clock, **otel_capture.providers)
    err = run.raises(KeyError, pipeline, raising(first))
    assert err is last
    assert fallback_errors_of(err) == (first, second)
    span = otel_capture.span("svc")
    assert span.attributes[semconv.OUTCOME] == semconv.OUTCOME_FAILURE
    assert [
        e.attributes[semconv.FALLBACK_INDEX]
        for e in span.events
        if e.name == semconv.SPAN_EVENT_FALLBACK_FAILED
    ] == [1, 2]
    assert used(otel_capture) == 0


def test_fallback_errors_of_other_exceptions():
    """An exception no Fallback gave up with has no earlier errors."""
    assert fallback_errors_of(ValueError("x")) == ()


def test_on_types_filter(run, fake_clock):
    """on= exception types: other exceptions are raised untouched, without falling back."""
    pipeline = Pipeline("svc", Fallback(value=1, on=[ConnectionError]), clock=fake_clock)
    assert run(pipeline, boom) == 1

    def bug() -> Any:
        raise ZeroDivisionError

    run.raises(ZeroDivisionError, pipeline, bug)


def test_on_categories_and_predicate(run, fake_clock):
    """on= categories use the pipeline's classifier; a predicate decides; a raising one refuses."""
    by_category = Pipeline("svc", Fallback(value=1, on="timeout"), clock=fake_clock)
    run.raises(ConnectionError, by_category, boom)

    def slow() -> Any:
        raise TimeoutError

    assert run(by_category, slow) == 1
    by_pred = Pipeline("svc", Fallback(value=2, on=lambda e: "down" in str(e)), clock=fake_clock)
    assert run(by_pred, boom) == 2

    def broken(_e: BaseException) -> bool:
        raise RuntimeError("predicate bug")

    run.raises(
        ConnectionError, Pipeline("svc", Fallback(value=3, on=broken), clock=fake_clock), boom
    )


def test_empty_on_falls_back_on_nothing(run, fake_clock):
    """An explicit empty on= list falls back on no exception (as Retry's retry_on=[])."""
    run.raises(ConnectionError, Pipeline("svc", Fallback(value=1, on=[]), clock=fake_clock), boom)


def test_open_breaker_falls_back(run, fake_clock, otel_capture):
    """A CircuitOpenError from a breaker further in is a reason to fall back."""
    breaker = CircuitBreaker(name="dep")
    breaker.isolate()
    pipeline = Pipeline(
        "svc", Fallback(value="spare"), breaker, clock=fake_clock, **otel_capture.providers
    )
    assert run(pipeline, lambda: "never") == "spare"
    assert otel_capture.span("svc").attributes[semconv.OUTCOME] == semconv.OUTCOME_FALLBACK


def test_open_breaker_filtered_by_on(run, fake_clock):
    """With on= types that exclude refusals, an open breaker's error goes through."""
    breaker = CircuitBreaker(name="dep")
    breaker.isolate()
    pipeline = Pipeline("svc", Fallback(value=1, on=[ConnectionError]), breaker, clock=fake_clock)
    run.raises(CircuitOpenError, pipeline, lambda: "never")


def test_alternative_behind_its_own_pipeline(run, fake_clock, otel_capture):
    """An alternative decorated with its own Pipeline (its own open breaker) is skipped."""
    own_breaker = CircuitBreaker(name="small")
    own_breaker.isolate()

    @Pipeline("small", own_breaker, clock=fake_clock, **otel_capture.providers)
    def small_model(prompt: str) -> str:
        return "small: " + prompt

    def tiny_model(prompt: str) -> str:
        return "tiny: " + prompt

    fallback = Fallback(chain=[small_model, tiny_model])
    pipeline = Pipeline("svc", fallback, clock=fake_clock, **otel_capture.providers)
    assert run(pipeline, boom, "hi") == "tiny: hi"
    span = otel_capture.span("svc")
    assert span.attributes[semconv.FALLBACK_INDEX] == 2
    failed = [e for e in span.events if e.name == semconv.SPAN_EVENT_FALLBACK_FAILED]
    assert failed[0].attributes[semconv.FALLBACK_NAME].endswith("small_model")
    assert failed[0].attributes[semconv.ERROR_TYPE].endswith("CircuitOpenError")


def test_async_alternatives_serve_async_calls(fake_clock):
    """An async handler and an async alternative serve an async call."""

    async def handler(err: BaseException) -> str:
        return type(err).__name__

    async def alternative(x: int) -> int:
        return x * 2

    async def failing(x: int) -> int:
        raise ConnectionError

    by_handler = Pipeline("svc", Fallback(handler=handler), clock=fake_clock)
    by_chain = Pipeline("svc", Fallback(chain=[alternative]), clock=fake_clock)
    assert asyncio.run(by_handler.acall(failing, 1)) == "ConnectionError"
    assert asyncio.run(by_chain.acall(failing, 21)) == 42


@pytest.mark.filterwarnings("error::RuntimeWarning")  # the coroutine is closed, never leaked
def test_async_alternative_refused_for_sync_call(fake_clock):
    """An async alternative serving a sync call is a clear UsageError naming it."""

    async def alternative() -> str:
        return "never"

    pipeline = Pipeline("svc", Fallback(chain=[alternative]), clock=fake_clock)
    with pytest.raises(UsageError, match=r"alternative.*async calls only"):
        pipeline.call(boom)


def test_keyboard_interrupt_not_served(fake_clock):
    """KeyboardInterrupt is no failure: it goes through, the alternative is not called."""
    called: list[int] = []

    def interrupted() -> Any:
        raise KeyboardInterrupt

    pipeline = Pipeline("svc", Fallback(chain=[lambda: called.append(1)]), clock=fake_clock)
    with pytest.raises(KeyboardInterrupt):
        pipeline.call(interrupted)
    assert called == []


def test_cancellation_not_served(fake_clock):
    """A cancelled async call stays cancelled: the fallback does not serve it."""
    called: list[int] = []

    async def main() -> None:
        started = asyncio.Event()

        async def slow() -> str:
            started.set()
            await asyncio.Event().wait()
            return "never"

        pipeline = Pipeline("svc", Fallback(chain=[lambda: called.append(1)]), clock=fake_clock)
        task = asyncio.create_task(pipeline.acall(slow))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert called == []


def test_usage_error_not_served(fake_clock):
    """Misuse (an async function through call()) is not hidden by a fallback value."""

    async def afn() -> str:
        return "x"

    with pytest.raises(UsageError):
        Pipeline("svc", Fallback(value=1), clock=fake_clock).call(afn)


def test_last_failed_result_is_returned_as_failure(run, fake_clock, otel_capture):
    """All alternatives returned failures (on_result): the last is returned, outcome failure."""
    fallback = Fallback(chain=[lambda: "bad 2"], on_result=lambda r: r.startswith("bad"))
    pipeline = Pipeline("svc", fallback, clock=fake_clock, **otel_capture.providers)
    assert run(pipeline, lambda: "bad 1") == "bad 2"
    span = otel_capture.span("svc")
    assert span.attributes[semconv.OUTCOME] == semconv.OUTCOME_FAILURE
    assert semconv.FALLBACK_INDEX not in span.attributes
    assert used(otel_capture) == 0
