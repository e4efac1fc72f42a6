"""A response of no known client and its adapter, for the HTTP core's tests."""

from __future__ import annotations

from typing import Any


class FakeResponse:
    """A response of no known client: status and headers only."""

    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.status_code = status
        self.headers = headers or {}


class FakeAdapter:
    """A ResponseAdapter for FakeResponse; bodies are 'read' at once."""

    def status(self, response: Any) -> int:
        return int(response.status_code)

    def protocol_version(self, response: Any) -> str | None:
        return "1.1"

    def watch_body(self, response: Any, done: Any) -> None:
        done(None)
