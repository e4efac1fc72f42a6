"""Per-request and per-chunk cost of the openai instrumentors against one local LLM server.

Four ``openai.OpenAI`` clients send chat completions to the same server (the tests' local
stand-in, ``tests/instrumentation/llm_server.py``, in a child process on 127.0.0.1, kept-alive
connections), in interleaved rounds in this one process (``_harness``):

* **plain**: the SDK with nothing patched on its path;
* **official**: under ``opentelemetry-instrumentation-openai-v2`` (its ``instrument()``,
  recording into an SDK TracerProvider and MeterProvider);
* **ours, telemetry off**: under our wrapper, with the API's default (no-op) providers;
* **ours, SDK recording**: under our wrapper, recording into the same SDK providers.

Both recording variants use the same span processor (``SimpleSpanProcessor`` to an exporter that
drops the spans) and the same MeterProvider (an in-memory reader, never collected). Ours records
more than the official one: the GenAI span plus an HTTP span per attempt, with the pipeline's
attributes.

Every instrumentation must coexist in one process, so each is applied to its own client: the
official instrumentor is instrumented for real (it wraps the resource methods, such as
``Completions.create``, globally), and the other variants call the original method. Ours is the
very wrapper ``instrument()`` installs (``_llm.patch._wrappers`` around an ``LlmRunner``) on a
client subclass's ``request``, with the gated HTTP attempt layer ``instrument()`` installs on a
subclass of the SDK's httpx2 client; a check request through each client confirms who records
what.

Sections: a chat completion (per request), and streamed chat completions of 1 and of
``--chunks`` words: per-chunk cost is the difference between the two divided by the extra chunks
(so the per-request part cancels out). Targets (issue 10): per chunk, ours with telemetry off at
most 0.5 us above plain, ours recording at most 1.1x the official instrumentor's per-chunk
overhead. Times are the calling thread's CPU time (``thread_time_ns``): the server runs in
another process. ``--quick`` for a short run, ``--check`` to exit 1 on a missed target.

``--callgrind {plain,official,off,sdk} --chunks N [--async] [--requests R]`` sends R (10)
streamed requests of N words through one variant, untimed, inside one ``functools.reduce``
call, for ``valgrind --tool=callgrind --collect-atstart=no --toggle-collect=functools_reduce``
(the server's process is not traced). Per chunk: the difference between two N over R times
their difference (the per-request part cancels out).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import functools
import multiprocessing
import platform
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "instrumentation"))

import time

import openai
import wrapt
from _harness import Section, Stats, Variant, run_section
from openai._base_client import AsyncAPIClient, SyncAPIClient
from openai.resources.chat.completions import AsyncCompletions, Completions
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor as OfficialInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from otel_resilience_instrumentation._llm import http as llm_http
from otel_resilience_instrumentation._llm.options import LlmOptions
from otel_resilience_instrumentation._llm.patch import _Client, _wrappers
from otel_resilience_instrumentation._llm.providers import OPENAI
from otel_resilience_instrumentation._llm.runner import LlmRunner

OFF_CHUNK_TARGET_US = 0.5  # ours telemetry off, per chunk above plain
RECORDING_CHUNK_TARGET = 1.1  # ours recording / official, per-chunk overheads over plain
PLAIN, OFFICIAL, OFF, ON = "plain SDK", "official instrumentor", "ours, telemetry off", "ours, SDK"
SHORT, LONG = "bench-short", "bench-long"
MESSAGES = [{"role": "user", "content": "Say hello"}]


def _serve(conn: Any, chunks: int) -> None:
    """Child process: the local LLM server; its URL is sent back through ``conn``."""
    import threading

    import llm_server

    with llm_server.running_llm_server() as server:
        server.model_defaults[SHORT] = llm_server.Behaviour(text="hello", burst=True)
        server.model_defaults[LONG] = llm_server.Behaviour(
            text=" ".join(["tok"] * chunks), burst=True
        )
        conn.send(server.openai_url)
        threading.Event().wait()


class _DropSpans(SpanExporter):
    """Exports nothing; during the check it notes each span's scope and kind."""

    def __init__(self) -> None:
        self.seen: Counter[tuple[str, str]] | None = None

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self.seen is not None:
            self.seen.update((s.instrumentation_scope.name, s.kind.name) for s in spans)  # type: ignore[union-attr]
        return SpanExportResult.SUCCESS


_ORIGINAL_REQUEST = SyncAPIClient.request
_ORIGINAL_AREQUEST = AsyncAPIClient.request


def _client(
    url: str, providers: dict[str, Any] | None, use_async: bool = False, transport: Any = None
) -> Any:
    """A client; with ``providers`` (``{}`` for telemetry off) wrapped the way ours does;
    ``transport`` replaces the network (``bench_llm_ir.py``)."""
    base: type[Any] = openai.AsyncOpenAI if use_async else openai.OpenAI
    http_cls: type[Any] = openai.DefaultAsyncHttpxClient if use_async else openai.DefaultHttpxClient
    request = _ORIGINAL_AREQUEST if use_async else _ORIGINAL_REQUEST
    cls: type[Any] = type("PlainOpenAI", (base,), {"request": request})
    if providers is not None:
        runner = LlmRunner(OPENAI, LlmOptions(), **providers)
        ours = _wrappers(runner, _Client(OPENAI))[use_async]
        cls = type("OursOpenAI", (base,), {"request": wrapt.FunctionWrapper(request, ours)})
        gate = llm_http._gates("httpx2", __import__("httpx2"), providers)[use_async]
        send = wrapt.FunctionWrapper(http_cls._send_single_request, gate)
        http_cls = type("OursHttpx", (http_cls,), {"_send_single_request": send})
    http = http_cls(verify=False) if transport is None else http_cls(transport=transport)
    return cls(base_url=url, api_key="sk-bench", http_client=http)


def _clients(url: str, sdk: dict[str, Any]) -> dict[str, openai.OpenAI]:
    return {
        PLAIN: _client(url, None),
        OFFICIAL: _client(url, None),
        OFF: _client(url, {}),
        ON: _client(url, sdk),
    }


def _callers(clients: dict[str, openai.OpenAI]) -> dict[str, Any]:
    """Each variant's ``create``: the official one goes through its global patch."""
    original = Completions.create.__wrapped__  # under the official instrumentor's wrapper
    out = {}
    for label, client in clients.items():
        if label == OFFICIAL:
            out[label] = client.chat.completions.create
        else:
            resource = client.chat.completions
            out[label] = lambda _r=resource, **kw: original(_r, **kw)
    return out


EXPECTED = {
    PLAIN: Counter(),
    OFFICIAL: Counter({("opentelemetry.instrumentation.openai_v2", "CLIENT"): 1}),
    OFF: Counter(),
    ON: Counter({("otel_resilience_instrumentation", "CLIENT"): 2}),
}


def _check(callers: dict[str, Any], sink: _DropSpans) -> None:
    """One plain and one streamed request per variant: each records what its label says."""
    for label, create in callers.items():
        for stream in (False, True):
            sink.seen = Counter()
            result = create(model=SHORT, messages=MESSAGES, stream=stream)
            text = (
                "".join(c.choices[0].delta.content or "" for c in result if c.choices)
                if stream
                else result.choices[0].message.content
            )
            if text != "hello" or sink.seen != EXPECTED[label]:
                kind = "stream" if stream else "request"
                raise SystemExit(f"{label} ({kind}): text {text!r}, spans {dict(sink.seen)}")
    sink.seen = None


def _section(
    title: str, callers: dict[str, Any], model: str, stream: bool, budget: float
) -> Section:
    stmt = (
        "_drain(_create(model=_model, messages=_messages, stream=True))"
        if stream
        else ("_create(model=_model, messages=_messages)")
    )
    variants = [
        Variant(
            label,
            stmt,
            {
                "_create": create,
                "_model": model,
                "_messages": MESSAGES,
                "_drain": collections.deque(maxlen=0).extend,
            },
        )
        for label, create in callers.items()
    ]
    return Section(title, variants, budget, clock=time.thread_time_ns)


def _table(title: str, stats: dict[str, Stats], per: int = 1) -> dict[str, float]:
    """Print one section's medians (us per call, or per chunk); the overheads over plain."""
    base = stats[PLAIN].median
    print(f"\n== {title} ==\n{'variant':<24}{'median us':>10}{'+-':>7}{'overhead us':>13}")
    over = {}
    for label, st in stats.items():
        over[label] = (st.median - base) / per
        print(
            f"{label:<24}{st.median / 1e3:>10.1f}{st.spread / 1e3:>7.1f}{over[label] / 1e3:>13.2f}"
        )
    return over


CALLGRIND = {"plain": PLAIN, "official": OFFICIAL, "off": OFF, "sdk": ON}


def _callgrind(label: str, url: str, sdk: dict[str, Any], use_async: bool, requests: int) -> None:
    """Untimed: ``requests`` streams of the long model through one variant, drained, in one
    ``functools.reduce`` (after a warm-up request outside it)."""
    providers = {PLAIN: None, OFFICIAL: None, OFF: {}, ON: sdk}[label]
    client = _client(url, providers, use_async)
    if not use_async:
        create = _callers({label: client})[label]
        drain = collections.deque(maxlen=0).extend

        def step(_: Any, __: Any) -> None:
            drain(create(model=LONG, messages=MESSAGES, stream=True))
    else:
        resource = client.chat.completions
        original = AsyncCompletions.create.__wrapped__
        acreate = resource.create if label == OFFICIAL else functools.partial(original, resource)
        loop = asyncio.new_event_loop()

        async def one() -> None:
            async for _ in await acreate(model=LONG, messages=MESSAGES, stream=True):
                pass

        def step(_: Any, __: Any) -> None:
            loop.run_until_complete(one())

    step(None, None)
    functools.reduce(step, range(requests), None)
    if use_async:
        loop.run_until_complete(client.close())
        loop.close()
    else:
        client.close()


def main(argv: list[str] | None = None) -> int:
    """Start the server, check the variants, measure the sections, print tables and targets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--chunks", type=int, default=100, help="words in the long stream")
    parser.add_argument("--callgrind", choices=sorted(CALLGRIND), help="one variant, untimed")
    parser.add_argument("--async", dest="use_async", action="store_true", help="with --callgrind")
    parser.add_argument("--requests", type=int, default=10, help="with --callgrind")
    args = parser.parse_args(argv)
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    server = ctx.Process(target=_serve, args=(child, args.chunks), daemon=True)
    server.start()
    sink = _DropSpans()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(sink))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    sdk = {"tracer_provider": tracer_provider, "meter_provider": meter_provider}
    official = OfficialInstrumentor()
    official.instrument(**sdk)
    try:
        if not parent.poll(30):
            raise SystemExit("the benchmark server did not start")
        url = parent.recv()
        if args.callgrind:
            _callgrind(CALLGRIND[args.callgrind], url, sdk, args.use_async, args.requests)
            return 0
        clients = _clients(url, sdk)
        callers = _callers(clients)
        _check(callers, sink)
        print(
            f"otel-resilience LLM benchmark: Python {platform.python_version()}, "
            f"openai {openai.__version__}, one keep-alive connection per client"
        )
        budget = 2.0 if args.quick else 10.0
        results = {}
        for key, title, model, stream in (
            ("request", "chat.completions.create, per request", SHORT, False),
            ("short", "stream of 1 word (3 chunks), per request", SHORT, True),
            ("long", f"stream of {args.chunks} words, per request", LONG, True),
        ):
            results[key], _, _ = run_section(_section(title, callers, model, stream, budget))
            _table(title, results[key])
        per_chunk = {
            label: (results["long"][label].median - results["short"][label].median) / args.chunks
            for label in callers
        }
        over = {label: per_chunk[label] - per_chunk[PLAIN] for label in callers}
        print(f"\n== per chunk (long - short) / {args.chunks} ==")
        for label in callers:
            print(f"{label:<24}{per_chunk[label]:>10.0f} ns{over[label]:>10.0f} ns over plain")
        off_ok = over[OFF] / 1e3 <= OFF_CHUNK_TARGET_US
        ratio = over[ON] / over[OFFICIAL] if over[OFFICIAL] > 0 else float("inf")
        rec_ok = ratio <= RECORDING_CHUNK_TARGET
        print(
            f"{'PASS' if off_ok else 'FAIL'} ours telemetry off: {over[OFF] / 1e3:.2f} us per "
            f"chunk above plain (target <= {OFF_CHUNK_TARGET_US} us)"
        )
        print(
            f"{'PASS' if rec_ok else 'FAIL'} ours recording {over[ON]:.0f} ns per chunk vs "
            f"official {over[OFFICIAL]:.0f} ns: {ratio:.2f}x (target <= {RECORDING_CHUNK_TARGET}x)"
        )
        for client in clients.values():
            client.close()
    finally:
        official.uninstrument()
        server.terminate()
        server.join(5)
    return 1 if args.check and not (off_ok and rec_ok) else 0


if __name__ == "__main__":
    sys.exit(main())
