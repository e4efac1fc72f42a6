"""The patch both LLM instrumentors share: a wrapt wrapper on the SDK clients' ``request``.

Both SDKs are Stainless-generated: every resource method ends in ``SyncAPIClient.request(
cast_to, options, *, stream, stream_cls)`` (``AsyncAPIClient`` for async clients), which loops
over the SDK's own retries. We read the operation from ``options.url`` and the model from
``options.json_data``; requests we do not manage pass through unchanged. For a managed one,
each attempt of ours calls the original ``request`` once with a copy of ``options`` whose
``max_retries`` is 0 (and, for a fallback, whose body names the other model).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Collection, Mapping
from typing import Any

import wrapt
from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)
from opentelemetry.instrumentation.utils import is_instrumentation_enabled, unwrap

from otel_resilience._telemetry import Telemetry
from otel_resilience_instrumentation._http.managed import ManagedAttempt
from otel_resilience_instrumentation._llm import http
from otel_resilience_instrumentation._llm.config import load_options
from otel_resilience_instrumentation._llm.options import LlmOptions
from otel_resilience_instrumentation._llm.providers import Provider
from otel_resilience_instrumentation._llm.request import LlmRequest, Reported, read_raw_body
from otel_resilience_instrumentation._llm.runner import LlmRunner
from otel_resilience_instrumentation._llm.streaming import wrapper

__all__ = ["LlmInstrumentor"]

_log = logging.getLogger(__name__)


def _bind(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any, bool, Any]:
    """``request(cast_to, options, *, stream=False, stream_cls=None)``'s arguments."""
    cast_to = args[0] if args else kwargs.get("cast_to")
    options = args[1] if len(args) > 1 else kwargs.get("options")
    return cast_to, options, bool(kwargs.get("stream", False)), kwargs.get("stream_cls")


def _copy(options: Any) -> Any:
    copy = getattr(options, "model_copy", None) or options.copy
    return copy()


def _stall_capped(timeout: Any, client: Any, stall: float) -> Any:
    """The request's timeout (the client's when not given) with its read phase, which bounds
    the wait for each chunk, at most ``stall`` seconds."""
    default = getattr(client, "timeout", None)
    base = timeout if isinstance(timeout, (int, float)) or hasattr(timeout, "read") else default
    cls: Any = type(base) if hasattr(base, "read") else type(default)
    if isinstance(base, (int, float)):
        if not hasattr(default, "read"):
            return min(float(base), stall)
        base = cls(float(base))
    if base is None or not hasattr(base, "read"):
        return stall
    read = stall if base.read is None else min(base.read, stall)
    return cls(connect=base.connect, read=read, write=base.write, pool=base.pool)


def _is_raw(result: Any) -> bool:
    return type(result).__name__ in ("LegacyAPIResponse", "APIResponse", "AsyncAPIResponse")


#: The header by which with_raw_response / with_streaming_response ask the SDK for its raw
#: response ("true" or "raw": body read; "stream": body left unread for the caller).
_RAW_HEADER = "x-stainless-raw-response"


def _asks_raw(options: Any) -> bool:
    """Whether the caller asked for the raw response: a raw stream reaches the caller unread
    and unproxied, so its body must stay as the caller wrote it (no usage chunk added)."""
    headers = getattr(options, "headers", None)
    if not isinstance(headers, Mapping):
        return False
    return any(str(k).lower() == _RAW_HEADER for k in headers)


class _Client:
    """What one patched call needs from the SDK: the request described, the attempt options."""

    __slots__ = ("provider",)

    def __init__(self, provider: Provider) -> None:
        self.provider = provider

    def describe(self, instance: Any, options: Any, stream: bool) -> LlmRequest | None:
        try:
            operation = self.provider.operation(str(options.method), str(options.url))
            body = options.json_data
            if operation is None or not isinstance(body, Mapping):
                return None
            model = body.get("model")
            if not isinstance(model, str) or not model:
                return None
            url = instance.base_url
            return LlmRequest(
                self.provider.name,
                operation,
                model,
                body,
                stream,
                instance,
                url.host or None,
                url.port,
            )
        except Exception:  # an odd options object: not ours to manage
            return None

    def options_for(
        self, options: Any, request: LlmRequest, model: str, stall_timeout: float
    ) -> Any:
        opts = _copy(options)
        opts.max_retries = 0  # our pipeline retries; the SDK must not multiply attempts
        body = request.body
        if request.stream:
            if not _asks_raw(options):
                body = self.provider.stream_body(str(options.url), body) or body
            opts.timeout = _stall_capped(opts.timeout, request.client, stall_timeout)
        if model != request.model or body is not request.body:
            opts.json_data = {**body, "model": model}
        return opts

    def hides_usage(self, options: Any, request: LlmRequest) -> bool:
        """Whether a stream's body will ask for usage the caller did not ask for."""
        return (
            request.stream
            and not _asks_raw(options)
            and self.provider.stream_body(str(options.url), request.body) is not None
        )

    def inspect(self, result: Any) -> Reported | None:
        try:
            if _is_raw(result):
                # openai's with_raw_response: parse() caches, the caller gets the same object;
                # anthropic's: the body was read, its JSON says it; with_streaming_response's
                # body is unread, and a raw stream is the caller's to read: nothing to say.
                if getattr(result, "_stream", False) or getattr(result, "_is_sse_stream", False):
                    return None
                if type(result).__name__ != "LegacyAPIResponse":
                    body = read_raw_body(result)
                    return None if body is None else self.provider.reported(body)
                result = result.parse()
            return self.provider.reported(result)
        except Exception:
            _log.debug("otel-resilience: reading the LLM response failed", exc_info=True)
            return None


def _wrappers(runner: LlmRunner, client: _Client) -> tuple[Any, Any]:
    def sync_request(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        cast_to, options, stream, stream_cls = _bind(args, kwargs)
        request = client.describe(instance, options, stream) if options is not None else None
        if request is None or not is_instrumentation_enabled() or (stream and wrapper() is None):
            return wrapped(*args, **kwargs)
        stall = runner.options.stall_timeout

        def send(model: str, managed: ManagedAttempt) -> Any:
            opts = client.options_for(options, request, model, stall)
            return wrapped(cast_to, opts, stream=stream, stream_cls=stream_cls)

        return runner.call(request, send, client.inspect, client.hides_usage(options, request))

    async def async_request(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        cast_to, options, stream, stream_cls = _bind(args, kwargs)
        request = client.describe(instance, options, stream) if options is not None else None
        if request is None or not is_instrumentation_enabled() or (stream and wrapper() is None):
            return await wrapped(*args, **kwargs)
        stall = runner.options.stall_timeout

        async def send(model: str, managed: ManagedAttempt) -> Any:
            opts = client.options_for(options, request, model, stall)
            return await wrapped(cast_to, opts, stream=stream, stream_cls=stream_cls)

        hide = client.hides_usage(options, request)
        return await runner.acall(request, send, client.inspect, hide)

    return sync_request, async_request


class LlmInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Base of the openai and anthropic instrumentors; subclasses name the SDK and provider."""

    _module_name = ""
    _dependencies: tuple[str, ...] = ()
    _provider: Provider
    runner: LlmRunner | None = None

    def instrumentation_dependencies(self) -> Collection[str]:
        """The SDK this instrumentor patches."""
        return self._dependencies

    def _instrument(self, **kwargs: Any) -> None:
        options = kwargs.get("options")
        if options is not None and not isinstance(options, LlmOptions):
            raise ValueError(f"options must be an LlmOptions, got {options!r}")
        if options is None:
            options = load_options(kwargs)
        providers = {
            "tracer_provider": kwargs.get("tracer_provider"),
            "meter_provider": kwargs.get("meter_provider"),
            "logger_provider": kwargs.get("logger_provider"),
        }
        Telemetry(**providers)  # fails fast on a provider of the wrong kind
        module = importlib.import_module(f"{self._module_name}._base_client")
        self.runner = runner = LlmRunner(
            self._provider, options, clock=kwargs.get("clock"), **providers
        )
        sync_request, async_request = _wrappers(runner, _Client(self._provider))
        wrapt.wrap_function_wrapper(module.SyncAPIClient, "request", sync_request)
        wrapt.wrap_function_wrapper(module.AsyncAPIClient, "request", async_request)
        http.install(providers)
        self._patched(module)

    def _uninstrument(self, **kwargs: Any) -> None:
        module = importlib.import_module(f"{self._module_name}._base_client")
        unwrap(module.SyncAPIClient, "request")
        unwrap(module.AsyncAPIClient, "request")
        http.uninstall()
        self._unpatched(module)
        self.runner = None

    def _patched(self, module: Any) -> None:
        """Hook for an SDK-specific patch (anthropic's own tracing)."""

    def _unpatched(self, module: Any) -> None:
        """Undo :meth:`_patched`."""
