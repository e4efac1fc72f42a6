"""What the instrumentors know of each provider's API: operations, request parameters, usage.

Read from the SDKs' pydantic models by attribute (never by importing their types), so a field
a release renames is simply not recorded; every reader here is wrapped by its caller.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from otel_resilience import semconv as s
from otel_resilience_instrumentation._llm import counting as _counting
from otel_resilience_instrumentation._llm.fields import get as _get
from otel_resilience_instrumentation._llm.fields import view as _view
from otel_resilience_instrumentation._llm.request import Reported, Usage

__all__ = ["ANTHROPIC", "DELTA", "OPENAI", "USAGE_ONLY", "Provider"]

_RAW_HEADER = "x-stainless-raw-response"
#: Flags of :meth:`Provider.fold`: the chunk carries generated output (text, tool arguments,
#: reasoning), counted as one output token until the provider reports the real count ...
DELTA = 1
#: ... the chunk is the usage-only chunk :meth:`Provider.stream_body` asked for.
USAGE_ONLY = 2


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _path(url: str) -> str:
    return url.split("?", 1)[0].rstrip("/")


class Provider:
    """One provider's API shapes. ``operations`` maps a request path to the operation name."""

    name = ""
    operations: ClassVar[Mapping[str, str]] = {}
    #: JSON body field -> request attribute (values that are numbers, strings or lists).
    params: ClassVar[Mapping[str, str]] = {}

    def operation(self, method: str, url: str) -> str | None:
        """The operation of a request, or ``None`` for one the instrumentor does not manage."""
        if method.lower() != "post":
            return None
        return self.operations.get(_path(url))

    def request_attributes(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The ``gen_ai.request.*`` attributes the body sets."""
        out: dict[str, Any] = {}
        for key, attr in self.params.items():
            value = body.get(key)
            if value is None or isinstance(value, (dict, bool)):
                continue
            if isinstance(value, str) and attr in _LIST_ATTRS:
                value = [value]
            if isinstance(value, (list, tuple)):
                value = [str(v) for v in value]
            elif not isinstance(value, (int, float, str)):
                continue
            out[attr] = value
        if body.get("stream") is True:
            out[s.GEN_AI_REQUEST_STREAM] = True
        return out

    def reported(self, result: Any) -> Reported:
        """What a (parsed) result says: id, model, finish reasons, usage."""
        out = Reported()
        out.response_id = _str(_get(result, "id"))
        out.model = _str(_get(result, "model"))
        out.usage = self.usage(_get(result, "usage"))
        out.finish_reasons = self.finish_reasons(result)
        return out

    def content(self, body: Mapping[str, Any], result: Any) -> dict[str, Any]:
        """Opt-in content: the prompt, system instructions and answer, as the provider shaped
        them (JSON-serialisable values; the caller turns them into JSON strings)."""
        out: dict[str, Any] = {}
        messages = body.get("messages", body.get("input"))
        if messages is not None:
            out[s.GEN_AI_INPUT_MESSAGES] = messages
        system = body.get("system", body.get("instructions"))
        if system is not None:
            out[s.GEN_AI_SYSTEM_INSTRUCTIONS] = system
        answer = self.answer(result)
        if answer is not None:
            out[s.GEN_AI_OUTPUT_MESSAGES] = answer
        return out

    def answer(self, result: Any) -> Any:
        """The output messages of a result, or ``None``."""
        for name in ("choices", "content", "output"):
            value = _get(result, name)
            if isinstance(value, list):
                return [_dump(v) for v in value]
        return None

    def usage(self, usage: Any) -> Usage:
        """The usage block of a response or chunk."""
        raise NotImplementedError

    def finish_reasons(self, result: Any) -> tuple[str, ...]:
        """The finish reasons of a response."""
        raise NotImplementedError

    def fold(self, reported: Reported, chunk: Any) -> int:
        """Fold one stream chunk (or event) into ``reported``; :data:`DELTA` and
        :data:`USAGE_ONLY` flags. Per chunk: one read of each field that exists, no
        exceptions, and the end's work (finish reasons, usage) only on the chunks carrying it."""
        raise NotImplementedError

    def counter(
        self, tally: Any, full: Callable[[Any], bool], reported: Reported | None = None
    ) -> Callable[[Any], bool]:
        """The per-chunk hook of a stream: it reads only whether a chunk carries output
        (``tally.delta`` = 1 and ``tally.tokens`` + 1, else ``tally.delta`` = 0) and hands every
        chunk that may carry more (usage, events; with ``reported``, when a span records, also
        the response's id, model and finish reasons) to ``full``, the hook that folds
        everything. One frame per chunk on the common path."""
        return full

    def stream_body(self, url: str, body: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """The body of a streamed request asking for usage when the caller did not (then the
        usage-only chunk is hidden from the caller), or ``None`` to send it unchanged."""
        return None


_LIST_ATTRS = frozenset({s.GEN_AI_REQUEST_STOP_SEQUENCES, s.GEN_AI_REQUEST_ENCODING_FORMATS})


def _dump(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    return dump(mode="json", exclude_none=True) if callable(dump) else value


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class _OpenAI(Provider):
    name = s.GEN_AI_PROVIDER_OPENAI
    operations: ClassVar[Mapping[str, str]] = {
        "/chat/completions": s.GEN_AI_OPERATION_CHAT,
        "/responses": s.GEN_AI_OPERATION_CHAT,
        "/embeddings": s.GEN_AI_OPERATION_EMBEDDINGS,
    }
    params: ClassVar[Mapping[str, str]] = {
        "max_tokens": s.GEN_AI_REQUEST_MAX_TOKENS,
        "max_completion_tokens": s.GEN_AI_REQUEST_MAX_TOKENS,
        "max_output_tokens": s.GEN_AI_REQUEST_MAX_TOKENS,
        "temperature": s.GEN_AI_REQUEST_TEMPERATURE,
        "top_p": s.GEN_AI_REQUEST_TOP_P,
        "stop": s.GEN_AI_REQUEST_STOP_SEQUENCES,
        "frequency_penalty": s.GEN_AI_REQUEST_FREQUENCY_PENALTY,
        "presence_penalty": s.GEN_AI_REQUEST_PRESENCE_PENALTY,
        "seed": s.GEN_AI_REQUEST_SEED,
        "n": s.GEN_AI_REQUEST_CHOICE_COUNT,
        "encoding_format": s.GEN_AI_REQUEST_ENCODING_FORMATS,
    }

    def usage(self, usage: Any) -> Usage:
        if usage is None:
            return Usage()
        # chat completions and embeddings say prompt/completion; responses say input/output.
        inp = _int(_get(usage, "prompt_tokens"))
        if inp is None:
            inp = _int(_get(usage, "input_tokens"))
        out = _int(_get(usage, "completion_tokens"))
        if out is None:
            out = _int(_get(usage, "output_tokens"))
        details_in = _get(usage, "prompt_tokens_details") or _get(usage, "input_tokens_details")
        details_out = _get(usage, "completion_tokens_details") or _get(
            usage, "output_tokens_details"
        )
        return Usage(
            input=inp,
            output=out,
            cache_read=_int(_get(details_in, "cached_tokens")) if details_in else None,
            reasoning=_int(_get(details_out, "reasoning_tokens")) if details_out else None,
        )

    def finish_reasons(self, result: Any) -> tuple[str, ...]:
        choices = _get(result, "choices")
        if isinstance(choices, list):
            return tuple(r for c in choices if isinstance(r := _get(c, "finish_reason"), str))
        status = _get(result, "status")  # a Response of the responses API
        return (status,) if isinstance(status, str) else ()

    def fold(self, reported: Reported, chunk: Any) -> int:
        fields = _view(chunk)
        kind = fields.get("type")  # chat chunks have none: a dict miss, no exception
        if kind is not None and isinstance(kind, str):
            if kind.startswith("response."):  # responses API events
                response = fields.get("response")
                if response is not None:
                    self._response_event(reported, kind, response)
                return DELTA if kind.endswith(".delta") else 0
            # some other event: read like a chunk, but no output
            return self._chat(reported, fields) & USAGE_ONLY
        return self._chat(reported, fields)

    def _response_event(self, reported: Reported, kind: str, response: Any) -> None:
        done = self.reported(response)
        reported.response_id = done.response_id or reported.response_id
        reported.model = done.model or reported.model
        if done.usage.reported:
            reported.usage = done.usage
        if kind in ("response.completed", "response.incomplete", "response.failed"):
            reported.finish_reasons = done.finish_reasons

    def _chat(self, reported: Reported, fields: Mapping[str, Any]) -> int:
        if not reported.response_id:
            reported.response_id = _str(fields.get("id"))
        if not reported.model:
            reported.model = _str(fields.get("model"))
        flags = 0
        choices = fields.get("choices")
        if isinstance(choices, list):
            for choice in choices:
                one = _view(choice)
                reason = one.get("finish_reason")
                if reason is not None and isinstance(reason, str):
                    reported.finish_reasons += (reason,)
                delta = one.get("delta")
                if delta is not None and not flags:
                    out = _view(delta)
                    if out.get("content") or out.get("tool_calls") or out.get("refusal"):
                        flags = DELTA
        else:  # not a chat chunk: maybe a Response (its status is its finish reason)
            status = fields.get("status")
            if isinstance(status, str):
                reported.finish_reasons += (status,)
        usage = fields.get("usage")
        if usage is not None:
            reported.usage = self.usage(usage)
            if choices == []:
                flags |= USAGE_ONLY
        return flags

    def counter(
        self, tally: Any, full: Callable[[Any], bool], reported: Reported | None = None
    ) -> Callable[[Any], bool]:
        return _counting.openai_chat(tally, full, reported)

    def stream_body(self, url: str, body: Mapping[str, Any]) -> Mapping[str, Any] | None:
        if _path(url) != "/chat/completions":  # responses report usage in response.completed
            return None
        options = body.get("stream_options")
        if isinstance(options, Mapping) and options.get("include_usage") is not None:
            return None  # the caller decided
        extra = dict(options) if isinstance(options, Mapping) else {}
        return {**body, "stream_options": {**extra, "include_usage": True}}


class _Anthropic(Provider):
    name = s.GEN_AI_PROVIDER_ANTHROPIC
    operations: ClassVar[Mapping[str, str]] = {
        "/v1/messages": s.GEN_AI_OPERATION_CHAT,
        "/v1/messages/count_tokens": s.GEN_AI_OPERATION_COUNT_TOKENS,
    }
    params: ClassVar[Mapping[str, str]] = {
        "max_tokens": s.GEN_AI_REQUEST_MAX_TOKENS,
        "temperature": s.GEN_AI_REQUEST_TEMPERATURE,
        "top_p": s.GEN_AI_REQUEST_TOP_P,
        "top_k": s.GEN_AI_REQUEST_TOP_K,
        "stop_sequences": s.GEN_AI_REQUEST_STOP_SEQUENCES,
    }

    def usage(self, usage: Any) -> Usage:
        if usage is None:
            return Usage()
        inp = _int(_get(usage, "input_tokens"))
        read = _int(_get(usage, "cache_read_input_tokens"))
        created = _int(_get(usage, "cache_creation_input_tokens"))
        if inp is not None:  # anthropic counts cached tokens apart; the semconv wants them in
            inp += (read or 0) + (created or 0)
        return Usage(
            input=inp,
            output=_int(_get(usage, "output_tokens")),
            cache_read=read,
            cache_creation=created,
        )

    def reported(self, result: Any) -> Reported:
        out = super().reported(result)
        if _get(result, "type") != "message":  # count_tokens: a count, not tokens spent
            out.usage = Usage()
        return out

    def finish_reasons(self, result: Any) -> tuple[str, ...]:
        reason = _get(result, "stop_reason")
        return (reason,) if isinstance(reason, str) else ()

    def counter(
        self, tally: Any, full: Callable[[Any], bool], reported: Reported | None = None
    ) -> Callable[[Any], bool]:
        # Every field the span needs comes in message_start / message_delta, which go to
        # ``full`` anyway: the same hook whether a span records or not.
        return _counting.anthropic_events(tally, full)

    def fold(self, reported: Reported, chunk: Any) -> int:
        fields = _view(chunk)
        kind = fields.get("type")
        if kind == "content_block_delta":
            return DELTA
        if kind == "message_start":
            message = fields.get("message")
            reported.response_id = _str(_get(message, "id"))
            reported.model = _str(_get(message, "model"))
            reported.usage = self.usage(_get(message, "usage"))
        elif kind == "message_delta":
            reason = _get(fields.get("delta"), "stop_reason")
            if isinstance(reason, str):
                reported.finish_reasons = (reason,)
            usage = fields.get("usage")
            out = _int(_get(usage, "output_tokens")) if usage is not None else None
            if out is not None:  # cumulative, per the API
                reported.usage.output = out
        return 0


OPENAI = _OpenAI()
ANTHROPIC = _Anthropic()
