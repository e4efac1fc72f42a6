"""Our HTTP instrumentors next to the contrib ones (httpx, requests, aiohttp-client), in both
instrument orders: one CLIENT span per attempt, and it is ours.

Contrib's -requests and -aiohttp-client pin an OpenTelemetry release older than uv.lock's, so
they cannot join the workspace: this test builds our wheels and installs them with the contrib
instrumentors into a fresh venv where the resolver picks versions that fit together (what a
user installing both gets). Slow (a build and an install): marked ``slow``, run by
``make dist-test``, which ``make test`` includes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.test_dist_wheels import ROOT, run, try_run, uv, wheels  # noqa: F401 - fixtures

pytestmark = pytest.mark.slow

APP = Path(__file__).with_name("contrib_app.py")
CONTRIB = (
    "opentelemetry-instrumentation-httpx",
    "opentelemetry-instrumentation-requests",
    "opentelemetry-instrumentation-aiohttp-client",
    "opentelemetry-sdk",
    "httpx",
    "requests",
    "aiohttp",
)


def test_one_client_span_per_attempt_and_it_is_ours(uv, wheels, tmp_path):  # noqa: F811
    """503 then 200 through each client with both instrumentors active, in either order: the
    server saw two requests and the trace holds exactly two CLIENT spans, both ours, the
    second with http.request.resend_count = 1."""
    venv = tmp_path / "venv"
    run([uv, "venv", "-q", "-p", sys.executable, str(venv)])
    python = venv / "bin" / "python"
    install = [uv, "pip", "install", "-q", "-p", str(python), *map(str, wheels.values())]
    install += CONTRIB
    if try_run([*install, "--offline"]).returncode != 0:  # not all in uv's cache: use PyPI
        run(install)
    report = json.loads(run([str(python), "-I", str(APP)], cwd=tmp_path).strip().splitlines()[-1])
    assert set(report) == {
        f"{client}/{order}"
        for client in ("httpx", "requests", "aiohttp")
        for order in ("ours_first", "contrib_first")
    }
    for case, seen in report.items():
        assert seen["status"] == 200, case
        assert seen["server_saw"] == 2, case
        assert seen["client_spans"] == [
            ["otel_resilience_instrumentation", None],
            ["otel_resilience_instrumentation", 1],
        ], case
