"""ABTest: sticky, weighted assignment; outcomes per arm; the report's statistics."""

from __future__ import annotations

from collections import Counter

import pytest

from otel_resilience import Pipeline, semconv
from otel_resilience.ab_test import ABTest
from otel_resilience.stats import two_proportion_z_test, welch_t_test
from otel_resilience.testing import FakeClock


def test_assignment_is_balanced_over_100k_keys():
    """Equal weights give each arm a third of 100k keys within 1 %; weights are honoured."""
    keys = [f"user-{i}" for i in range(100_000)]
    ab = ABTest(variants={"b": str, "c": str}, key=lambda user: user, name="exp")
    counts = Counter(ab.assign(k) for k in keys)
    assert set(counts) == {"control", "b", "c"}
    for arm in counts:
        assert counts[arm] / len(keys) == pytest.approx(1 / 3, abs=0.01), arm
    weighted = ABTest(
        variants={"b": str}, key=lambda user: user, weights={"control": 1, "b": 3}, name="w"
    )
    counts = Counter(weighted.assign(k) for k in keys[:40_000])
    assert counts["b"] / 40_000 == pytest.approx(0.75, abs=0.01)


def test_assignment_is_sticky_and_salted_by_name():
    """A key always lands on the same arm; another experiment name reshuffles keys."""
    one = ABTest(variants={"b": str}, key=lambda user: user, name="one")
    two = ABTest(variants={"b": str}, key=lambda user: user, name="two")
    keys = [f"k{i}" for i in range(2000)]
    first = [one.assign(k) for k in keys]
    assert first == [one.assign(k) for k in keys]
    agreement = sum(a == b for a, b in zip(first, (two.assign(k) for k in keys), strict=True))
    assert 800 < agreement < 1200  # independent, not identical


def test_outcomes_per_arm_match_ground_truth(run, otel_capture):
    """Counts, success rates, latencies and metric per arm equal what was served; the report's
    tests equal the stats functions applied to those ground-truth numbers."""
    clock = FakeClock()

    def control(i: int) -> str:
        clock.advance(0.10 + (i % 7) * 0.01)
        if i % 10 == 0:
            raise ConnectionError("control failed")
        return "x" * (i % 5)

    def variant(i: int) -> str:
        clock.advance(0.12 + (i % 5) * 0.01)
        if i % 4 == 0:
            raise ConnectionError("variant failed")
        return "y" * (i % 3 + 1)

    ab = ABTest(variants={"b": variant}, key=lambda i: i, metric=len, name="exp")
    pipeline = Pipeline("p", ab, clock=clock, **otel_capture.providers)
    served: dict[str, list[tuple[bool, float, int | None]]] = {"control": [], "b": []}
    for i in range(400):
        arm = ab.assign(i)
        before = clock.monotonic()
        try:
            metric = len(run(pipeline, control, i))
            ok = True
        except ConnectionError:
            ok, metric = False, None
        served[arm].append((ok, clock.monotonic() - before, metric))
    report = ab.report()
    for arm, rows in served.items():
        summary = report.arms[arm]
        assert summary.calls == len(rows)
        assert summary.successes == sum(ok for ok, _, _ in rows)
        assert summary.mean_latency == pytest.approx(sum(t for _, t, _ in rows) / len(rows))
    b, c = served["b"], served["control"]
    comparison = report.comparisons["b"]
    expected = two_proportion_z_test(
        sum(ok for ok, _, _ in b), len(b), sum(ok for ok, _, _ in c), len(c)
    )
    assert comparison.success == expected
    lat = welch_t_test([t for _, t, _ in b], [t for _, t, _ in c])
    assert comparison.latency.p_value == pytest.approx(lat.p_value, rel=1e-9)
    met = welch_t_test([m for *_, m in b if m is not None], [m for *_, m in c if m is not None])
    assert comparison.metric.statistic == pytest.approx(met.statistic, rel=1e-9)
    spans = otel_capture.spans("p")
    assert Counter(s.attributes[semconv.VARIANT] for s in spans) == {
        arm: len(rows) for arm, rows in served.items()
    }
    points = otel_capture.metric_points(semconv.METRIC_VARIANT_DURATION, **{semconv.VARIANT: "b"})
    assert sum(p.count for p in points) == len(b)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"variants": {}}, "variants"),
        ({"variants": {"control": str}}, "variants"),
        ({"variants": {"b": 3}}, "variants"),
        ({"weights": {"b": 1}}, "weights"),
        ({"weights": {"b": -1, "control": 1}}, "weights"),
        ({"weights": {"b": 0, "control": 0}}, "weights"),
        ({"metric": "len"}, "metric"),
        ({"key": 1}, "key"),
        ({"control": ""}, "control"),
        ({"max_samples": 1}, "max_samples"),
    ],
)
def test_invalid_options_name_the_field(kwargs, field):
    """Invalid configuration fails at construction with a ValueError naming the field."""
    options = {"variants": {"b": str}, **kwargs}
    with pytest.raises(ValueError, match=field):
        ABTest(**options)
