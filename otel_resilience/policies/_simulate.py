"""``otel-resilience simulate``: a pipeline against a synthetic dependency, in simulated time."""

from __future__ import annotations

import random
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, TextIO

from otel_resilience import semconv
from otel_resilience._fake_clock import FakeClock

__all__ = ["Report", "simulate"]

_OK = "ok"  # what the synthetic dependency returns; anything else was served by a Fallback


@dataclass(slots=True)
class Report:
    """What a user of the pipeline would have seen."""

    calls: int = 0
    succeeded: int = 0
    fallbacks: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    attempts: list[int] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    transitions: list[tuple[float, str, str, str]] = field(default_factory=list)
    events: Counter[str] = field(default_factory=Counter)
    #: ``section.name`` of each shared object with ``tokens()`` (retry budgets): (lowest, final).
    tokens: dict[str, tuple[float, float]] = field(default_factory=dict)

    def render(self, out: TextIO) -> None:
        """Print the report."""
        n = max(self.calls, 1)
        failed = sum(self.errors.values())
        print(
            f"success rate:        {100 * self.succeeded / n:.1f}% "
            f"({self.succeeded} succeeded, {self.fallbacks} served by a fallback, {failed} failed)",
            file=out,
        )
        for name, count in self.errors.most_common():
            print(f"  {name}: {count}", file=out)
        total = sum(self.attempts)
        print(
            f"attempts per call:   mean {total / n:.2f}, max {max(self.attempts, default=0)} "
            f"({total} attempts)",
            file=out,
        )
        p50, p95, p99 = (_percentile(self.latencies, q) for q in (0.5, 0.95, 0.99))
        print(
            f"latency (s):         p50 {p50:.3f}  p95 {p95:.3f}  p99 {p99:.3f}  "
            f"max {max(self.latencies, default=0.0):.3f}",
            file=out,
        )
        print(f"breaker transitions: {len(self.transitions)}", file=out)
        for at, name, prev, new in self.transitions[:20]:
            print(f"  {at:8.2f}s  {name}: {prev} -> {new}", file=out)
        if len(self.transitions) > 20:
            print(f"  ... {len(self.transitions) - 20} more", file=out)
        for name, (lowest, final) in sorted(self.tokens.items()):
            print(f"tokens:              {name}: lowest {lowest:g}, final {final:g}", file=out)


def simulate(
    path: str,
    pipeline: str,
    *,
    failure_rate: float,
    duration: float,
    rate: float = 10.0,
    latency: float = 0.05,
    seed: int = 0,
    progress: TextIO | None = None,
    environ: Any = None,
) -> Report:
    """Run ``duration`` simulated seconds of calls (``rate`` per second, one at a time).

    Each attempt takes a log-normal latency around ``latency`` (median) and fails with
    ``ConnectionError`` with probability ``failure_rate``. Raises ValueError on bad input.
    """
    from otel_resilience.policies.registry import load_policies

    if not 0.0 <= failure_rate <= 1.0:
        raise ValueError(f"failure_rate must be in [0, 1], got {failure_rate!r}")
    for name, value in (("duration", duration), ("rate", rate), ("latency", latency)):
        if not value > 0:
            raise ValueError(f"{name} must be > 0, got {value!r}")
    clock = FakeClock()  # auto-advancing: a sleep moves time at once
    recorder = _Recorder(clock)
    policies = load_policies(path, clock=clock, logger_provider=recorder, environ=environ)
    handle = policies.pipeline(pipeline)
    if any(s.strategy_name == semconv.STRATEGY_HEDGING for s in handle.current.strategies):
        raise ValueError("simulate drives sync calls; a pipeline with hedging needs async calls")
    report = Report(transitions=recorder.transitions, events=recorder.events)
    dependency = _Dependency(clock, random.Random(seed), failure_rate, latency)

    # Strategies draw their jitter from the random module: seed it for a repeatable run, and
    # give the process its own random state back afterwards.
    saved = random.getstate()
    random.seed(seed)
    try:
        meters = _token_holders(policies._built.objects)
        _drive(handle, dependency, clock, report, int(duration * rate), rate, progress, meters)
    finally:
        random.setstate(saved)
    return report


def _drive(
    handle: Any,
    dependency: Any,
    clock: FakeClock,
    report: Report,
    total: int,
    rate: float,
    progress: TextIO | None,
    meters: dict[str, Any],
) -> None:
    """Call ``total`` times, one every ``1/rate`` seconds (later if the previous call lasts)."""
    for i in range(total):
        arrival = i / rate
        now = clock.monotonic()
        if now < arrival:
            clock.advance(arrival - now)
        started, before = clock.monotonic(), dependency.attempts
        try:
            result = handle.call(dependency)
        except Exception as exc:
            report.errors[type(exc).__name__] += 1
        else:
            if result == _OK:
                report.succeeded += 1
            else:
                report.fallbacks += 1
        report.calls += 1
        report.attempts.append(dependency.attempts - before)
        report.latencies.append(clock.monotonic() - started)
        for name, holder in meters.items():
            now_tokens = float(holder.tokens())
            lowest = report.tokens.get(name, (now_tokens, now_tokens))[0]
            report.tokens[name] = (min(lowest, now_tokens), now_tokens)
        if progress is not None and (i + 1) % max(total // 50, 1) == 0:
            done = (i + 1) / total
            progress.write(f"\r[{'#' * int(done * 40):<40}] {done:4.0%}")
            progress.flush()
    if progress is not None:
        progress.write("\n")


class _Dependency:
    """The synthetic dependency: log-normal latency, fails with ConnectionError at random."""

    def __init__(self, clock: FakeClock, rng: random.Random, failure_rate: float, latency: float):
        self.clock = clock
        self.rng = rng
        self.failure_rate = failure_rate
        self.latency = latency
        self.attempts = 0

    def __call__(self) -> str:
        self.attempts += 1
        self.clock.sleep(self.rng.lognormvariate(0.0, 0.5) * self.latency)
        if self.rng.random() < self.failure_rate:
            raise ConnectionError("synthetic failure")
        return _OK


def _token_holders(objects: dict[tuple[str, ...], tuple[str, Any]]) -> dict[str, Any]:
    """Shared objects with a ``tokens()`` count (retry budgets), by ``section.name``."""
    return {
        f"{identity[1]}.{identity[2]}": obj
        for identity, (_, obj) in objects.items()
        if identity[0] == "shared" and callable(getattr(obj, "tokens", None))
    }


def _percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (0.0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


class _Recorder:
    """A minimal logger provider: keeps breaker transitions and counts other log events."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.transitions: list[tuple[float, str, str, str]] = []
        self.events: Counter[str] = Counter()

    def get_logger(self, *args: Any, **kwargs: Any) -> _Recorder:
        return self

    def emit(self, record: Any) -> None:
        attrs = record.attributes or {}
        if record.event_name == semconv.LOG_EVENT_CIRCUIT_STATE_CHANGE:
            self.transitions.append(
                (
                    self.clock.monotonic(),
                    str(attrs.get(semconv.CIRCUIT_BREAKER_NAME)),
                    str(attrs.get(semconv.CIRCUIT_BREAKER_PREVIOUS_STATE)),
                    str(attrs.get(semconv.CIRCUIT_BREAKER_STATE)),
                )
            )
        else:
            self.events[str(record.event_name)] += 1


def progress_stream() -> TextIO | None:
    """stderr when it is a terminal (a progress bar is noise in logs and pipes)."""
    return sys.stderr if sys.stderr.isatty() else None
