"""The provider-neutral description of one LLM call, and what a response reported."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["LlmRequest", "Reported", "Usage", "read_raw_body"]


@dataclass(frozen=True, slots=True)
class LlmRequest:
    """One logical LLM call, as a fallback callable receives it.

    ``provider`` is ``gen_ai.provider.name`` (``"openai"``, ``"anthropic"``), ``operation``
    ``gen_ai.operation.name``, ``model`` the model asked, ``body`` the JSON body the SDK sends
    (read it, do not change it), ``stream`` whether the caller asked for a stream, ``client``
    the SDK client the caller used, ``server_address``/``server_port`` its base URL's.
    """

    provider: str
    operation: str
    model: str
    body: Mapping[str, Any]
    stream: bool = False
    client: Any = None
    server_address: str | None = None
    server_port: int | None = None

    def with_model(self, model: str) -> LlmRequest:
        """The same request for another model."""
        return dataclasses.replace(self, model=model, body={**self.body, "model": model})


@dataclass(slots=True)
class Usage:
    """Tokens a provider reported (``None``: not reported). ``input`` includes cached tokens."""

    input: int | None = None
    output: int | None = None
    cache_read: int | None = None
    cache_creation: int | None = None
    reasoning: int | None = None

    @property
    def total(self) -> int:
        """Input + output tokens (0 for what was not reported)."""
        return (self.input or 0) + (self.output or 0)

    @property
    def reported(self) -> bool:
        """Whether the provider reported any input or output count."""
        return self.input is not None or self.output is not None


@dataclass(slots=True)
class Reported:
    """What one response said about itself."""

    response_id: str | None = None
    model: str | None = None
    finish_reasons: tuple[str, ...] = ()
    usage: Usage = dataclasses.field(default_factory=Usage)


def read_raw_body(result: Any) -> Any:
    """The JSON of an SDK raw response whose body the SDK read already (anthropic's
    with_raw_response, sync or async: its ``parse()`` needs ``await`` on async clients), else
    ``None`` (with_streaming_response: the body is the caller's to read, not ours)."""
    http_response = getattr(result, "http_response", None)
    if http_response is None or not hasattr(http_response, "_content"):
        return None
    return http_response.json()
