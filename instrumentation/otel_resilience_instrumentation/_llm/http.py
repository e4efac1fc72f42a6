"""The HTTP attempt layer the LLM instrumentors install when the user did not instrument
httpx2 (or httpx, which openai still accepts as ``http_client``) with our HTTP instrumentor.

It patches the same place as that instrumentor but acts only inside LLM-managed attempts
(everything else passes straight through), and steps aside whenever the user's own
``resilience_httpx2`` / ``resilience_httpx`` instrumentation is on (that one then traces the
managed attempts); when that one is on already, it is not installed at all. Installed once for
both LLM instrumentors (counted), removed with the last.
"""

from __future__ import annotations

import importlib
import threading
from typing import Any

import wrapt

from otel_resilience_instrumentation._http import HttpRunner
from otel_resilience_instrumentation._http.managed import managed_attempt
from otel_resilience_instrumentation._httpx_like import _METHOD, _Adapter, _wrappers

__all__ = ["install", "uninstall"]

_lock = threading.Lock()
#: module name -> [count of installs, sync gate, async gate]
_installed: dict[str, list[Any]] = {}


def _user_instrumented(name: str) -> bool:
    if name == "httpx2":
        from otel_resilience_instrumentation.httpx2 import ResilienceHttpx2Instrumentor as Inst
    else:
        from otel_resilience_instrumentation.httpx import ResilienceHttpxInstrumentor as Inst
    return bool(Inst().is_instrumented_by_opentelemetry)


def _gates(name: str, module: Any, providers: dict[str, Any]) -> tuple[Any, Any]:
    runner: HttpRunner[Any] = HttpRunner(_Adapter(module), **providers)
    sync_send, async_send = _wrappers(module, runner)

    def sync_gate(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        if managed_attempt() is None or _user_instrumented(name):
            return wrapped(*args, **kwargs)
        return sync_send(wrapped, instance, args, kwargs)

    async def async_gate(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        if managed_attempt() is None or _user_instrumented(name):
            return await wrapped(*args, **kwargs)
        return await async_send(wrapped, instance, args, kwargs)

    return sync_gate, async_gate


def install(providers: dict[str, Any]) -> None:
    """Install the gated attempt layer on httpx2 and httpx (those importable)."""
    with _lock:
        for name in ("httpx2", "httpx"):
            entry = _installed.get(name)
            if entry is not None:
                entry[0] += 1
                continue
            try:
                module = importlib.import_module(name)
            except ImportError:
                continue
            if _user_instrumented(name):
                # Theirs traces our attempts. Wrapping on top of theirs would let their
                # uninstrument() (which unwraps the outermost wrapper) take ours instead.
                _installed[name] = [1, None, None]
                continue
            sync_gate, async_gate = _gates(name, module, providers)
            wrapt.wrap_function_wrapper(module.Client, _METHOD, sync_gate)
            wrapt.wrap_function_wrapper(module.AsyncClient, _METHOD, async_gate)
            _installed[name] = [1, sync_gate, async_gate]


def _remove(cls: Any, gate: Any) -> None:
    """Take our wrapper out of ``cls``'s method, wherever it sits in a chain of wrappers."""
    holder: Any = cls
    attr = _METHOD
    current = cls.__dict__.get(_METHOD)
    while current is not None and hasattr(current, "_self_wrapper"):  # wrapt's wrappers
        if getattr(current, "_self_wrapper", None) is gate:
            setattr(holder, attr, current.__wrapped__)
            return
        holder, attr = current, "__wrapped__"
        current = current.__wrapped__


def uninstall() -> None:
    """Undo one :func:`install`; the last one removes the wrappers."""
    with _lock:
        for name, entry in list(_installed.items()):
            entry[0] -= 1
            if entry[0] > 0:
                continue
            del _installed[name]
            if entry[1] is None:
                continue
            module = importlib.import_module(name)
            _remove(module.Client, entry[1])
            _remove(module.AsyncClient, entry[2])
