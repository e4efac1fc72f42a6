"""Run a benchmark script's driver under callgrind and read each measured batch's total."""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def batch_totals(script: str, driver_args: list[str]) -> list[int]:
    """Instructions of each ``functools.reduce`` batch of ``script --driver ARGS``, in order.

    Collection runs only inside ``functools.reduce`` and each call is dumped on its own
    (``--dump-after``), with a fixed hash seed so dict and set layouts repeat."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = ["valgrind", "--tool=callgrind", "--collect-atstart=no"]
        cmd += ["--toggle-collect=functools_reduce", "--dump-after=functools_reduce"]
        cmd += [f"--callgrind-out-file={tmp}/out.%p", sys.executable, script]
        cmd += ["--driver", *driver_args]
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        subprocess.run(cmd, check=True, env=env, capture_output=True, timeout=1800)
        totals = []
        for path in sorted(glob.glob(f"{tmp}/out.*"), key=lambda p: (len(p), p)):
            for line in Path(path).read_text().splitlines():
                if line.startswith(("totals:", "summary:")):
                    totals.append(int(line.split()[1]))
                    break
    return [t for t in totals if t]
