"""The LLM examples' provider: a base URL given on the command line, or else the local stand-in
for the openai and anthropic APIs that the tests use (tests/instrumentation/llm_server.py),
started in this process with the example's scenario scripted.

Run the stand-in alone with ``python tests/instrumentation/llm_server.py`` (it prints its URL).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parents[1] / "tests" / "instrumentation"


def server_module() -> Any:
    """The local server module (``Behaviour`` helpers such as ``server_error``, ``paced``)."""
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    import llm_server

    return llm_server


@contextmanager
def provider(
    argv: list[str], api: str, scenario: Callable[[Any], None]
) -> Iterator[tuple[str, Any]]:
    """(the ``api``'s base URL, the local server or None): ``argv[1]`` if given, else a local
    server with ``scenario(server)`` applied, stopped on exit. ``api``: openai or anthropic."""
    if len(argv) > 1:
        yield argv[1].rstrip("/"), None
        return
    with server_module().running_llm_server() as server:
        scenario(server)
        yield (server.openai_url if api == "openai" else server.url), server


def api_key(name: str) -> str:
    """The API key from ``name`` in the environment (any value does for the local server)."""
    return os.environ.get(name, "sk-local-example")


def exporter() -> str | None:
    """``pretty`` span lines on stderr unless the environment chose an exporter."""
    chosen = ("OTEL_RESILIENCE_EXPORTER", "OTEL_TRACES_EXPORTER")
    return None if any(os.environ.get(name) for name in chosen) else "pretty"
