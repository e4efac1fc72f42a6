"""Hostile candidates, keys, compares and metrics that raise BaseException never fail the call."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from otel_resilience import Pipeline
from otel_resilience.ab_test import ABTest
from otel_resilience.rollout import Rollout
from otel_resilience.shadow import Shadow


class Hostile(BaseException):
    """Not an Exception: what a careless candidate (or a test double) may raise."""


def _hostile(*args: Any, **kwargs: Any) -> Any:
    raise Hostile("boom")


def test_sync_shadow_candidate_raising_base_exception_gives_its_slot_back():
    """Each shadow call that raised a BaseException completes and frees its slot."""
    shadow = Shadow(candidate=_hostile, max_in_flight=1)
    pipeline = Pipeline("p", shadow)
    for i in range(3):
        assert pipeline.call(lambda x: x, i) == i
        assert shadow.drain(5)
    stats = shadow.stats
    assert (stats.sampled, stats.dropped, stats.completed, stats.failed) == (3, 0, 3, 3)


def test_async_shadow_candidate_raising_base_exception_gives_its_slot_back():
    """An async candidate's BaseException is recorded as a failure, not left in its task."""

    async def candidate(x: int) -> int:
        raise Hostile("boom")

    async def primary(x: int) -> int:
        return x

    shadow = Shadow(candidate=candidate, max_in_flight=1)
    pipeline = Pipeline("p", shadow)

    async def main() -> list[int]:
        answers = []
        for i in range(3):
            answers.append(await pipeline.acall(primary, i))
            assert await shadow.adrain(5)
        return answers

    assert asyncio.run(main()) == [0, 1, 2]
    stats = shadow.stats
    assert (stats.sampled, stats.dropped, stats.completed, stats.failed) == (3, 0, 3, 3)


def test_shadow_compare_raising_base_exception_counts_a_compare_error():
    """A compare function raising a BaseException is counted like one raising an Exception."""
    shadow = Shadow(candidate=lambda x: x, compare=_hostile, max_in_flight=1)
    pipeline = Pipeline("p", shadow)
    for i in range(2):
        assert pipeline.call(lambda x: x, i) == i
        assert shadow.drain(5)
    stats = shadow.stats
    assert (stats.completed, stats.compared, stats.compare_errors) == (2, 0, 2)


@pytest.mark.parametrize("kind", ["shadow", "rollout", "ab_test"])
def test_key_raising_base_exception_does_not_fail_the_call(run, kind):
    """A key function raising a BaseException falls back to a random draw."""
    strategy: Any
    if kind == "shadow":
        strategy = Shadow(candidate=lambda x: x, key=_hostile, percent=50)
    elif kind == "rollout":
        strategy = Rollout(candidate=lambda x: x, schedule=[(0, 0.5)], key=_hostile)
    else:
        strategy = ABTest(variants={"b": lambda x: x}, key=_hostile)
    assert run(Pipeline("p", strategy), lambda x: x + 1, 1) in (1, 2)
    if kind == "shadow":
        assert strategy.drain(5)


def test_rollout_candidate_raising_base_exception_is_served_by_the_primary(run):
    """A candidate's BaseException is a candidate failure: the primary answers the call."""
    rollout = Rollout(candidate=_hostile, schedule=[(0, 1.0)], min_calls=1000)
    assert run(Pipeline("p", rollout), lambda x: x * 2, 4) == 8


def test_rollout_passes_keyboard_interrupt_through(run):
    """KeyboardInterrupt from the candidate is the user's, not the candidate's failure."""

    def candidate(x: int) -> int:
        raise KeyboardInterrupt

    rollout = Rollout(candidate=candidate, schedule=[(0, 1.0)])
    with pytest.raises(KeyboardInterrupt):
        run(Pipeline("p", rollout), lambda x: x, 1)


def test_ab_metric_raising_base_exception_records_no_metric(run):
    """A metric raising a BaseException records the call without a metric value."""
    ab = ABTest(variants={"b": lambda x: x}, metric=_hostile, weights={"control": 1, "b": 0})
    assert run(Pipeline("p", ab), lambda x: x * 3, 2) == 6
    arm = ab.report().arms["control"]
    assert arm.calls == 1
