"""Responses a user expects to be failures, with real HTTP clients against a local server.

Every test runs once per client (httpx and httpx2, sync and async, requests, aiohttp): the
server on 127.0.0.1 answers a script of statuses, the pipeline's FakeClock absorbs every wait.
By default 408, 429 and 5xx responses (but 501 and 505) are failures: retried, counted by
breakers, outcome ``failure`` when the last attempt still returns one. Other 4xx are results.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from http_support import (
    CLIENTS,
    STREAMING_CLIENTS,
    Reply,
    ScriptedServer,
    Streamed,
    scripted_server,
    status_of,
)

from otel_resilience import CircuitBreaker, Pipeline, Retry, semconv
from otel_resilience.circuit_breaker import CircuitState
from otel_resilience.errors import CircuitOpenError, RetryExhaustedError
from otel_resilience.testing import FakeClock, OTelCapture

Get = Callable[[Pipeline, str], Any]


@pytest.fixture(scope="module")
def _httpd() -> Iterator[ScriptedServer]:
    with scripted_server() as httpd:
        yield httpd


@pytest.fixture
def server(_httpd: ScriptedServer) -> ScriptedServer:
    """The module's scripted server, with an empty script and a zero request count."""
    _httpd.script()
    return _httpd


@pytest.fixture(params=sorted(CLIENTS))
def get(request: pytest.FixtureRequest) -> Get:
    """One GET through a pipeline with each real client in turn; returns the response."""
    return CLIENTS[request.param]


@pytest.fixture(params=sorted(STREAMING_CLIENTS))
def get_streamed(request: pytest.FixtureRequest) -> Callable[[Pipeline, str], Streamed]:
    """One GET with the body left unread, with each real client in turn."""
    return STREAMING_CLIENTS[request.param]


def _span(capture: OTelCapture) -> Any:
    return capture.span("p")


def _events(span: Any, name: str) -> list[dict[str, Any]]:
    return [dict(e.attributes) for e in span.events if e.name == name]


def test_503s_are_retried_until_the_200(
    get: Get, server: ScriptedServer, fake_clock: FakeClock, otel_capture: OTelCapture
) -> None:
    """503, 503, 200 with the default predicate: the 200 is returned after three requests."""
    server.script(503, 503)
    retry = Retry(max_attempts=3, jitter=False, base_delay=0.5)
    pipeline = Pipeline("p", retry, clock=fake_clock, **otel_capture.providers)
    assert status_of(get(pipeline, server.url)) == 200
    assert server.requests == 3
    assert fake_clock.sleeps == [0.5, 1.0]
    span = _span(otel_capture)
    assert span.attributes[semconv.OUTCOME] == semconv.OUTCOME_SUCCESS
    assert span.attributes[semconv.ATTEMPTS] == 3
    assert semconv.ERROR_TYPE not in span.attributes


def test_429_retry_after_is_honoured(
    get: Get, server: ScriptedServer, fake_clock: FakeClock, otel_capture: OTelCapture
) -> None:
    """A 429 with Retry-After: 2 makes the retry wait 2 s, not the 0.1 s backoff."""
    server.script(Reply(429, headers={"Retry-After": "2"}))
    retry = Retry(max_attempts=3, jitter=False, base_delay=0.1)
    pipeline = Pipeline("p", retry, clock=fake_clock, **otel_capture.providers)
    assert status_of(get(pipeline, server.url)) == 200
    assert fake_clock.sleeps == [2.0]
    assert server.requests == 2
    (event,) = _events(_span(otel_capture), semconv.SPAN_EVENT_RETRY)
    assert event[semconv.ERROR_TYPE] == "429"
    assert event[semconv.ERROR_CATEGORY] == "rate_limited"


def test_exhausted_503_is_returned_as_a_failure(
    get: Get, server: ScriptedServer, fake_clock: FakeClock, otel_capture: OTelCapture
) -> None:
    """503 forever: the last 503 response is returned, the call's outcome is failure."""
    server.always(Reply(503, {"error": "down"}))
    retry = Retry(max_attempts=3, jitter=False, base_delay=0.1)
    pipeline = Pipeline("p", retry, clock=fake_clock, **otel_capture.providers)
    response = get(pipeline, server.url)
    assert status_of(response) == 503
    assert server.requests == 3
    span = _span(otel_capture)
    assert span.attributes[semconv.OUTCOME] == semconv.OUTCOME_FAILURE
    assert span.attributes[semconv.ATTEMPTS] == 3
    assert span.attributes[semconv.ERROR_TYPE] == "503"
    assert span.attributes[semconv.ERROR_CATEGORY] == "server_error"
    (exhausted,) = _events(span, semconv.SPAN_EVENT_RETRY_EXHAUSTED)
    assert exhausted[semconv.RETRY_REASON] == semconv.RETRY_REASON_ATTEMPTS
    assert exhausted[semconv.ERROR_TYPE] == "503"
    attempts = _events(span, semconv.SPAN_EVENT_ATTEMPT)
    assert [a[semconv.ATTEMPT_OUTCOME] for a in attempts] == [semconv.OUTCOME_FAILURE] * 3
    assert {a[semconv.ERROR_TYPE] for a in attempts} == {"503"}
    (point,) = otel_capture.metric_points(
        semconv.METRIC_EVENTS, **{semconv.EVENT: semconv.EVENT_RETRY_EXHAUSTED}
    )
    assert point.attributes[semconv.RETRY_REASON] == semconv.RETRY_REASON_ATTEMPTS
    assert point.value == 1


def test_exhausted_503_can_be_wrapped(
    get: Get, server: ScriptedServer, fake_clock: FakeClock, otel_capture: OTelCapture
) -> None:
    """on_exhausted="wrap": RetryExhaustedError carrying the 503, categorised server_error."""
    server.always(503)
    retry = Retry(max_attempts=2, jitter=False, base_delay=0.1, on_exhausted="wrap")
    pipeline = Pipeline("p", retry, clock=fake_clock, **otel_capture.providers)
    with pytest.raises(RetryExhaustedError) as caught:
        get(pipeline, server.url)
    err = caught.value
    assert (err.attempts, err.reason, err.last_error) == (2, semconv.RETRY_REASON_ATTEMPTS, None)
    assert status_of(err.last_result) == 503
    assert server.requests == 2
    span = _span(otel_capture)
    assert span.attributes[semconv.OUTCOME] == semconv.OUTCOME_FAILURE
    assert span.attributes[semconv.ERROR_TYPE] == "otel_resilience.errors.RetryExhaustedError"
    assert span.attributes[semconv.ERROR_CATEGORY] == "server_error"


def test_404_is_a_result_not_a_failure(
    get: Get, server: ScriptedServer, fake_clock: FakeClock, otel_capture: OTelCapture
) -> None:
    """A 404 is the server's answer: returned after one request, outcome success."""
    server.script(404)
    pipeline = Pipeline("p", Retry(max_attempts=3), clock=fake_clock, **otel_capture.providers)
    assert status_of(get(pipeline, server.url)) == 404
    assert server.requests == 1
    assert fake_clock.sleeps == []
    span = _span(otel_capture)
    assert span.attributes[semconv.OUTCOME] == semconv.OUTCOME_SUCCESS
    assert span.attributes[semconv.ATTEMPTS] == 1


def test_breaker_opens_on_503_responses(
    get: Get, server: ScriptedServer, fake_clock: FakeClock, otel_capture: OTelCapture
) -> None:
    """A breaker with no predicate of its own counts 503 responses: two open it."""
    server.always(503)
    breaker = CircuitBreaker(minimum_calls=2, window=2, window_type="count", break_duration=30)
    pipeline = Pipeline("p", breaker, clock=fake_clock, **otel_capture.providers)
    assert [status_of(get(pipeline, server.url)) for _ in range(2)] == [503, 503]
    assert breaker.state is CircuitState.OPEN
    with pytest.raises(CircuitOpenError):
        get(pipeline, server.url)
    assert server.requests == 2
    outcomes = [s.attributes[semconv.OUTCOME] for s in otel_capture.spans("p")]
    assert outcomes == ["failure", "failure", "rejected"]


def test_retry_and_breaker_share_the_pipeline_predicate(
    get: Get, server: ScriptedServer, fake_clock: FakeClock
) -> None:
    """Pipeline(is_failure_result=404): Retry retries 404s, a breaker counts them, 503 passes."""

    def not_found(response: Any) -> bool:
        return status_of(response) == 404

    server.script(404, 404)
    retry = Retry(max_attempts=3, jitter=False, base_delay=0.1)
    retrying = Pipeline("p", retry, clock=fake_clock, is_failure_result=not_found)
    assert status_of(get(retrying, server.url)) == 200
    assert server.requests == 3
    assert fake_clock.sleeps == [0.1, 0.2]

    server.always(404)
    breaker = CircuitBreaker(minimum_calls=2, window=2, window_type="count")
    guarded = Pipeline("q", breaker, clock=fake_clock, is_failure_result=not_found)
    assert [status_of(get(guarded, server.url)) for _ in range(2)] == [404, 404]
    with pytest.raises(CircuitOpenError):
        get(guarded, server.url)
    assert server.requests == 2

    server.always(503)  # the pipeline's predicate replaced the default: a 503 is a result here
    assert status_of(get(retrying, server.url)) == 503
    assert server.requests == 1


def test_a_strategy_predicate_wins_over_the_pipeline_one(
    get: Get, server: ScriptedServer, fake_clock: FakeClock
) -> None:
    """Retry(retry_if_result=503) ignores the pipeline's 404 predicate: it stops at the 404."""
    server.script(503, 404)
    retry = Retry(
        max_attempts=3, jitter=False, base_delay=0.1, retry_if_result=lambda r: status_of(r) == 503
    )
    pipeline = Pipeline(
        "p", retry, clock=fake_clock, is_failure_result=lambda r: status_of(r) == 404
    )
    assert status_of(get(pipeline, server.url)) == 404
    assert server.requests == 2
    assert fake_clock.sleeps == [0.1]


def test_retry_after_above_max_delay_gives_up_at_once(
    get: Get, server: ScriptedServer, fake_clock: FakeClock, otel_capture: OTelCapture
) -> None:
    """A 429 asking for 60 s with max_delay=5: returned after one request, reason recorded."""
    server.script(Reply(429, headers={"Retry-After": "60"}))
    retry = Retry(max_attempts=3, max_delay=5.0)
    pipeline = Pipeline("p", retry, clock=fake_clock, **otel_capture.providers)
    assert status_of(get(pipeline, server.url)) == 429
    assert server.requests == 1
    assert fake_clock.sleeps == []
    span = _span(otel_capture)
    assert span.attributes[semconv.OUTCOME] == semconv.OUTCOME_FAILURE
    (exhausted,) = _events(span, semconv.SPAN_EVENT_RETRY_EXHAUSTED)
    reason = semconv.RETRY_REASON_RETRY_AFTER_EXCEEDS_MAX_DELAY
    assert exhausted[semconv.RETRY_REASON] == reason
    assert exhausted[semconv.RETRY_REQUESTED_DELAY] == 60.0


def test_clamped_retry_after_waits_max_delay_and_retries(
    get: Get, server: ScriptedServer, fake_clock: FakeClock
) -> None:
    """With clamp_retry_after=True the same 429 waits max_delay, then the retry gets the 200."""
    server.script(Reply(429, headers={"Retry-After": "60"}))
    retry = Retry(max_attempts=3, max_delay=5.0, clamp_retry_after=True)
    pipeline = Pipeline("p", retry, clock=fake_clock)
    assert status_of(get(pipeline, server.url)) == 200
    assert server.requests == 2
    assert fake_clock.sleeps == [5.0]


def test_a_retried_response_is_closed_before_the_retry(
    get_streamed: Callable[[Pipeline, str], Streamed],
    server: ScriptedServer,
    fake_clock: FakeClock,
) -> None:
    """Streamed 503s a Retry drops are closed (connection released); the 200 is left open."""
    big = Reply(503, "x" * 1_000_000)  # more than a client buffers: the body stays unread
    server.script(big, big)
    pipeline = Pipeline("p", Retry(max_attempts=3, base_delay=0.1), clock=fake_clock)
    status, closed = get_streamed(pipeline, server.url)
    assert status == 200
    assert closed[:2] == [True, True]
    assert len(closed) == server.requests == 3


def test_retried_streams_do_not_exhaust_a_one_connection_pool(
    server: ScriptedServer, fake_clock: FakeClock
) -> None:
    """httpx with one pooled connection: the retries reach the 200 instead of a PoolTimeout."""
    big = Reply(503, "x" * 1_000_000)
    server.script(big, big)
    limits = httpx.Limits(max_connections=1)
    with httpx.Client(limits=limits, timeout=httpx.Timeout(5.0, pool=1.0)) as client:

        def fetch(url: str) -> httpx.Response:
            return client.send(client.build_request("GET", url), stream=True)

        pipeline = Pipeline("p", Retry(max_attempts=3, base_delay=0.1), clock=fake_clock)
        response = pipeline.call(fetch, server.url)
        response.close()
    assert response.status_code == 200
    assert server.requests == 3


class _Unclosable(httpx.Response):
    """A 503 whose close() says "async stream" and whose aclose() breaks, once built."""

    def __init__(self) -> None:
        super().__init__(503)  # reads and closes the empty body
        self.broken = True

    def close(self) -> None:
        if getattr(self, "broken", False):
            raise RuntimeError("Attempted to call an sync close on an async stream.")
        super().close()

    async def aclose(self) -> None:
        raise ValueError("broken stream")


def test_a_response_that_fails_to_close_is_still_retried(
    run: Any, flaky: Any, fake_clock: FakeClock
) -> None:
    """Closing a dropped response is best effort: a broken close never fails the call."""
    dep = flaky(_Unclosable(), result=httpx.Response(200))
    pipeline = Pipeline("p", Retry(max_attempts=2, base_delay=0.1), clock=fake_clock)
    assert run(pipeline, dep).status_code == 200
    assert dep.calls == 2
