"""Slow compares: never on the event loop; text_similarity stays cheap on long answers."""

from __future__ import annotations

import asyncio
import difflib
import random
import threading

import pytest

from otel_resilience import Pipeline
from otel_resilience.shadow import Shadow, text_similarity
from otel_resilience.shadow.compare import WORD_LIMIT


def test_async_compare_runs_off_the_event_loop():
    """While a compare function is still running, the loop serves the next call."""
    entered, answered = threading.Event(), threading.Event()

    def compare(primary: int, candidate: int) -> bool:
        entered.set()
        return answered.wait(5)  # False only if the loop could not serve a call meanwhile

    async def candidate(x: int) -> int:
        return x

    async def primary(x: int) -> int:
        return x

    shadow = Shadow(candidate=candidate, compare=compare, percent=100)
    pipeline = Pipeline("p", shadow)

    async def main() -> None:
        assert await pipeline.acall(primary, 1) == 1
        assert await asyncio.to_thread(entered.wait, 5)
        assert await pipeline.acall(primary, 2) == 2  # served while compare still runs
        answered.set()
        assert await shadow.adrain(10)

    asyncio.run(main())
    stats = shadow.stats
    assert (stats.compared, stats.agreed) == (2, 2)


def test_a_hung_compare_does_not_hold_up_asyncio_run_at_exit():
    """asyncio.run returns while a compare function still runs (its thread is a daemon)."""
    entered, gate, done = threading.Event(), threading.Event(), threading.Event()

    def compare(primary: int, candidate: int) -> bool:
        entered.set()
        gate.wait(5)
        done.set()
        return True

    async def same(x: int) -> int:
        return x

    shadow = Shadow(candidate=same, compare=compare)
    pipeline = Pipeline("p", shadow)

    async def main() -> None:
        assert await pipeline.acall(same, 1) == 1
        assert await asyncio.to_thread(entered.wait, 5)

    try:
        asyncio.run(main())
        assert not done.is_set()  # asyncio.run did not wait for the compare
    finally:
        gate.set()
    assert shadow.drain(10)


def _words(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    return [
        rng.choice(["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]) for _ in range(count)
    ]


def test_long_texts_are_compared_by_words():
    """Past CHAR_LIMIT characters the ratio is over words (the character ratio is quadratic)."""
    a, b = _words(1, 800), _words(2, 800)
    expected = difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()
    assert text_similarity(" ".join(a), " ".join(b)) == pytest.approx(expected)
    short_a, short_b = "the cat sat", "the cat sat down"
    assert text_similarity(short_a, short_b) == pytest.approx(
        difflib.SequenceMatcher(None, short_a, short_b, autojunk=False).ratio()
    )


def test_huge_texts_share_of_common_words():
    """Past WORD_LIMIT words: the share of words in common, in any order."""
    a = _words(3, WORD_LIMIT)
    b = list(reversed(a[: WORD_LIMIT // 2])) + ["omega"] * (WORD_LIMIT // 2)
    # a has WORD_LIMIT words, b shares half of them: 2 * (WORD_LIMIT / 2) / (2 * WORD_LIMIT).
    assert text_similarity(" ".join(a), " ".join(b)) == pytest.approx(0.5)
