"""Per-phase duration samples (bounded) and their percentile report."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["PhaseStats", "ProfileReport", "percentile", "summarise"]

#: Durations kept per phase (the most recent): percentiles cost a sort of at most this many.
SAMPLES = 1000


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile ``q`` (0-100) of an ascending list (0.0 when empty)."""
    if not ordered:
        return 0.0
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class PhaseStats:
    """Durations (seconds) of one phase across the recorded runs."""

    count: int
    p50: float
    p95: float
    p99: float
    max: float
    mean: float


@dataclass(frozen=True, slots=True)
class ProfileReport:
    """Per-phase percentiles of a profile; ``slowest`` is the phase with the highest p50."""

    name: str
    phases: dict[str, PhaseStats]
    slowest: str | None

    def __str__(self) -> str:
        lines = [f"profile {self.name!r}: {len(self.phases)} phase(s)"]
        lines.append(f"  {'phase':<28} {'runs':>6} {'p50 ms':>10} {'p95 ms':>10} {'p99 ms':>10}")
        for phase, s in sorted(self.phases.items(), key=lambda kv: -kv[1].p50):
            lines.append(
                f"  {phase[:28]:<28} {s.count:>6} {s.p50 * 1e3:>10.3f} {s.p95 * 1e3:>10.3f} "
                f"{s.p99 * 1e3:>10.3f}"
            )
        if self.slowest is not None:
            lines.append(f"slowest phase: {self.slowest}")
        return "\n".join(lines)


def summarise(name: str, samples: Iterable[tuple[str, deque[float]]]) -> ProfileReport:
    """The report of ``samples`` (phase name, durations)."""
    phases: dict[str, PhaseStats] = {}
    for phase, durations in samples:
        ordered = sorted(durations)
        if not ordered:
            continue
        phases[phase] = PhaseStats(
            count=len(ordered),
            p50=percentile(ordered, 50),
            p95=percentile(ordered, 95),
            p99=percentile(ordered, 99),
            max=ordered[-1],
            mean=sum(ordered) / len(ordered),
        )
    slowest = max(phases, key=lambda p: phases[p].p50) if phases else None
    return ProfileReport(name, phases, slowest)
