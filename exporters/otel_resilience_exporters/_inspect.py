"""Request inspector: what an HTTP or LLM client span says about its request, scrubbed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from ._redaction import Redactor

__all__ = ["inspect_requests"]

# Span attribute -> inspector field. Bodies (gen_ai prompt/response content) are not here:
# they reach the bundle only when redaction keeps them (capture_content opted in).
_FIELDS = {
    "http.request.method": "method",
    "url.full": "url",
    "http.response.status_code": "status",
    "http.request.resend_count": "resend_count",
    "http.request.body.size": "request_size",
    "http.response.body.size": "response_size",
    "server.address": "server",
    "error.type": "error",
    "gen_ai.system": "llm_system",
    "gen_ai.provider.name": "llm_provider",
    "gen_ai.request.model": "llm_model",
    "gen_ai.response.model": "llm_response_model",
    "gen_ai.usage.input_tokens": "input_tokens",
    "gen_ai.usage.output_tokens": "output_tokens",
}
_CONTENT = ("gen_ai.prompt", "gen_ai.completion", "gen_ai.input.messages", "gen_ai.output.messages")


def _is_request(attrs: Any) -> bool:
    return "http.request.method" in attrs or any(k.startswith("gen_ai.") for k in attrs)


def inspect_requests(spans: Iterable[ReadableSpan], redactor: Redactor) -> list[dict[str, Any]]:
    """One dict per HTTP/LLM client span: method, URL, status, timings, sizes, headers."""
    out: list[dict[str, Any]] = []
    for span in spans:
        attrs = span.attributes or {}
        if not _is_request(attrs):
            continue
        entry: dict[str, Any] = {
            "span": span.name,
            "trace_id": format(span.context.trace_id, "032x") if span.context else None,
            "start_unix_nano": span.start_time,
        }
        if span.start_time is not None and span.end_time is not None:
            entry["duration"] = (span.end_time - span.start_time) / 1e9
        for key, field in _FIELDS.items():
            if key in attrs:
                entry[field] = attrs[key]
        headers = {
            k[len("http.") :]: v
            for k, v in attrs.items()
            if k.startswith(("http.request.header.", "http.response.header."))
        }
        if headers:
            entry["headers"] = headers
        content = {k: v for k, v in attrs.items() if k.startswith(_CONTENT)}
        if content:
            entry["content"] = content
        scrubbed = redactor.scrub_attributes(entry)
        out.append(scrubbed if scrubbed is not None else entry)
    return out
