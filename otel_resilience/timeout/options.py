"""Timeout options, validated once at construction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from otel_resilience._validate import check_choice, check_count, check_seconds

__all__ = ["TIMEOUT_MODES", "TimeoutMode", "TimeoutOptions"]

TimeoutMode = Literal["publish", "thread"]
TIMEOUT_MODES: tuple[str, ...] = ("publish", "thread")


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeoutOptions:
    """The options of a :class:`~otel_resilience.timeout.Timeout`.

    ``seconds``: the bound (``> 0``). ``mode`` (sync calls only): ``"publish"`` runs the call
    in the caller's thread with the deadline published, and raises once it returns late;
    ``"thread"`` runs it in a worker thread and stops waiting for it at the deadline.
    ``max_workers``: size of the worker pool of ``mode="thread"``.
    """

    seconds: float
    mode: TimeoutMode = "publish"
    max_workers: int = 8

    def __post_init__(self) -> None:
        check_seconds("seconds", self.seconds, positive=True)
        check_choice("mode", self.mode, TIMEOUT_MODES)
        check_count("max_workers", self.max_workers, maximum=1024)
