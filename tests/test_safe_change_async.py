"""Async candidates and variants: awaited in async pipelines, run to completion from sync ones."""

from __future__ import annotations

import asyncio

from otel_resilience import ABTest, Pipeline, Rollout, Shadow


async def _double(x: int) -> int:
    await asyncio.sleep(0)
    return 2 * x


async def _same(x: int) -> int:
    await asyncio.sleep(0)
    return x


def test_async_shadow_candidate_is_compared_from_async_and_sync_calls():
    """An async candidate runs as a task under acall and via asyncio.run under call."""
    shadow = Shadow(candidate=_same, max_in_flight=32)
    pipeline = Pipeline("p", shadow)

    async def main() -> list[int]:
        out = [await pipeline.acall(_double, i) for i in range(10)]
        assert await shadow.adrain(10)
        return out

    assert asyncio.run(main()) == [2 * i for i in range(10)]
    assert (shadow.stats.compared, shadow.stats.agreed) == (10, 1)  # only 0 == 2 * 0
    assert [pipeline.call(lambda x: x, i) for i in range(5)] == list(range(5))
    assert shadow.drain(10)
    assert (shadow.stats.compared, shadow.stats.agreed) == (15, 6)


def test_async_rollout_candidate_and_ab_variant_are_awaited():
    """Under acall, a Rollout's async candidate and an ABTest's async variant are awaited."""
    rollout = Pipeline("r", Rollout(candidate=_double, schedule=[(0, 1.0)]))
    ab = ABTest(variants={"b": _double}, weights={"control": 0, "b": 1})
    tested = Pipeline("a", ab)

    async def main() -> tuple[int, int]:
        return await rollout.acall(_same, 4), await tested.acall(_same, 5)

    assert asyncio.run(main()) == (8, 10)
    assert ab.report().arms["b"].successes == 1
