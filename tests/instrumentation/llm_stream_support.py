"""A minimal in-test SSE source for the stream proxy tests: the real openai and anthropic SDKs
over an httpx2 transport that plays a canned event stream (the hosted APIs are the only mock).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx2

from otel_resilience.streams import StreamMetrics


def openai_events(words: list[str], usage: bool = True) -> list[bytes]:
    """A chat completion stream: one chunk per word, a finish chunk, a usage-only chunk."""
    base = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o"}
    chunks = [
        {**base, "choices": [{"index": 0, "delta": {"content": w}, "finish_reason": None}]}
        for w in words
    ]
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    if usage:
        tokens = {"prompt_tokens": 5, "completion_tokens": len(words), "total_tokens": 9}
        chunks.append({**base, "choices": [], "usage": tokens})
    return [b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks] + [b"data: [DONE]\n\n"]


def anthropic_events(words: list[str]) -> list[bytes]:
    """A messages stream: start, one text delta per word, stop."""
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-x",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 5, "output_tokens": 1},
    }
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": message}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
    ]
    for w in words:
        delta = {"type": "text_delta", "text": w}
        events.append(
            ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})
        )
    events += [
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": len(words)},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return [f"event: {e}\ndata: {json.dumps(d)}\n\n".encode() for e, d in events]


class Body(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    """The response body: the events, then (``fail_after``) a dropped connection; counts reads."""

    def __init__(self, events: list[bytes], fail_after: int | None = None) -> None:
        self.events = events
        self.fail_after = fail_after
        self.sent = 0
        self.closed = 0

    def _chunks(self) -> Iterator[bytes]:
        for event in self.events:
            if self.sent == self.fail_after:
                raise httpx2.ReadError("connection reset mid-stream")
            self.sent += 1
            yield event

    def __iter__(self) -> Iterator[bytes]:
        yield from self._chunks()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks():
            await asyncio.sleep(0)
            yield chunk

    def close(self) -> None:
        self.closed += 1

    async def aclose(self) -> None:
        self.closed += 1


class Hooks:
    """Counts every hook call; hides usage-only chunks; converts errors to ``Converted``."""

    def __init__(self, hide_usage: bool = False) -> None:
        self.hide_usage = hide_usage
        self.chunks: list[Any] = []
        self.states: list[tuple[str, str]] = []
        self.ends: list[tuple[str, BaseException | None, StreamMetrics]] = []

    def on_chunk(self, chunk: Any) -> bool:
        self.chunks.append(chunk)
        return not (self.hide_usage and getattr(chunk, "choices", None) == [])

    def on_state_change(self, previous: str, state: str) -> None:
        self.states.append((previous, state))

    def convert_error(self, error: BaseException) -> BaseException:
        return Converted(f"timeout: {type(error).__name__}")

    def on_end(self, outcome: str, error: BaseException | None, metrics: StreamMetrics) -> None:
        self.ends.append((outcome, error, metrics))


class Converted(Exception):
    """What the hooks turn a mid-stream error into (stands for the classified error)."""
