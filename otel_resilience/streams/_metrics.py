"""What a monitored stream measures: an I/O-free meter fed with timestamps, and its snapshot.

Time spent paused is cut out of every figure: the meter keeps an "active" clock (real time minus
paused time), so gaps, rates and the rolling window never see a pause.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

__all__ = ["StreamMetrics"]


@dataclass(frozen=True, slots=True)
class StreamMetrics:
    """A frozen snapshot of a stream's figures (seconds; paused time excluded).

    ``None`` means "not known yet": no chunk arrived, or no token counter was given.
    """

    chunks: int = 0
    bytes: int = 0
    tokens: int | None = None
    #: From the start of the stream (its first read, or the logical start given) to the first chunk.
    time_to_first_chunk: float | None = None
    #: Gap between the last two chunks, and the longest and mean gaps so far.
    last_gap: float | None = None
    max_gap: float | None = None
    mean_gap: float | None = None
    #: Active seconds since the start (paused time excluded).
    elapsed: float = 0.0
    #: Seconds spent paused in total.
    paused: float = 0.0
    #: Tokens per second over the rolling window (current), since the first chunk (average),
    #: and the highest and lowest "current" rates seen at any chunk.
    tokens_per_second: float | None = None
    tokens_per_second_avg: float | None = None
    tokens_per_second_peak: float | None = None
    tokens_per_second_min: float | None = None


class Meter:
    """Counts chunks against an injectable time base; every method takes ``now`` (monotonic s)."""

    __slots__ = (
        "_count_tokens",
        "_paused_at",
        "_window",
        "_window_s",
        "bytes",
        "chunks",
        "first_at",
        "first_tokens",
        "last_at",
        "last_gap",
        "max_gap",
        "paused_total",
        "peak",
        "started_at",
        "tokens",
        "trough",
    )

    def __init__(self, window: float, count_tokens: bool) -> None:
        self._window_s = window
        self._count_tokens = count_tokens
        self._window: deque[tuple[float, int]] = deque()
        self._paused_at: float | None = None
        self.started_at: float | None = None
        self.first_at: float | None = None  # active time of the first chunk
        self.last_at = 0.0  # active time of the latest chunk
        self.last_gap = 0.0
        self.max_gap = 0.0
        self.paused_total = 0.0
        self.chunks = 0
        self.bytes = 0
        self.tokens = 0
        self.first_tokens = 0
        self.peak: float | None = None
        self.trough: float | None = None

    def start(self, now: float) -> None:
        """The stream starts now (first read), unless an earlier start was given."""
        if self.started_at is None:
            self.started_at = now

    def active(self, now: float) -> float:
        """Active seconds since the start at ``now``."""
        if self.started_at is None:
            return 0.0
        paused = self.paused_total
        if self._paused_at is not None:
            paused += now - self._paused_at
        return now - self.started_at - paused

    def chunk(self, now: float, size: int, tokens: int) -> None:
        """One chunk arrived at ``now`` carrying ``size`` bytes and ``tokens`` tokens."""
        at = now - self.started_at - self.paused_total if self.started_at is not None else 0.0
        if self.chunks:
            gap = self.last_gap = at - self.last_at
            if gap > self.max_gap:  # noqa: PLR1730 - per chunk: a compare is cheaper than max()
                self.max_gap = gap
        else:
            self.first_at = at
        self.last_at = at
        self.chunks += 1
        self.bytes += size
        if self._count_tokens and tokens:
            self.tokens += tokens
            if self.chunks == 1:
                self.first_tokens = tokens
            self._roll(at)

    def _roll(self, at: float) -> None:
        window = self._window
        window.append((at, self.tokens))
        horizon = at - self._window_s
        while len(window) > 2 and window[1][0] <= horizon:
            window.popleft()
        rate = self._rate(at)
        if rate is not None:
            if self.peak is None or rate > self.peak:
                self.peak = rate
            if self.trough is None or rate < self.trough:
                self.trough = rate

    def _rate(self, at: float) -> float | None:
        """Tokens per second over the window ending at ``at`` (None until it spans any time)."""
        window = self._window
        if not window:
            return None
        # The first entry is the base: tokens that arrived after it, over the time since it.
        t0, n0 = window[0]
        return (window[-1][1] - n0) / (at - t0) if at > t0 else None

    def pause(self, now: float) -> None:
        """The consumer paused at ``now``."""
        if self._paused_at is None:
            self._paused_at = now

    def resume(self, now: float) -> None:
        """The consumer resumed at ``now``: the paused time leaves every figure."""
        if self._paused_at is not None:
            self.paused_total += now - self._paused_at
            self._paused_at = None

    def snapshot(self, now: float) -> StreamMetrics:
        """The figures at ``now``."""
        chunks = self.chunks
        active = self.active(now)
        paused = self.paused_total + (now - self._paused_at if self._paused_at is not None else 0)
        tokens = self.tokens if self._count_tokens else None
        if not chunks:
            return StreamMetrics(tokens=tokens, elapsed=active, paused=paused)
        first = self.first_at or 0.0
        avg = None
        if tokens is not None and self.last_at > first:
            # The first chunk's tokens arrived at its instant: the rate counts those after it.
            avg = (tokens - self.first_tokens) / (self.last_at - first)
        return StreamMetrics(
            chunks=chunks,
            bytes=self.bytes,
            tokens=tokens,
            time_to_first_chunk=first,
            last_gap=self.last_gap if chunks > 1 else None,
            max_gap=self.max_gap if chunks > 1 else None,
            mean_gap=(self.last_at - first) / (chunks - 1) if chunks > 1 else None,
            elapsed=active,
            paused=paused,
            tokens_per_second=self._rate(self.last_at) if tokens is not None else None,
            tokens_per_second_avg=avg,
            tokens_per_second_peak=self.peak,
            tokens_per_second_min=self.trough,
        )
