"""What a monitored stream measures: an I/O-free meter fed with timestamps, and its snapshot.

Time spent paused is cut out of every figure: the meter keeps an "active" clock (real time minus
paused time), so gaps, rates and the rolling window never see a pause.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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
    """Counts chunks against an injectable time base; every method takes ``now`` (monotonic s).

    Instants are kept as clock readings; resuming from a pause moves every stored instant
    forward by the time paused, so differences between them are active time and the per-chunk
    path needs no subtraction of paused time.
    """

    __slots__ = (
        "_count",
        "_extra",
        "_paused_at",
        "_sized",
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

    def __init__(
        self,
        window: float,
        count_tokens: Callable[[Any], int] | None = None,
        size: Callable[[Any], int] | bool = True,
    ) -> None:
        self._window_s = window
        self._count = count_tokens
        self._sized: Callable[[Any], int] | bool = False
        self._extra = False
        self.sizes(size)
        self._window: deque[tuple[float, int]] = deque()
        self._paused_at: float | None = None
        self.started_at: float | None = None
        self.first_at = 0.0
        self.last_at = 0.0
        self.last_gap = 0.0
        self.max_gap = 0.0
        self.paused_total = 0.0
        self.chunks = 0
        self.bytes = 0
        self.tokens = 0
        self.first_tokens = 0
        self.peak: float | None = None
        self.trough: float | None = None

    def sizes(self, size: Callable[[Any], int] | bool) -> None:
        """True: ``len()`` of bytes/str chunks; False: no byte counts; or a callable."""
        self._sized = size
        self._extra = size is not False or self._count is not None

    def start(self, now: float) -> None:
        """The stream starts at ``now`` (its first read, or the logical start given)."""
        self.started_at = now

    def chunk(self, now: float, item: Any) -> None:
        """One chunk arrived at ``now`` (runs per chunk: a few attribute updates)."""
        chunks = self.chunks
        if chunks:
            gap = self.last_gap = now - self.last_at
            if gap > self.max_gap:  # noqa: PLR1730 - per chunk: a compare is cheaper than max()
                self.max_gap = gap
        else:
            self.first_at = now
        self.last_at = now
        self.chunks = chunks + 1
        if self._extra:
            self._measure(now, item, chunks)

    def _measure(self, now: float, item: Any, before: int) -> None:
        sized = self._sized
        if sized is True:
            kind = type(item)
            if kind is bytes or kind is str or kind is bytearray:
                self.bytes += len(item)
        elif sized:
            self.bytes += sized(item)
        if self._count is not None:
            self.count(now, item, not before)

    def count(self, now: float, item: Any, first: bool = False) -> None:
        """Add ``item``'s tokens at ``now``; also for a chunk hidden from the consumer, which
        is no chunk but may carry tokens (an LLM's usage-only chunk corrects the estimate)."""
        count = self._count
        if count is not None:
            tokens = count(item)
            if tokens:
                self.tokens += tokens
                if first:
                    self.first_tokens = tokens
                self._roll(now)

    def _roll(self, at: float) -> None:
        """Add the count at ``at`` to the window and update the extremes of the current rate
        (per token-carrying chunk: the base moves only once it falls out of the window)."""
        window = self._window
        tokens = self.tokens
        window.append((at, tokens))
        if len(window) > 2 and window[1][0] <= at - self._window_s:
            self._slide(at)
        t0, n0 = window[0]
        if at > t0:  # the rate _rate(at) gives, computed here without its frame
            rate = (tokens - n0) / (at - t0)
            peak = self.peak
            if peak is None or rate > peak:
                self.peak = rate
            trough = self.trough
            if trough is None or rate < trough:
                self.trough = rate

    def _slide(self, at: float) -> None:
        """Drop the entries the window's base has moved past (the base: the newest entry at
        least a window old, as long as a newer one remains)."""
        window = self._window
        horizon = at - self._window_s
        window.popleft()
        while len(window) > 2 and window[1][0] <= horizon:
            window.popleft()

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
        """The consumer resumed at ``now``: every stored instant moves past the pause."""
        paused_at = self._paused_at
        if paused_at is None:
            return
        self._paused_at = None
        shift = now - paused_at
        self.paused_total += shift
        if self.started_at is not None:
            self.started_at += shift
        if self.chunks:
            self.first_at += shift
            self.last_at += shift
        if self._window:
            self._window = deque((t + shift, n) for t, n in self._window)

    def snapshot(self, now: float) -> StreamMetrics:
        """The figures at ``now``."""
        paused_at = self._paused_at
        paused = self.paused_total + (now - paused_at if paused_at is not None else 0.0)
        started = self.started_at
        active = 0.0 if started is None else (now if paused_at is None else paused_at) - started
        chunks = self.chunks
        tokens = self.tokens if self._count is not None else None
        if not chunks:
            return StreamMetrics(tokens=tokens, elapsed=max(active, 0.0), paused=paused)
        first = self.first_at
        span = self.last_at - first
        avg = None
        if tokens is not None and span > 0:
            # The first chunk's tokens arrived at its instant: the rate counts those after it.
            avg = (tokens - self.first_tokens) / span
        return StreamMetrics(
            chunks=chunks,
            bytes=self.bytes,
            tokens=tokens,
            time_to_first_chunk=first - (started or 0.0),
            last_gap=self.last_gap if chunks > 1 else None,
            max_gap=self.max_gap if chunks > 1 else None,
            mean_gap=span / (chunks - 1) if chunks > 1 else None,
            elapsed=max(active, 0.0),
            paused=paused,
            tokens_per_second=self._rate(self.last_at) if tokens is not None else None,
            tokens_per_second_avg=avg,
            tokens_per_second_peak=self.peak,
            tokens_per_second_min=self.trough,
        )
