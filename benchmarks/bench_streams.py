"""Per-chunk cost of ``monitor_stream`` and of the LLM stream proxy against the plain stream.

Every variant reads one chunk per statement from an endless in-memory stream: the plain
generator (what an SDK stream's ``__iter__`` gives), the same generator under
``monitor_stream``, and under ``wrap_stream`` (the proxy the LLM instrumentors return, with
hooks that do nothing: the runner's own per-chunk work is measured by bench_llm.py), read with
a ``for`` loop's iterator and with ``next()``. Telemetry is off (nothing records).
Target (issue 10): the proxy costs at most 0.5 us per chunk above the plain stream.
``--quick`` for a short run, ``--check`` to exit 1 on a missed target,
``--callgrind VARIANT [--chunks N] [--async]`` reads N chunks (100,000) untimed, for
``valgrind --tool=callgrind`` (run two N and divide the difference).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import Section, Stats, Variant, bench_main
from otel_resilience_instrumentation._llm.stream import wrap_stream

from otel_resilience import monitor_stream

TARGET_NS = 500.0
PLAIN = "plain generator"
MONITORED = "monitor_stream"
PROXY_FOR = "wrap_stream, for-loop iterator"
PROXY_NEXT = "wrap_stream, next()"
PROXY_AFOR = "wrap_stream, async-for iterator"
PROXY_ANEXT = "wrap_stream, __anext__()"
CHUNK = object()


def endless() -> Iterator[object]:
    """The plain stream: a generator, as the SDKs' ``Stream.__iter__``."""
    while True:
        yield CHUNK


async def aendless() -> AsyncIterator[object]:
    """Async twin of endless."""
    while True:
        yield CHUNK


class SdkStream:
    """The smallest stand-in for an SDK stream object: iterable, closable."""

    def __init__(self, source: Any) -> None:
        self._source = source

    def __iter__(self) -> Any:
        return self._source

    def close(self) -> None:
        """Nothing to release."""


class AsyncSdkStream:
    """Async twin of SdkStream."""

    def __init__(self, source: Any) -> None:
        self._source = source

    def __aiter__(self) -> Any:
        return self._source

    async def close(self) -> None:
        """Nothing to release."""


class NoHooks:
    """Hooks that do nothing: only the proxy's own per-chunk cost is measured."""

    def on_chunk(self, chunk: Any) -> bool:
        return True

    def on_state_change(self, previous: str, state: str) -> None:
        pass

    def convert_error(self, error: BaseException) -> BaseException:
        return error

    def on_end(self, outcome: str, error: BaseException | None, metrics: Any) -> None:
        pass


def _sync_namespace() -> dict[str, Any]:
    proxy = wrap_stream(SdkStream(endless()), CHUNK, NoHooks())
    return {
        "plain": endless(),
        "monitored": monitor_stream(endless(), name="bench"),
        "proxy_for": iter(wrap_stream(SdkStream(endless()), CHUNK, NoHooks())),
        "proxy": proxy,
    }


def _async_namespace() -> dict[str, Any]:
    # Made inside the harness's loop on first use: the proxy starts on the running loop.
    return {
        "plain": aendless(),
        "monitored": monitor_stream(aendless(), name="bench"),
        "proxy_for": wrap_stream(AsyncSdkStream(aendless()), CHUNK, NoHooks()).__aiter__(),
        "proxy": wrap_stream(AsyncSdkStream(aendless()), CHUNK, NoHooks()),
    }


def _sections(budget: float) -> list[Section]:
    ns = _sync_namespace()
    ans = _async_namespace()
    return [
        Section(
            "stream per chunk, telemetry off - sync",
            [
                Variant(PLAIN, "next(plain)", ns),
                Variant(MONITORED, "next(monitored)", ns),
                Variant(PROXY_FOR, "next(proxy_for)", ns),
                Variant(PROXY_NEXT, "next(proxy)", ns),
            ],
            budget,
        ),
        Section(
            "stream per chunk, telemetry off - async",
            [
                Variant(PLAIN, "await plain.__anext__()", ans),
                Variant(MONITORED, "await monitored.__anext__()", ans),
                Variant(PROXY_AFOR, "await proxy_for.__anext__()", ans),
                Variant(PROXY_ANEXT, "await proxy.__anext__()", ans),
            ],
            budget,
            is_async=True,
        ),
    ]


def _report(section: Section, stats: dict[str, Stats]) -> bool:
    print(f"\n== {section.title} ==")
    print(f"{'variant':<36}{'ns/chunk':>9}{'+-':>6}{'ratio':>8}{'above plain':>13}")
    plain = stats[PLAIN].median
    for v in section.variants:
        st = stats[v.label]
        print(
            f"{v.label:<36}{st.median:>9.0f}{st.spread:>6.0f}{st.median / plain:>7.2f}x"
            f"{st.median - plain:>10.0f} ns"
        )
    worst = max(stats[v.label].median for v in section.variants if "wrap_stream" in v.label)
    passed = worst - plain <= TARGET_NS
    print(
        f"{'PASS' if passed else 'FAIL'} proxy per chunk: {worst - plain:.0f} ns above the plain "
        f"stream (target <= {TARGET_NS:.0f} ns)"
    )
    return passed


def _untimed(variant: str, chunks: int, use_async: bool) -> None:
    if not use_async:
        stream = {
            "plain": endless,
            "monitored": lambda: monitor_stream(endless(), name="bench"),
            "proxy": lambda: iter(wrap_stream(SdkStream(endless()), CHUNK, NoHooks())),
            "proxy_next": lambda: wrap_stream(SdkStream(endless()), CHUNK, NoHooks()),
        }[variant]()
        for _ in range(chunks):
            next(stream)
        return

    async def go() -> None:
        astream: Any = {
            "plain": aendless,
            "monitored": lambda: monitor_stream(aendless(), name="bench"),
            "proxy": lambda: wrap_stream(AsyncSdkStream(aendless()), CHUNK, NoHooks()),
            "proxy_next": lambda: wrap_stream(AsyncSdkStream(aendless()), CHUNK, NoHooks()),
        }[variant]()
        if variant == "proxy":  # what ``async for`` reads: the proxy's own iteration
            astream = astream.__aiter__()
        for _ in range(chunks):
            await astream.__anext__()

    asyncio.run(go())


def main(argv: list[str] | None = None) -> int:
    """Measure both sections (or, with --callgrind, read chunks untimed)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--callgrind", choices=["plain", "monitored", "proxy", "proxy_next"])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--async", dest="use_async", action="store_true")
    args, rest = parser.parse_known_args(argv)
    if args.callgrind:
        _untimed(args.callgrind, args.chunks, args.use_async)
        return 0
    return bench_main(
        rest,
        description=__doc__.splitlines()[0],
        title="otel-resilience streams benchmark",
        budgets=(2.0, 8.0),
        benches=_sections,
        report=_report,
    )


if __name__ == "__main__":
    sys.exit(main())
