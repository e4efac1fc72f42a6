"""Profiling: phases as child spans with percentiles across runs; start-up import profile.

See ``docs/budgets.md``.
"""

from __future__ import annotations

from ._importtime import ImportTime, parse_importtime, render_imports, run_importtime
from ._profiler import Profiler, profile, profiled
from ._report import PhaseStats, ProfileReport

__all__ = [
    "ImportTime",
    "PhaseStats",
    "ProfileReport",
    "Profiler",
    "parse_importtime",
    "profile",
    "profiled",
    "render_imports",
    "run_importtime",
]
