"""Start-up import profile of a command, from ``python -X importtime`` (PYTHONPROFILEIMPORTTIME)."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass

__all__ = ["ImportTime", "parse_importtime", "render_imports", "run_importtime"]

_LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S.*)$")


@dataclass(frozen=True, slots=True)
class ImportTime:
    """One imported module: its own time and its time with what it imported (microseconds)."""

    module: str
    self_us: int
    cumulative_us: int
    depth: int


def parse_importtime(stderr: str) -> tuple[list[ImportTime], str]:
    """The import lines of ``stderr`` and the rest of it, as the command wrote it."""
    entries: list[ImportTime] = []
    rest: list[str] = []
    for line in stderr.splitlines(keepends=True):
        match = _LINE.match(line.rstrip("\n"))
        if match is None:
            if not line.startswith("import time: self [us]"):
                rest.append(line)
            continue
        own, cumulative, indent, module = match.groups()
        entries.append(ImportTime(module.strip(), int(own), int(cumulative), len(indent) // 2))
    return entries, "".join(rest)


def run_importtime(
    command: list[str], timeout: float | None = None
) -> tuple[int, list[ImportTime], str]:
    """Run ``command`` with import timing on (its output passes through); its exit status,
    imports and the rest of its stderr."""
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    done = subprocess.run(
        command, env=env, stderr=subprocess.PIPE, text=True, timeout=timeout, check=False
    )
    entries, rest = parse_importtime(done.stderr)
    return done.returncode, entries, rest


def render_imports(entries: list[ImportTime], top: int = 15) -> str:
    """The slowest imports by cumulative time, and the top-level ones by their share."""
    if not entries:
        return "no imports recorded (is the command a Python program?)\n"
    total = sum(e.cumulative_us for e in entries if e.depth == 0)
    lines = [f"{len(entries)} modules imported in {total / 1e3:.1f} ms (top-level cumulative)"]
    lines.append(f"{'cumulative ms':>14} {'self ms':>9}  module")
    for e in sorted(entries, key=lambda e: -e.cumulative_us)[:top]:
        lines.append(f"{e.cumulative_us / 1e3:>14.1f} {e.self_us / 1e3:>9.1f}  {e.module}")
    heavy = max(entries, key=lambda e: e.self_us)
    lines.append(f"slowest import (self time): {heavy.module} ({heavy.self_us / 1e3:.1f} ms)")
    return "\n".join(lines) + "\n"
