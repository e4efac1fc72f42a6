"""The per-chunk hooks of streams nothing records (:meth:`Provider.counter`).

With no span and no metric, a chunk matters only for ``.metrics`` (its output) and for hiding
the usage chunk we asked for. These hooks read just that, in one frame per chunk (``view``
inlined for pydantic v2 models without extras, the SDKs' chunks), and hand any chunk that may
carry more (usage, ids, events) to ``full``, the hook folding everything into the response's
report. A chunk with output sets ``tally.delta`` to 1 and adds one to ``tally.tokens``; any
other chunk they keep sets ``tally.delta`` to 0.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from otel_resilience_instrumentation._llm.fields import _KINDS, _V2
from otel_resilience_instrumentation._llm.fields import view as _view

__all__ = ["anthropic_events", "openai_chat"]


def openai_chat(
    tally: Any, full: Callable[[Any], bool], reported: Any = None
) -> Callable[[Any], bool]:
    """openai chat chunks; usage chunks and typed events (the responses API) go to ``full``.

    With ``reported`` (the response's report, when a span records), chunks also go to ``full``
    until the response's id and model are known, and when a choice carries a finish reason:
    the span's fields are read where they are, and only there."""
    kinds, v2, view = _KINDS, _V2, _view

    def on_chunk(chunk: Any) -> bool:
        # view() inlined for pydantic v2 models without extras (the SDK's chunks)
        if kinds.get(type(chunk)) == v2 and not chunk.__pydantic_extra__:
            fields = chunk.__dict__
        else:
            fields = view(chunk)
        if fields.get("usage") is not None or fields.get("type") is not None:
            return full(chunk)  # usage (maybe hidden), or a responses API event
        if reported is not None and not (reported.response_id and reported.model):
            return full(chunk)  # the span's id and model, until the stream gave them
        tally.delta = 0
        choices = fields.get("choices")
        if choices.__class__ is list:
            for choice in choices:
                if kinds.get(type(choice)) == v2 and not choice.__pydantic_extra__:
                    one = choice.__dict__
                else:
                    one = view(choice)
                if reported is not None and one.get("finish_reason") is not None:
                    return full(chunk)  # the span's finish reasons
                delta = one.get("delta")
                if delta is None:
                    continue
                if kinds.get(type(delta)) == v2 and not delta.__pydantic_extra__:
                    out = delta.__dict__
                else:
                    out = view(delta)
                if out.get("content") or out.get("tool_calls") or out.get("refusal"):
                    tally.delta = 1
                    tally.tokens += 1
                    break
        return True

    return on_chunk


def anthropic_events(tally: Any, full: Callable[[Any], bool]) -> Callable[[Any], bool]:
    """anthropic events; ``message_start`` and ``message_delta`` (usage, stop reason) go to
    ``full``."""
    kinds, v2, view = _KINDS, _V2, _view

    def on_chunk(chunk: Any) -> bool:
        if kinds.get(type(chunk)) == v2 and not chunk.__pydantic_extra__:
            kind = chunk.__dict__.get("type")
        else:
            kind = view(chunk).get("type")
        if kind == "content_block_delta":
            tally.delta = 1
            tally.tokens += 1
            return True
        # == rather than `in` a set: a dict event's "type" may be unhashable
        if kind == "message_start" or kind == "message_delta":  # noqa: PLR1714
            return full(chunk)  # usage (the reported output count), stop reason
        tally.delta = 0
        return True

    return on_chunk
