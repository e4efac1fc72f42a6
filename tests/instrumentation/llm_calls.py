"""Helpers of the LLM runner tests: payloads in the providers' JSON shapes, and the real SDK
clients (sync or async) pointed at the scripted local server of :mod:`servers`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from servers import Reply

JSON = {"content-type": "application/json"}
MESSAGES = [{"role": "user", "content": "hi"}]


def chat_reply(
    model: str = "gpt-4o-2024", *, prompt: int = 5, completion: int = 2, **headers: str
) -> Reply:
    """A 200 chat.completion answer with usage."""
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "yo"}}
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": 1},
            "completion_tokens_details": {"reasoning_tokens": 1},
        },
    }
    return Reply(200, json.dumps(body).encode(), {**JSON, **headers})


def message_reply(model: str = "claude-x-1", **headers: str) -> Reply:
    """A 200 anthropic message with usage (cache read and creation included)."""
    body = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": "yo"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 10,
            "output_tokens": 3,
            "cache_read_input_tokens": 4,
            "cache_creation_input_tokens": 2,
        },
    }
    return Reply(200, json.dumps(body).encode(), {**JSON, **headers})


def json_reply(body: Any) -> Reply:
    """A 200 JSON reply."""
    return Reply(200, json.dumps(body).encode(), JSON)


def error_reply(status: int, kind: str = "api_error", **headers: str) -> Reply:
    """An error answer in the providers' error body shape."""
    body = {"type": "error", "error": {"type": kind, "message": "nope"}}
    return Reply(status, json.dumps(body).encode(), {**JSON, **headers})


class Clients:
    """Runs ``fn(client)`` with a sync client, or awaits it with the async client (same body)."""

    def __init__(self, mode: str, url: str) -> None:
        self.mode = mode
        self.url = url

    def openai(self, fn: Callable[[Any], Any], **kw: Any) -> Any:
        """``fn`` with an openai client (OpenAI or AsyncOpenAI)."""
        import openai

        kw = {"base_url": self.url + "/v1", "api_key": "k", **kw}
        if self.mode == "sync":
            with openai.OpenAI(**kw) as client:
                return fn(client)
        return asyncio.run(self._arun(openai.AsyncOpenAI, fn, kw))

    def anthropic(self, fn: Callable[[Any], Any], **kw: Any) -> Any:
        """``fn`` with an anthropic client (Anthropic or AsyncAnthropic)."""
        import anthropic

        kw = {"base_url": self.url, "api_key": "k", **kw}
        if self.mode == "sync":
            with anthropic.Anthropic(**kw) as client:
                return fn(client)
        return asyncio.run(self._arun(anthropic.AsyncAnthropic, fn, kw))

    async def _arun(self, cls: Any, fn: Callable[[Any], Any], kw: dict[str, Any]) -> Any:
        async with cls(**kw) as client:
            result = fn(client)
            return await result if asyncio.iscoroutine(result) else result


def bodies(server: Any) -> list[dict[str, Any]]:
    """The JSON bodies the server received, in order."""
    return [json.loads(r.body) for r in server.received]
