"""The per-chunk readers of the LLM instrumentor (issue 10): ``_llm.fields`` (one view of an
object's fields, decided per type) and ``Provider.fold`` (one pass per chunk), against the SDKs'
own models, dicts and objects of no known kind."""

from __future__ import annotations

from types import SimpleNamespace

import pydantic
import pydantic.v1
import pytest
from anthropic.types import RawContentBlockDeltaEvent, RawMessageDeltaEvent, RawMessageStartEvent
from openai.types.chat import ChatCompletionChunk
from openai.types.responses import ResponseCompletedEvent, ResponseTextDeltaEvent
from otel_resilience_instrumentation._llm import fields
from otel_resilience_instrumentation._llm.providers import ANTHROPIC, DELTA, OPENAI, USAGE_ONLY
from otel_resilience_instrumentation._llm.request import Reported

NAMES = ("id", "model", "choices", "usage", "type", "delta", "content", "missing", "status")


def _chat(i: int, **choice: object) -> dict[str, object]:
    """A chat completion chunk as the API sends it."""
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-x",
        "choices": [{"index": 0, "delta": {"content": f"w{i}"}, "finish_reason": None, **choice}],
    }


USAGE = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
FINAL = {**_chat(2, delta={}, finish_reason="stop")}
USAGE_CHUNK = {**_chat(0), "choices": [], "usage": USAGE}


class V2(pydantic.BaseModel):
    """A pydantic v2 model keeping undeclared fields, like the SDKs' models."""

    model_config = pydantic.ConfigDict(extra="allow")
    id: str | None = None
    content: str | None = None


class V1(pydantic.v1.BaseModel):
    """A pydantic v1 model (the openai SDK supports both)."""

    class Config:
        extra = "allow"

    id: str | None = None


class Plain:
    """An object of no known kind, with a property."""

    def __init__(self) -> None:
        self.id = "p-1"

    @property
    def model(self) -> str:
        """A computed attribute."""
        return "from-property"


def _objects() -> list[object]:
    """One object of each kind the readers meet."""
    return [
        ChatCompletionChunk.construct(**USAGE_CHUNK),
        ChatCompletionChunk.model_validate(_chat(1)),
        ChatCompletionChunk.construct(**_chat(1), type="odd-extra"),
        RawMessageDeltaEvent.model_validate(
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn"},
                "usage": {"output_tokens": 4},
            }
        ),
        V2(id="v2", content=None, extra_field=1),
        V1(id="v1", status="extra"),
        Plain(),
        {"id": "d", "type": None},
        None,
    ]


@pytest.mark.parametrize("obj", _objects(), ids=lambda o: type(o).__name__)
def test_get_reads_what_getattr_or_get_would(obj: object) -> None:
    """Every name, present, None, undeclared (extra) or missing, reads as before."""
    for name in NAMES:
        expected = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
        assert fields.get(obj, name) == expected, name


def test_view_of_a_model_is_its_dict_unless_it_has_extras() -> None:
    """No copy for a model without undeclared fields; extras merged under declared ones."""
    chunk = ChatCompletionChunk.model_validate(_chat(1))
    assert fields.view(chunk) is chunk.__dict__
    odd = V2(id="declared", extra_field=5)
    assert fields.view(odd) == {"id": "declared", "content": None, "extra_field": 5}
    assert fields.view({"a": 1}).get("a") == 1
    assert fields.view(Plain()).get("model") == "from-property"
    v1 = V1(id="v1", status="extra")
    assert fields.view(v1) is v1.__dict__  # extras included, in pydantic v1


def test_a_missing_field_never_reaches_pydantic_getattr() -> None:
    """The fast path reads ``__dict__``: pydantic's raising ``__getattr__`` is never run."""
    calls: list[str] = []

    class Counting(ChatCompletionChunk):
        def __getattr__(self, name: str) -> object:
            calls.append(name)
            return super().__getattr__(name)  # type: ignore[misc]

    chunk = Counting.model_validate(_chat(1))
    assert getattr(chunk, "type", None) is None
    assert calls == ["type"]  # the old path went through it
    calls.clear()
    reported = Reported()
    assert OPENAI.fold(reported, chunk) == DELTA
    assert calls == []


@pytest.mark.parametrize("shape", ["model", "dict"])
def test_openai_chat_stream_folds_to_the_reported_values(shape: str) -> None:
    """id, model, finish reason, usage and per-chunk flags of a whole chat stream."""
    raw = [_chat(0), _chat(1), FINAL, USAGE_CHUNK]
    chunks = [ChatCompletionChunk.construct(**c) for c in raw] if shape == "model" else raw
    reported = Reported()
    flags = [OPENAI.fold(reported, c) for c in chunks]
    assert flags == [DELTA, DELTA, 0, USAGE_ONLY]
    assert (reported.response_id, reported.model) == ("chatcmpl-1", "gpt-x")
    assert reported.finish_reasons == ("stop",)
    assert (reported.usage.input, reported.usage.output) == (7, 3)


def test_openai_tool_call_and_refusal_deltas_count_and_several_choices_add_reasons() -> None:
    """Tool-call and refusal deltas are output; each choice's finish reason is kept, in order."""
    reported = Reported()
    tool = {"tool_calls": [{"index": 0, "function": {"arguments": "{"}}]}
    assert OPENAI.fold(reported, ChatCompletionChunk.construct(**_chat(0, delta=tool))) == DELTA
    assert OPENAI.fold(reported, _chat(0, delta={"refusal": "no"})) == DELTA
    assert OPENAI.fold(reported, _chat(0, delta={"role": "assistant"})) == 0
    two = {
        **FINAL,
        "choices": [*FINAL["choices"], {"index": 1, "delta": {}, "finish_reason": "length"}],
    }  # type: ignore[misc]
    assert OPENAI.fold(reported, ChatCompletionChunk.construct(**two)) == 0
    assert reported.finish_reasons == ("stop", "length")
    assert reported.usage.output is None


def test_openai_responses_events_fold_to_the_final_response() -> None:
    """Text deltas are output; response.completed brings id, model, status and usage."""
    delta = ResponseTextDeltaEvent.construct(
        type="response.output_text.delta",
        delta="Hi",
        item_id="m",
        output_index=0,
        content_index=0,
        sequence_number=1,
        logprobs=[],
    )
    response = {
        "id": "resp-1",
        "model": "gpt-r",
        "status": "completed",
        "object": "response",
        "output": [],
        "usage": {"input_tokens": 5, "output_tokens": 2, "total_tokens": 7},
    }
    done = ResponseCompletedEvent.construct(
        type="response.completed", response=response, sequence_number=2
    )
    reported = Reported()
    assert OPENAI.fold(reported, delta) == DELTA
    assert OPENAI.fold(reported, {"type": "response.in_progress"}) == 0
    assert OPENAI.fold(reported, done) == 0
    assert (reported.response_id, reported.model) == ("resp-1", "gpt-r")
    assert reported.finish_reasons == ("completed",)
    assert (reported.usage.input, reported.usage.output) == (5, 2)


@pytest.mark.parametrize("shape", ["model", "dict"])
def test_anthropic_events_fold_to_the_reported_values(shape: str) -> None:
    """message_start's id/model/usage, a text delta, message_delta's stop reason and count."""
    start = {
        "type": "message_start",
        "message": {
            "id": "msg-1",
            "type": "message",
            "role": "assistant",
            "model": "claude-x",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 9, "output_tokens": 1, "cache_read_input_tokens": 2},
        },
    }
    text = {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "text_delta", "text": "Hi"},
    }
    end = {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn"},
        "usage": {"output_tokens": 6},
    }
    events: list[object] = [start, text, end]
    if shape == "model":
        kinds = (RawMessageStartEvent, RawContentBlockDeltaEvent, RawMessageDeltaEvent)
        events = [k.model_validate(e) for k, e in zip(kinds, events, strict=True)]
    reported = Reported()
    assert [ANTHROPIC.fold(reported, e) for e in events] == [0, DELTA, 0]
    assert (reported.response_id, reported.model) == ("msg-1", "claude-x")
    assert reported.finish_reasons == ("end_turn",)
    assert (reported.usage.input, reported.usage.output, reported.usage.cache_read) == (11, 6, 2)


def test_objects_of_no_known_kind_are_read_by_attribute() -> None:
    """An object that is neither a mapping nor a model still folds (through getattr)."""

    class Chunk:
        id = "obj-1"
        model = "m"
        choices: tuple[object, ...] = ()
        usage = None

    reported = Reported()
    assert OPENAI.fold(reported, Chunk()) == 0
    assert (reported.response_id, reported.model) == ("obj-1", "m")


def test_only_an_empty_choices_list_with_usage_is_the_usage_only_chunk() -> None:
    """Usage without a choices list (not a chat chunk) is not hidden from the caller."""
    reported = Reported()
    assert OPENAI.fold(reported, {"usage": USAGE}) == 0
    assert OPENAI.fold(reported, {"choices": [], "usage": None}) == 0
    assert OPENAI.fold(reported, {"choices": [], "usage": USAGE}) == USAGE_ONLY
    assert reported.usage.output == 3


def _counter_cases() -> list[tuple[object, object, bool]]:
    """(provider, chunk, whether the counter hands it to the full fold)."""
    tool = {"tool_calls": [{"index": 0, "function": {"arguments": "{"}}]}
    two = {**FINAL, "choices": [*FINAL["choices"], {"index": 1, "delta": {"content": "x"}}]}  # type: ignore[misc]
    text = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "a"}}
    event = ResponseTextDeltaEvent.construct(type="response.output_text.delta", delta="Hi")

    class Chunk:
        choices: tuple[object, ...] = ()
        usage = None

    return [
        (OPENAI, ChatCompletionChunk.construct(**_chat(0)), False),
        (OPENAI, ChatCompletionChunk.model_validate(_chat(1)), False),
        (OPENAI, ChatCompletionChunk.construct(**_chat(0, delta=tool)), False),
        (OPENAI, ChatCompletionChunk.construct(**_chat(0, delta={"role": "assistant"})), False),
        (OPENAI, ChatCompletionChunk.construct(**two), False),
        (OPENAI, _chat(0, delta={"refusal": "no"}), False),
        (OPENAI, FINAL, False),
        (OPENAI, Chunk(), False),
        (OPENAI, ChatCompletionChunk.construct(**_chat(1), type="odd-extra"), True),
        (OPENAI, ChatCompletionChunk.construct(**USAGE_CHUNK), True),
        (OPENAI, USAGE_CHUNK, True),
        (OPENAI, event, True),
        (ANTHROPIC, RawContentBlockDeltaEvent.model_validate(text), False),
        (ANTHROPIC, text, False),
        (ANTHROPIC, {"type": "message_stop"}, False),
        (ANTHROPIC, {"type": "message_start", "message": {}}, True),
        (ANTHROPIC, {"type": "message_delta", "delta": {}, "usage": {"output_tokens": 1}}, True),
    ]


@pytest.mark.parametrize(("provider", "chunk", "to_full"), _counter_cases())
def test_counter_flags_output_like_fold_and_hands_the_rest_to_it(
    provider: object, chunk: object, to_full: bool
) -> None:
    """The hook of calls nothing records counts a chunk's output as ``fold`` flags it, and
    passes every chunk that may carry usage, ids or events to the full hook."""
    tally = SimpleNamespace(delta=-1, tokens=5)
    seen: list[object] = []

    def full(c: object) -> bool:
        seen.append(c)
        return False

    visible = provider.counter(tally, full)(chunk)  # type: ignore[attr-defined]
    if to_full:
        assert (visible, seen, tally.delta, tally.tokens) == (False, [chunk], -1, 5)
    else:
        out = 1 if provider.fold(Reported(), chunk) & DELTA else 0  # type: ignore[attr-defined]
        assert (visible, seen, tally.delta, tally.tokens) == (True, [], out, 5 + out)
