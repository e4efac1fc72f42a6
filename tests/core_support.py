"""Helpers shared by the core's tests (imported by name; tests/ is on sys.path)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from typing import Any

#: Prepended to a script to make ``opentelemetry.sdk`` unimportable in that interpreter.
BLOCK_SDK = """
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name == "opentelemetry.sdk" or name.startswith("opentelemetry.sdk."):
            raise ImportError("SDK blocked for this test")
        return None
sys.meta_path.insert(0, _Block())
"""


def run_python(code: str, *, block_sdk: bool = False) -> str:
    """Run ``code`` in a fresh interpreter (global providers unset); return its stdout."""
    source = (BLOCK_SDK if block_sdk else "") + textwrap.dedent(code)
    proc = subprocess.run(
        [sys.executable, "-c", source],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def http_error(status: int, **headers: str) -> Any:
    """A real ``httpx.HTTPStatusError`` carrying a real response with ``headers``."""
    import httpx

    request = httpx.Request("GET", "http://127.0.0.1:9/")
    response = httpx.Response(status, headers=headers, request=request)
    return httpx.HTTPStatusError(f"HTTP {status}", request=request, response=response)


def http_response(status: int, **headers: str) -> Any:
    """A real ``httpx.Response`` with ``headers`` (a failure by default when 429 or 5xx)."""
    import httpx

    return httpx.Response(status, headers=headers, request=httpx.Request("GET", "http://x/"))


def counted(*outcomes: Any) -> Callable[..., Any]:
    """A plain function raising or returning ``outcomes`` in turn, then echoing its arguments."""
    calls: list[tuple[Any, ...]] = []

    def fn(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        if len(calls) <= len(outcomes):
            outcome = outcomes[len(calls) - 1]
            if isinstance(outcome, BaseException):
                raise outcome
            return outcome
        return ("echo", args, kwargs)

    fn.calls = calls  # type: ignore[attr-defined]
    return fn
