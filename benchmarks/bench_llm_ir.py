"""Repeatable per-chunk instruction counts of the openai stream wrappers, for callgrind.

``bench_llm.py --callgrind`` reads its streams from a server in another process, so the
client's instruction count per chunk depends on timing (how many SSE events one socket read
brings): its per-chunk figures move by thousands of instructions between runs, more than the
differences it should show. This driver removes the timing: the SDK's httpx2 client reads each
stream from an in-memory transport (``httpx2.MockTransport``) that hands out one SSE event per
read, as a server flushing each token would. The clients are ``bench_llm``'s (plain SDK, the
official instrumentor, ours with telemetry off, ours recording into SDK providers). Garbage
collection is off while measuring.

``python benchmarks/bench_llm_ir.py [--async]`` runs valgrind over the four variants (a few
minutes) and prints instructions per chunk, each variant above plain, and the issue's targets:
ours with telemetry off at most 2,000 instructions (0.5 us on this machine, about 4,000
instructions per us) above plain, ours recording at most 1.1x the official instrumentor's
overhead. ``--driver VARIANT [--async]`` is what each valgrind run executes: warm-up streams,
then R streams of 1 word and R streams of ``LONG_WORDS`` words, each batch inside its own
``functools.reduce`` call, so ``--dump-after=functools_reduce`` gives one profile per batch and
their difference divided by R x (``LONG_WORDS`` - 1) is one chunk.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import functools
import gc
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_llm
import httpx2
from _callgrind import batch_totals
from llm_stream_support import openai_events  # tests/instrumentation, on bench_llm's path

VARIANTS = ("plain", "official", "off", "sdk")
LABELS = {"plain": bench_llm.PLAIN, "official": bench_llm.OFFICIAL}
LABELS |= {"off": bench_llm.OFF, "sdk": bench_llm.ON}
REQUESTS = 10
LONG_WORDS = 101
OFF_TARGET = 2_000
RECORDING_TARGET = 1.1


def _handler(use_async: bool) -> Any:
    """The transport's answer: a stream of the requested length, one event per read."""

    def answer(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        words = LONG_WORDS if body["model"] == bench_llm.LONG else 1
        usage = bool((body.get("stream_options") or {}).get("include_usage"))
        events = openai_events(["tok"] * words, usage)
        if use_async:

            async def agen() -> Any:
                for event in events:
                    yield event

            content: Any = agen()
        else:
            content = iter(events)
        headers = {"content-type": "text/event-stream"}
        return httpx2.Response(200, headers=headers, content=content)

    return answer


def driver(variant: str, use_async: bool) -> None:
    """What one valgrind run executes (see the module's docstring)."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(bench_llm._DropSpans()))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    sdk = {"tracer_provider": tracer_provider, "meter_provider": meter_provider}
    official = bench_llm.OfficialInstrumentor()
    official.instrument(**sdk)
    label = LABELS[variant]
    providers = {"plain": None, "official": None, "off": {}, "sdk": sdk}[variant]
    transport = httpx2.MockTransport(_handler(use_async))
    client = bench_llm._client("http://127.0.0.1:9/v1", providers, use_async, transport)
    messages = bench_llm.MESSAGES
    if not use_async:
        create = bench_llm._callers({label: client})[label]
        drain = collections.deque(maxlen=0).extend

        def batch(model: str) -> None:
            for _ in range(REQUESTS):
                drain(create(model=model, messages=messages, stream=True))
    else:
        resource = client.chat.completions
        original = bench_llm.AsyncCompletions.create.__wrapped__
        acreate = resource.create if label == bench_llm.OFFICIAL else None
        acreate = acreate or functools.partial(original, resource)
        loop = asyncio.new_event_loop()

        async def streams(model: str) -> None:
            for _ in range(REQUESTS):
                async for _chunk in await acreate(model=model, messages=messages, stream=True):
                    pass

        def batch(model: str) -> None:
            loop.run_until_complete(streams(model))

    batch(bench_llm.SHORT)
    batch(bench_llm.LONG)
    gc.disable()
    for model in (bench_llm.SHORT, bench_llm.LONG):
        functools.reduce(lambda _, m: batch(m), [model], None)
    if use_async:  # the SDK's SSE generators end here, not in "Task was destroyed" at exit
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
    official.uninstrument()


def _per_chunk(variant: str, use_async: bool) -> int:
    """Instructions per chunk of one variant, from one valgrind run."""
    batches = batch_totals(__file__, [variant] + (["--async"] if use_async else []))
    return (batches[-1] - batches[-2]) // (REQUESTS * (LONG_WORDS - 1))


def main() -> int:
    """Print the table, or (``--driver``) run one variant's streams."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--driver", choices=VARIANTS)
    parser.add_argument("--async", dest="use_async", action="store_true")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    args = parser.parse_args()
    if args.driver:
        driver(args.driver, args.use_async)
        return 0
    figures = {v: _per_chunk(v, args.use_async) for v in ["plain", *args.variants] if v}
    plain = figures["plain"]
    print(f"openai chat stream, {'async' if args.use_async else 'sync'}, instructions per chunk")
    for variant, count in figures.items():
        print(f"{LABELS[variant]:<24}{count:>10,}{count - plain:>+10,}")
    if "off" in figures:
        over = figures["off"] - plain
        mark = "ok" if over <= OFF_TARGET else "missed"
        print(f"telemetry off: {over:+,} above plain (target {OFF_TARGET:,}): {mark}")
    if "sdk" in figures and "official" in figures:
        ratio = (figures["sdk"] - plain) / max(1, figures["official"] - plain)
        mark = "ok" if ratio <= RECORDING_TARGET else "missed"
        target = f"target {RECORDING_TARGET}x"
        print(f"recording: {ratio:.2f}x the official's overhead ({target}): {mark}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
