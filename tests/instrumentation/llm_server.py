"""A local stand-in for the openai and anthropic HTTP APIs, on 127.0.0.1, for the LLM tests.

It speaks the shapes the real SDKs parse (``llm_shapes``): openai ``/v1/chat/completions``
(JSON, SSE chunks, a usage chunk when ``stream_options.include_usage``), ``/v1/responses``
(JSON, SSE events), ``/v1/embeddings`` (floats or base64); anthropic ``/v1/messages`` (JSON,
SSE events) and ``/v1/messages/count_tokens``. Replies echo the requested model.

Each request takes the next scripted ``Behaviour`` (the model's own queue first, then the shared
queue, then the model's default, then ``default``): a status with its provider-shaped error body
and headers (``rate_limited`` sets ``retry-after`` / ``retry-after-ms``), a slow first byte, a
stall or a disconnect after N SSE events, a body that is not JSON. Every request is logged
(``requests``: method, path, headers with ``traceparent``, JSON body). Real waits are bounded and
end at once when the server stops; ``stop()`` also closes kept-alive connections and joins every
thread it started, so tests leak none.
"""

from __future__ import annotations

import json
import os
import selectors
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import llm_shapes as shapes

#: Real waits (slow first byte, stalls) are capped so a wrong script cannot hang a test.
MAX_WAIT = 30.0
#: Marks a retry-after to turn into an HTTP-date when served (the date must be fresh).
_DATE_MARK = "@date+"

OPENAI_PATHS = {
    "/v1/chat/completions": "chat",
    "/v1/responses": "responses",
    "/v1/embeddings": "embeddings",
}
ANTHROPIC_PATHS = {"/v1/messages": "messages", "/v1/messages/count_tokens": "count_tokens"}


@dataclass(frozen=True)
class Behaviour:
    """How to answer one request."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    #: Real seconds before the status line (a slow first byte).
    delay: float = 0.0
    #: Real seconds to stall once ``after`` SSE events were sent (JSON: after the headers).
    stall: float = 0.0
    #: Hang up once ``after`` SSE events were sent (JSON: after half the body).
    disconnect: bool = False
    #: The body (JSON) or SSE event number ``after`` is not valid JSON.
    bad_json: bool = False
    #: SSE events sent before the stall, disconnect or bad event; negative counts from the end.
    after: int = 0
    #: Real seconds between SSE events (a model producing tokens at 1/pace per second).
    pace: float = 0.0
    #: Send all SSE events in one write (benchmarks: client costs, not the server's flushes);
    #: ignored with a stall, disconnect, bad event or pace.
    burst: bool = False
    #: Close the connection without any answer.
    drop: bool = False
    #: The reply's text (one word per chunk); default ``"Hello from <model>."``.
    text: str | None = None
    #: The model named in the reply; default the requested model.
    model: str | None = None
    #: Output tokens reported; default one per word.
    output_tokens: int | None = None
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cache_creation_tokens: int = 0
    finish_reason: str | None = None
    message: str = "scripted failure"


def ok(**kwargs: Any) -> Behaviour:
    """A normal 200 answer (options as in Behaviour)."""
    return Behaviour(**kwargs)


def error(
    status: int,
    retry_after: float | None = None,
    retry_after_ms: int | None = None,
    http_date_in: float | None = None,
    **kwargs: Any,
) -> Behaviour:
    """An error ``status`` with the provider's error body; ``retry_after`` sets ``retry-after``
    seconds, ``retry_after_ms`` sets ``retry-after-ms``, ``http_date_in`` an HTTP-date
    ``retry-after`` that many seconds after the moment it is served."""
    headers = dict(kwargs.pop("headers", {}))
    if retry_after is not None:
        headers["retry-after"] = f"{retry_after:g}"
    if retry_after_ms is not None:
        headers["retry-after-ms"] = str(retry_after_ms)
    if http_date_in is not None:
        headers["retry-after"] = f"{_DATE_MARK}{http_date_in}"
    return Behaviour(status=status, headers=headers, **kwargs)


def rate_limited(**kwargs: Any) -> Behaviour:
    """A 429 (options as in ``error``)."""
    return error(429, **kwargs)


def overloaded(**kwargs: Any) -> Behaviour:
    """Anthropic's 529 overloaded (options as in ``error``)."""
    return error(529, **kwargs)


def server_error(status: int = 500, **kwargs: Any) -> Behaviour:
    """A 5xx answer: 500 by default, 503 for unavailable (options as in ``error``)."""
    return error(status, **kwargs)


def slow_first_byte(seconds: float, **kwargs: Any) -> Behaviour:
    """Answer normally after ``seconds``."""
    return Behaviour(delay=seconds, **kwargs)


def stall(seconds: float, after: int = 0, **kwargs: Any) -> Behaviour:
    """Stop sending for ``seconds`` after ``after`` SSE events, then go on."""
    return Behaviour(stall=seconds, after=after, **kwargs)


def paced(seconds: float, **kwargs: Any) -> Behaviour:
    """Stream with ``seconds`` between events (JSON answers are not paced)."""
    return Behaviour(pace=seconds, **kwargs)


def disconnect(after: int = 0, **kwargs: Any) -> Behaviour:
    """Hang up after ``after`` SSE events (JSON: after half the body)."""
    return Behaviour(disconnect=True, after=after, **kwargs)


def bad_json(after: int = 0, **kwargs: Any) -> Behaviour:
    """A body (or SSE event number ``after``) that is not JSON."""
    return Behaviour(bad_json=True, after=after, **kwargs)


def ratelimit_headers(
    provider: str,
    requests: int = 99,
    tokens: int = 9_999,
    limit_requests: int = 100,
    limit_tokens: int = 10_000,
) -> dict[str, str]:
    """The provider's rate-limit headers with these remaining and limit values."""
    if provider == "anthropic":
        reset = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 60))
        out = {}
        for kind, limit, left in (
            ("requests", limit_requests, requests),
            ("tokens", limit_tokens, tokens),
        ):
            out[f"anthropic-ratelimit-{kind}-limit"] = str(limit)
            out[f"anthropic-ratelimit-{kind}-remaining"] = str(left)
            out[f"anthropic-ratelimit-{kind}-reset"] = reset
        return out
    return {
        "x-ratelimit-limit-requests": str(limit_requests),
        "x-ratelimit-remaining-requests": str(requests),
        "x-ratelimit-reset-requests": "1s",
        "x-ratelimit-limit-tokens": str(limit_tokens),
        "x-ratelimit-remaining-tokens": str(tokens),
        "x-ratelimit-reset-tokens": "6ms",
    }


@dataclass
class Received:
    """One request as the server saw it (header names in lower case)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        """The body parsed as JSON (None when it is not JSON)."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    @property
    def model(self) -> str | None:
        """The requested model."""
        body = self.json
        return body.get("model") if isinstance(body, dict) else None

    @property
    def traceparent(self) -> str | None:
        """The W3C traceparent header, if sent."""
        return self.headers.get("traceparent")


class _Handler(BaseHTTPRequestHandler):
    server: LLMServer
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = self.path.split("?", 1)[0]
        received = Received(
            self.command, path, {k.lower(): v for k, v in self.headers.items()}, body
        )
        how = self.server.record(received)
        try:
            self._answer(received, how)
        except (ConnectionError, OSError):  # the client hung up (e.g. closed a stream early)
            self.close_connection = True

    do_GET = do_POST

    def _answer(self, req: Received, how: Behaviour) -> None:
        if how.drop:
            self.close_connection = True
            return
        if how.delay and self.server.wait(how.delay):
            self.close_connection = True
            return
        provider = "anthropic" if req.path in ANTHROPIC_PATHS else "openai"
        kind = ANTHROPIC_PATHS.get(req.path) or OPENAI_PATHS.get(req.path)
        body = req.json if isinstance(req.json, dict) else {}
        headers = {self._request_id_header(provider): "req_local1", **how.headers}
        if headers.get("retry-after", "").startswith(_DATE_MARK):
            seconds = float(headers["retry-after"][len(_DATE_MARK) :])
            headers["retry-after"] = formatdate(time.time() + seconds, usegmt=True)
        if kind is None:
            how = replace(how, status=404, message=f"unknown path {req.path}")
        if how.status >= 400:
            self._json(
                how.status, headers, shapes.error_body(provider, how.status, how.message), how
            )
            return
        model = how.model or str(body.get("model") or "unknown-model")
        text = how.text if how.text is not None else f"Hello from {model}."
        usage = shapes.Usage(
            input=shapes.input_tokens(body),
            output=how.output_tokens if how.output_tokens is not None else len(shapes.words(text)),
            cached=how.cached_tokens,
            reasoning=how.reasoning_tokens,
            cache_creation=how.cache_creation_tokens,
        )
        if body.get("stream"):
            self._sse(headers, self._events(kind, model, text, usage, body, how), how)
            return
        self._json(how.status, headers, self._object(kind, model, text, usage, body, how), how)

    @staticmethod
    def _request_id_header(provider: str) -> str:
        return "request-id" if provider == "anthropic" else "x-request-id"

    @staticmethod
    def _object(
        kind: str, model: str, text: str, u: shapes.Usage, body: dict[str, Any], how: Behaviour
    ) -> Any:
        if kind == "chat":
            return shapes.chat_completion(model, text, u, how.finish_reason or "stop")
        if kind == "responses":
            return shapes.response(model, text, u)
        if kind == "embeddings":
            return shapes.embeddings(model, body, u)
        if kind == "count_tokens":
            return {"input_tokens": u.input}
        return shapes.message(model, text, u, how.finish_reason or "end_turn")

    @staticmethod
    def _events(
        kind: str, model: str, text: str, u: shapes.Usage, body: dict[str, Any], how: Behaviour
    ) -> list[tuple[str | None, str]]:
        if kind == "chat":
            include = bool((body.get("stream_options") or {}).get("include_usage"))
            return shapes.chat_chunks(model, text, u, include, how.finish_reason or "stop")
        if kind == "responses":
            return shapes.response_events(model, text, u)
        return shapes.message_events(model, text, u, how.finish_reason or "end_turn")

    def _json(self, status: int, headers: dict[str, str], obj: Any, how: Behaviour) -> None:
        data = json.dumps(obj).encode()
        if how.bad_json:
            data = b'{"id": "broken", ' + data[:20]  # cut mid-object: not JSON
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.flush()
        if how.stall and self.server.wait(how.stall):
            self.close_connection = True
            return
        if how.disconnect:
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(data)

    def _sse(
        self, headers: dict[str, str], events: list[tuple[str | None, str]], how: Behaviour
    ) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.flush()
        at = how.after if how.after >= 0 else len(events) + how.after
        if how.burst and not (how.stall or how.disconnect or how.bad_json or how.pace):
            frames = "".join((f"event: {n}\n" if n else "") + f"data: {d}\n\n" for n, d in events)
            self._chunk(frames.encode())
            self._chunk(b"")
            return
        for index, (name, event) in enumerate(events):
            data = event
            if index == at:
                if how.disconnect:
                    self.close_connection = True  # no terminating chunk: the body is incomplete
                    return
                if how.stall and self.server.wait(how.stall):
                    self.close_connection = True
                    return
                if how.bad_json:
                    data = '{"broken": '
            if how.pace and index and self.server.wait(how.pace):
                self.close_connection = True
                return
            frame = (f"event: {name}\n" if name else "") + f"data: {data}\n\n"
            self._chunk(frame.encode())
        self._chunk(b"")

    def _chunk(self, payload: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(payload), payload))
        self.wfile.flush()

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""


class LLMServer(ThreadingHTTPServer):
    """The scripted openai + anthropic stand-in; start with ``running_llm_server()``."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._wake_r, self._wake_w = socket.socketpair()
        self._queue: deque[Behaviour] = deque()
        self._model_queues: dict[str, deque[Behaviour]] = {}
        self._handlers: dict[threading.Thread, socket.socket] = {}
        self._thread: threading.Thread | None = None
        #: The answer when nothing is scripted.
        self.default = Behaviour()
        #: The answer per requested model when nothing is scripted for it.
        self.model_defaults: dict[str, Behaviour] = {}
        self.requests: list[Received] = []

    @property
    def url(self) -> str:
        """The base URL (``http://127.0.0.1:PORT``): anthropic's ``base_url``."""
        return f"http://127.0.0.1:{self.server_address[1]}"

    @property
    def openai_url(self) -> str:
        """openai's ``base_url`` (with ``/v1``)."""
        return self.url + "/v1"

    @property
    def count(self) -> int:
        """Requests received so far."""
        with self._lock:
            return len(self.requests)

    def count_for(self, path: str | None = None, model: str | None = None) -> int:
        """Requests received for ``path`` and/or ``model``."""
        with self._lock:
            return sum(
                1
                for r in self.requests
                if (path is None or r.path == path) and (model is None or r.model == model)
            )

    def script(self, *behaviours: Behaviour | int, model: str | None = None) -> None:
        """Answer the next requests (for ``model`` only, if given) with ``behaviours`` in order;
        an int is a status."""
        queue = deque(b if isinstance(b, Behaviour) else Behaviour(status=b) for b in behaviours)
        with self._lock:
            if model is None:
                self._queue = queue
            else:
                self._model_queues[model] = queue

    def record(self, request: Received) -> Behaviour:
        """Log a request and pick its behaviour."""
        with self._lock:
            self.requests.append(request)
            mine = self._model_queues.get(request.model or "")
            if mine:
                return mine.popleft()
            if self._queue:
                return self._queue.popleft()
            return self.model_defaults.get(request.model or "", self.default)

    def wait(self, seconds: float) -> bool:
        """Wait ``seconds`` (capped) unless the server stops first; True if it stopped."""
        return self._stopping.wait(min(seconds, MAX_WAIT))

    # --- lifecycle: a selector loop that a stop wakes at once (no polling interval)

    def start(self) -> LLMServer:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self._loop, name="llm-server", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self.socket, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while not self._stopping.is_set():
                for key, _ in selector.select():
                    if key.fileobj is self.socket and not self._stopping.is_set():
                        self._handle_request_noblock()

    def process_request(self, request: Any, client_address: Any) -> None:
        """Handle each connection in a thread the server tracks (joined by ``stop``)."""
        # Small writes (headers, SSE events) must leave at once: Nagle + delayed ACK would add
        # 40 ms to every kept-alive request.
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        thread = threading.Thread(
            target=self.process_request_thread, args=(request, client_address), daemon=True
        )
        with self._lock:
            self._handlers = {t: s for t, s in self._handlers.items() if t.is_alive()}
            self._handlers[thread] = request
        thread.start()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up on purpose is not a server error."""

    def stop(self) -> None:
        """Stop serving, end waits, close kept-alive connections and join every thread."""
        self._stopping.set()
        with suppress(OSError):
            self._wake_w.send(b"x")
        if self._thread is not None:
            self._thread.join(5)
        with self._lock:
            handlers = dict(self._handlers)
        for sock in handlers.values():
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + 5
        for thread in handlers:
            thread.join(max(0.0, deadline - time.monotonic()))
        self.server_close()
        self._wake_r.close()
        self._wake_w.close()


@contextmanager
def running_llm_server() -> Iterator[LLMServer]:
    """An LLMServer serving in a thread; stopped (threads joined) on exit."""
    server = LLMServer().start()
    try:
        yield server
    finally:
        server.stop()


if __name__ == "__main__":  # python tests/instrumentation/llm_server.py: serve for the examples
    with running_llm_server() as srv:
        print(srv.url, flush=True)
        with suppress(KeyboardInterrupt):
            threading.Event().wait(float(os.environ.get("LLM_SERVER_SECONDS", "3600")))
