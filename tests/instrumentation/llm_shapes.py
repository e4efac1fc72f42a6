"""The JSON bodies and SSE event sequences of openai's and anthropic's HTTP APIs, as the real
SDKs (openai 3.x, anthropic 2.x) parse them: used by ``llm_server``.

Token counts are deterministic so tests can assert them: input tokens are one per 4 bytes of the
prompt's JSON (at least 1), output tokens one per word of the reply (one word per text chunk).
"""

from __future__ import annotations

import base64
import json
import struct
from dataclasses import dataclass
from typing import Any

#: Served ids are fixed per shape so tests can compare ``gen_ai.response.id``.
IDS = {"chat": "chatcmpl-local1", "responses": "resp_local1", "messages": "msg_local1"}
CREATED = 1_760_000_000

#: (openai error type, anthropic error type) per status.
ERROR_TYPES = {
    400: ("invalid_request_error", "invalid_request_error"),
    401: ("invalid_api_key", "authentication_error"),
    404: ("not_found", "not_found_error"),
    408: ("timeout", "timeout_error"),
    429: ("rate_limit_exceeded", "rate_limit_error"),
    500: ("server_error", "api_error"),
    503: ("service_unavailable", "api_error"),
    529: ("overloaded", "overloaded_error"),
}


@dataclass(frozen=True)
class Usage:
    """What the server reports: input, output, cached and reasoning tokens."""

    input: int
    output: int
    cached: int = 0
    reasoning: int = 0
    cache_creation: int = 0


def input_tokens(body: dict[str, Any]) -> int:
    """The deterministic input token count of a request: its prompt only (messages, input,
    system, instructions), so a streamed and a plain call of one prompt count the same."""
    prompt = [body.get(k) for k in ("system", "instructions", "messages", "input")]
    return max(1, len(json.dumps(prompt)) // 4)


def words(text: str) -> list[str]:
    """The reply's chunks: each word with its trailing space (the last one without)."""
    parts = text.split(" ")
    return [p + " " for p in parts[:-1]] + [parts[-1]]


def error_body(provider: str, status: int, message: str) -> dict[str, Any]:
    """The provider's error body for ``status``."""
    oa_type, an_type = ERROR_TYPES.get(status, ("server_error", "api_error"))
    if provider == "anthropic":
        return {
            "type": "error",
            "error": {"type": an_type, "message": message},
            "request_id": "req_local1",
        }
    return {"error": {"message": message, "type": oa_type, "param": None, "code": oa_type}}


# --- openai chat completions


def _chat_usage(u: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": u.input,
        "completion_tokens": u.output,
        "total_tokens": u.input + u.output,
        "prompt_tokens_details": {"cached_tokens": u.cached, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": u.reasoning, "audio_tokens": 0},
    }


def chat_completion(model: str, text: str, u: Usage, finish: str = "stop") -> dict[str, Any]:
    """A ``chat.completion`` object."""
    return {
        "id": IDS["chat"],
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "system_fingerprint": "fp_local",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "logprobs": None,
                "finish_reason": finish,
            }
        ],
        "usage": _chat_usage(u),
    }


def chat_chunks(
    model: str, text: str, u: Usage, include_usage: bool, finish: str = "stop"
) -> list[tuple[str | None, str]]:
    """The SSE events (event name, data) of a streamed chat completion, ``[DONE]`` last."""

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> str:
        body: dict[str, Any] = {
            "id": IDS["chat"],
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": model,
            "system_fingerprint": "fp_local",
            "choices": [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            ],
        }
        if include_usage:
            body["usage"] = None
        return json.dumps(body)

    events = [chunk({"role": "assistant", "content": "", "refusal": None})]
    events += [chunk({"content": w}) for w in words(text)]
    events.append(chunk({}, finish))
    if include_usage:
        events.append(
            json.dumps(
                {
                    "id": IDS["chat"],
                    "object": "chat.completion.chunk",
                    "created": CREATED,
                    "model": model,
                    "system_fingerprint": "fp_local",
                    "choices": [],
                    "usage": _chat_usage(u),
                }
            )
        )
    events.append("[DONE]")
    return [(None, e) for e in events]


# --- openai embeddings


def embeddings(model: str, body: dict[str, Any], u: Usage) -> dict[str, Any]:
    """A ``list`` of embeddings, one per input, as floats or base64 as requested."""
    inputs = body.get("input")
    count = len(inputs) if isinstance(inputs, list) and not isinstance(inputs[0], int) else 1
    dims = int(body.get("dimensions") or 4)
    data = []
    for index in range(count):
        vector = [round(0.1 * (index + 1) + 0.01 * d, 4) for d in range(dims)]
        encoded: Any = vector
        if body.get("encoding_format") == "base64":
            encoded = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    usage = {"prompt_tokens": u.input, "total_tokens": u.input}
    return {"object": "list", "data": data, "model": model, "usage": usage}


# --- openai responses


def _message_item(text: str, status: str) -> dict[str, Any]:
    content = [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]
    return {
        "id": "msg_item1",
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": content if status == "completed" else [],
    }


def response(model: str, text: str, u: Usage, status: str = "completed") -> dict[str, Any]:
    """A ``response`` object (``status`` in_progress while streaming)."""
    done = status == "completed"
    return {
        "id": IDS["responses"],
        "object": "response",
        "created_at": CREATED,
        "status": status,
        "model": model,
        "output": [_message_item(text, "completed")] if done else [],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "temperature": 1.0,
        "top_p": 1.0,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "metadata": {},
        "usage": (
            {
                "input_tokens": u.input,
                "input_tokens_details": {"cached_tokens": u.cached},
                "output_tokens": u.output,
                "output_tokens_details": {"reasoning_tokens": u.reasoning},
                "total_tokens": u.input + u.output,
            }
            if done
            else None
        ),
    }


def response_events(model: str, text: str, u: Usage) -> list[tuple[str | None, str]]:
    """The SSE events of a streamed response, ``response.completed`` last."""
    seq = iter(range(1_000_000))
    part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
    where = {"item_id": "msg_item1", "output_index": 0, "content_index": 0}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": response(model, text, u, "in_progress")},
        {"type": "response.in_progress", "response": response(model, text, u, "in_progress")},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": _message_item("", "in_progress"),
        },
        {"type": "response.content_part.added", **where, "part": part},
    ]
    events += [
        {"type": "response.output_text.delta", **where, "delta": w, "logprobs": []}
        for w in words(text)
    ]
    events += [
        {"type": "response.output_text.done", **where, "text": text, "logprobs": []},
        {"type": "response.content_part.done", **where, "part": {**part, "text": text}},
        {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": _message_item(text, "completed"),
        },
        {"type": "response.completed", "response": response(model, text, u)},
    ]
    return [(e["type"], json.dumps({**e, "sequence_number": next(seq)})) for e in events]


# --- anthropic messages


def _anthropic_usage(u: Usage, output: int) -> dict[str, Any]:
    return {
        "input_tokens": u.input,
        "output_tokens": output,
        "cache_creation_input_tokens": u.cache_creation,
        "cache_read_input_tokens": u.cached,
        "service_tier": "standard",
    }


def message(model: str, text: str, u: Usage, stop: str = "end_turn") -> dict[str, Any]:
    """A ``message`` object."""
    return {
        "id": IDS["messages"],
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": _anthropic_usage(u, u.output),
    }


def message_events(
    model: str, text: str, u: Usage, stop: str = "end_turn"
) -> list[tuple[str | None, str]]:
    """The SSE events of a streamed message (message_start ... message_stop)."""
    start = {**message(model, text, u), "content": [], "stop_reason": None}
    start["usage"] = _anthropic_usage(u, 1)
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "ping"},
    ]
    events += [
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": w}}
        for w in words(text)
    ]
    events += [
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop, "stop_sequence": None},
            "usage": _anthropic_usage(u, u.output),
        },
        {"type": "message_stop"},
    ]
    return [(e["type"], json.dumps(e)) for e in events]
