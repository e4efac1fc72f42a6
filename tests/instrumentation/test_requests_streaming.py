"""Streamed responses (stream=True) through the requests instrumentor: retried only before the
body is handed out, spans ending with the body on every path, connections released."""

from __future__ import annotations

import shutil
import threading
from io import BytesIO

import pytest
import requests
from httpx_support import CLIENT_TIMEOUT, client_spans
from otel_resilience_instrumentation.policy import HttpPolicy
from servers import Reply

from otel_resilience import semconv

GUARD = 60.0  # seconds: a leaked connection blocks the pool forever; fail instead of hanging


def _statuses(capture: object) -> list[int]:
    return [s.attributes[semconv.HTTP_RESPONSE_STATUS_CODE] for s in client_spans(capture)]


def test_stream_is_retried_before_the_body_is_handed_out(instrument, server, otel_capture):
    """stream=True: a 503 is dropped (its span ends) and retried; the 200's span stays open
    while the caller holds the unread body and ends once .content has read it."""
    instrument("requests")
    server.script(503)
    response = requests.get(server.url, stream=True, timeout=CLIENT_TIMEOUT)
    assert type(response) is requests.Response
    assert response.status_code == 200
    assert _statuses(otel_capture) == [503]
    assert response.content == b"ok"
    assert _statuses(otel_capture) == [503, 200]
    assert server.count == 2


@pytest.mark.parametrize(
    "finish",
    [
        lambda r: r.close(),
        lambda r: r.__exit__(None, None, None),
        lambda r: shutil.copyfileobj(r.raw, BytesIO()),
        lambda r: list(r.iter_content(2)),
        lambda r: list(r.iter_lines()),
        lambda r: r.json(),
    ],
    ids=["close", "with-exit", "raw-read", "iter_content", "iter_lines", "json"],
)
def test_stream_span_ends_on_every_way_of_finishing_the_body(
    instrument, server, otel_capture, finish
):
    """Each way of reading a streamed body to its end, or closing it unread, ends the span."""
    instrument("requests")
    server.default = Reply(body=b'{"k": 1}\n')
    response = requests.get(server.url, stream=True, timeout=CLIENT_TIMEOUT)
    assert client_spans(otel_capture) == []
    finish(response)
    assert _statuses(otel_capture) == [200]
    assert "iter_content" not in response.__dict__  # the watch leaves nothing behind


def test_stream_stopped_early_ends_when_closed(instrument, server, otel_capture):
    """A reader that stops after the first chunk leaves the span open until close()."""
    instrument("requests")
    server.default = Reply(body=b"x" * 100)
    with requests.get(server.url, stream=True, timeout=CLIENT_TIMEOUT) as response:
        assert next(response.iter_content(10)) == b"x" * 10
        assert client_spans(otel_capture) == []
    assert _statuses(otel_capture) == [200]


def test_body_breaking_midway_is_not_retried_and_ends_the_span_in_error(
    instrument, server, otel_capture
):
    """A 200 whose body breaks halfway, after it was handed to the caller: the caller gets
    requests' own error, nothing is re-sent, and the attempt's span ends with error.type."""
    instrument("requests")
    server.script(Reply(200, body=b"x" * 1000, truncate=True))
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(server.url, timeout=CLIENT_TIMEOUT)
    assert server.count == 1
    (span,) = client_spans(otel_capture)
    assert span.attributes[semconv.HTTP_RESPONSE_STATUS_CODE] == 200
    assert span.attributes[semconv.ERROR_TYPE].endswith("ChunkedEncodingError")


def test_small_blocking_pool_survives_many_retried_streams(instrument, server):
    """pool_maxsize=2 with pool_block=True: 1,000 streamed requests, each a 503 retried then a
    200 read or left unread (closed by its with block), all succeed: no dropped or closed
    response keeps its connection (a leak would block the pool for good). The breaker is
    off: half the attempts fail, which would rightly open it."""
    instrument("requests", policies={"*": HttpPolicy(breaker=False)})
    statuses: list[int] = []

    def run() -> None:
        with requests.Session() as session:
            session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=2, pool_block=True))
            for i in range(1000):
                server.script(503)
                with session.get(server.url, stream=True, timeout=CLIENT_TIMEOUT) as response:
                    if i % 2:
                        assert response.content == b"ok"
                    statuses.append(response.status_code)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(GUARD)
    assert not worker.is_alive(), f"pool blocked after {len(statuses)} requests"
    assert statuses == [200] * 1000
    assert server.count == 2000


def test_bound_methods_taken_before_the_end_keep_working(instrument, server, otel_capture):
    """iter_content and close taken from the response before its body ended still behave
    like requests' own afterwards (the watch is gone, the methods are not)."""
    instrument("requests")
    response = requests.get(server.url, stream=True, timeout=CLIENT_TIMEOUT)
    iter_content, close = response.iter_content, response.close
    assert response.content == b"ok"
    assert _statuses(otel_capture) == [200]
    assert b"".join(iter_content(1)) == b"ok"  # requests: the cached content, sliced
    close()
    assert len(client_spans(otel_capture)) == 1


@pytest.mark.parametrize("method", ["HEAD", "GET-204"])
def test_bodiless_responses_end_their_span(method, instrument, server, otel_capture):
    """A HEAD and a 204, streamed or not: the span ends (at once, or when closed)."""
    instrument("requests")
    verb = method.partition("-")[0]
    if method == "GET-204":
        server.default = Reply(204, body=b"")
    assert requests.request(verb, server.url, timeout=CLIENT_TIMEOUT).content == b""
    assert len(client_spans(otel_capture)) == 1
    with requests.request(verb, server.url, stream=True, timeout=CLIENT_TIMEOUT):
        pass
    assert len(client_spans(otel_capture)) == 2
