"""A Shadow used before a fork (gunicorn --preload) keeps shadowing in the child."""

from __future__ import annotations

import os

import pytest

from otel_resilience import Pipeline
from otel_resilience.shadow import Shadow


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX-only")
def test_forked_child_runs_its_own_shadow_calls():
    """The child starts its own workers: each sampled call is shadowed and drains."""
    shadow = Shadow(candidate=lambda x: x, max_in_flight=1)
    pipeline = Pipeline("forked", shadow)
    assert pipeline.call(lambda x: x, 0) == 0
    assert shadow.drain(10)  # the parent now has one idle worker thread
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report and leave without running pytest's teardown
        try:
            ok = True
            for i in range(3):
                ok = ok and pipeline.call(lambda x: x, i) == i and shadow.drain(5)
            stats = shadow.stats
            ok = ok and (stats.sampled, stats.dropped, stats.completed) == (4, 0, 4)
            os.write(write, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 1)
    os.waitpid(pid, 0)
    os.close(read)
    assert answer == b"1"
    assert shadow.stats.completed == 1  # the parent's counters are its own
