"""Coexistence with the official openai instrumentor (``opentelemetry-instrumentation-openai-v2``).

It wraps the resource methods (``Completions.create``, ``Embeddings.create``...), which call the
client's ``request`` that we wrap, so its GenAI span would enclose ours: two ``chat gpt-4o``
spans (and two duration metrics) per call. For the calls we manage, its wrapper is skipped: each
of its wrappers found on those methods is replaced by a gate (a wrapt ``FunctionWrapper`` over
the same wrapped function) that calls the function directly when we manage the call and its
wrapper otherwise. Gating runs when our instrumentor starts and again after each ``instrument()``
of the official one (a post-import hook wraps its ``_instrument``), so either order works. Its
``uninstrument()`` still unwraps the gate (same ``__wrapped__``); ours puts its wrappers back.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Mapping
from typing import Any

import wrapt

__all__ = ["OFFICIAL_MODULE", "Coexistence"]

_log = logging.getLogger(__name__)

#: The official instrumentor's package; its wrappers are functions of its modules.
OFFICIAL_MODULE = "opentelemetry.instrumentation.openai_v2"
#: The resource methods it wraps (and, for later releases, those it may wrap) that we manage.
_TARGETS = (
    ("openai.resources.chat.completions", ("Completions", "AsyncCompletions")),
    ("openai.resources.embeddings", ("Embeddings", "AsyncEmbeddings")),
    ("openai.resources.responses", ("Responses", "AsyncResponses")),
)
_METHOD = "create"

#: The gating of the running instrumentor, if any (what the post-import hook re-applies).
_current: Coexistence | None = None
_hooked = False


class _Gate(wrapt.FunctionWrapper):  # type: ignore[type-arg,misc,unused-ignore]
    """The official wrapper, skipped for the calls we manage."""


def _is_official(wrapper: Any) -> bool:
    fn = getattr(wrapper, "_self_wrapper", None)
    return str(getattr(fn, "__module__", "")).startswith(OFFICIAL_MODULE)


class Coexistence:
    """Gates the official instrumentor's wrappers while ours runs.

    ``manages(kwargs)`` says whether we manage a call with these keyword arguments (the SDK's
    resource methods take keyword arguments only).
    """

    def __init__(self, manages: Callable[[Mapping[str, Any]], bool]) -> None:
        self._manages = manages
        self._gated: list[tuple[Any, _Gate, Any]] = []

    def install(self) -> None:
        """Gate the official wrappers present now and those of its later ``instrument()``."""
        global _current, _hooked
        _current = self
        self.gate()
        if not _hooked:
            _hooked = True
            wrapt.register_post_import_hook(_hook_official, OFFICIAL_MODULE)

    def uninstall(self) -> None:
        """Put the official wrappers back where our gates still are."""
        global _current
        if _current is self:
            _current = None
        for cls, gate, original in self._gated:
            if cls.__dict__.get(_METHOD) is gate:
                setattr(cls, _METHOD, original)
        self._gated.clear()

    def gate(self) -> None:
        """Replace every official wrapper on the managed methods by a gate."""
        for module_name, classes in _TARGETS:
            try:
                module = importlib.import_module(module_name)
            except ImportError:
                continue
            for name in classes:
                cls = getattr(module, name, None)
                current = cls.__dict__.get(_METHOD) if cls is not None else None
                if not isinstance(current, wrapt.FunctionWrapper) or isinstance(current, _Gate):
                    continue
                if not _is_official(current):
                    continue
                gate = _Gate(current.__wrapped__, _gated(current._self_wrapper, self._manages))
                setattr(cls, _METHOD, gate)
                self._gated.append((cls, gate, current))


def _gated(theirs: Any, manages: Callable[[Mapping[str, Any]], bool]) -> Any:
    def gate(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        try:
            ours = manages(kwargs)
        except Exception:
            ours = False
        if ours:  # our GenAI span records the call: theirs would duplicate it
            return wrapped(*args, **kwargs)
        return theirs(wrapped, instance, args, kwargs)

    return gate


def _hook_official(module: Any) -> None:
    """The official package was imported: gate again after each of its ``_instrument()``."""
    cls = getattr(module, "OpenAIInstrumentor", None)
    if cls is None or isinstance(cls.__dict__.get("_instrument"), wrapt.FunctionWrapper):
        return

    def after_instrument(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        result = wrapped(*args, **kwargs)
        current = _current
        if current is not None:
            try:
                current.gate()
            except Exception:  # never break the user's instrument() call
                _log.debug("otel-resilience: gating the official spans failed", exc_info=True)
        return result

    wrapt.wrap_function_wrapper(cls, "_instrument", after_instrument)
