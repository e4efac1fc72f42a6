"""SLO options: validated once, frozen; the SRE-workbook burn-rate windows."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

__all__ = [
    "BURN_ALERTS",
    "BURN_WINDOWS",
    "BurnAlert",
    "SLOOptions",
    "format_window",
    "parse_window",
]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_WINDOW = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
#: Longest SLO window accepted: a quarter (Prometheus keeps 15 days by default; longer windows
#: are for in-process SLOs and long-retention backends).
MAX_WINDOW = 90 * 86400


def parse_window(field: str, value: object) -> float:
    """Seconds of ``"30d"``, ``"6h"``, ``"90m"``, ``"45s"``, ``"1w"`` or a number of seconds."""
    seconds: float | None = None
    if isinstance(value, str):
        found = _WINDOW.match(value)
        if found:
            seconds = float(found.group(1)) * _UNITS[found.group(2)]
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    if seconds is None or not math.isfinite(seconds) or not 60 <= seconds <= MAX_WINDOW:
        raise ValueError(
            f"{field} must be a duration such as '30d', '6h' or '90m' (or seconds), between one "
            f"minute and 90 days, got {value!r}"
        )
    return seconds


def format_window(seconds: float) -> str:
    """``2592000.0`` -> ``"30d"``: the largest unit dividing it (Prometheus duration syntax)."""
    whole = int(seconds)
    for unit in ("w", "d", "h", "m"):
        if whole % _UNITS[unit] == 0 and whole == seconds:
            return f"{whole // _UNITS[unit]}{unit}"
    return f"{whole}s"


@dataclass(frozen=True, slots=True)
class BurnAlert:
    """One multi-window burn-rate condition: both windows burn faster than ``factor``."""

    long: str
    short: str
    factor: float
    severity: str


#: The SRE workbook's pairs (chapter "Alerting on SLOs"): page on a fast burn over 1h/5m at
#: 14.4x (2 % of a 30-day budget in one hour) or 6h/30m at 6x (5 % in six hours); ticket on a
#: slow burn over 3d/6h at 1x (10 % in three days, the budget gone by the window's end).
BURN_ALERTS: tuple[BurnAlert, ...] = (
    BurnAlert("1h", "5m", 14.4, "page"),
    BurnAlert("6h", "30m", 6.0, "page"),
    BurnAlert("3d", "6h", 1.0, "ticket"),
)
#: Every window a burn rate is computed over, shortest first.
BURN_WINDOWS: tuple[str, ...] = ("5m", "30m", "1h", "6h", "3d")


@dataclass(frozen=True, slots=True, kw_only=True)
class SLOOptions:
    """Every option of an :class:`~otel_resilience.SLO`.

    ``objective`` is the share of good calls aimed at (``0.999``: 99.9 %) over ``window``
    (seconds here; the SLO takes ``"30d"`` too). ``pipeline`` is the pipeline name whose calls
    count (``None``: every pipeline). Without ``latency_threshold`` a call is good unless its
    outcome is ``failure`` or ``rejected`` (availability); with it, a call is good when it took
    at most that many seconds, whatever its outcome (latency).
    """

    name: str
    objective: float = 0.999
    window: float = 30 * 86400.0
    pipeline: str | None = None
    latency_threshold: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")
        ok = isinstance(self.objective, (int, float)) and not isinstance(self.objective, bool)
        if not ok or not 0.0 < self.objective < 1.0:
            raise ValueError(
                f"objective must be a ratio in (0, 1) such as 0.999, got {self.objective!r}"
            )
        parse_window("window", self.window)
        if self.pipeline is not None and (not isinstance(self.pipeline, str) or not self.pipeline):
            raise ValueError(
                f"pipeline must be a pipeline name or None (all), got {self.pipeline!r}"
            )
        threshold = self.latency_threshold
        if threshold is not None:
            ok = isinstance(threshold, (int, float)) and not isinstance(threshold, bool)
            if not ok or not math.isfinite(threshold) or threshold <= 0:
                raise ValueError(
                    f"latency_threshold must be a number of seconds > 0 or None, got {threshold!r}"
                )

    @property
    def error_budget(self) -> float:
        """The share of calls allowed to be bad: ``1 - objective``."""
        return 1.0 - self.objective
