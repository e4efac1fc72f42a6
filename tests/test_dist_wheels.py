"""``make dist`` builds three wheels that install into a fresh venv and import from there.

Slow (a build and two installs, several seconds): marked ``slow``, run by ``make dist-test``,
which ``make test`` includes. Dependencies are pinned to uv.lock's versions and taken from uv's
cache when it has them (``--offline``), else from PyPI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
DISTS = ("otel_resilience", "otel_resilience_exporters", "otel_resilience_instrumentation")


def try_run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` (bounded, output captured, uv never downloads a Python)."""
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    return subprocess.run(
        cmd, capture_output=True, text=True, timeout=600, check=False, env=env, **kw
    )


def run(cmd: list[str], **kw: object) -> str:
    """Run ``cmd``; fail the test with its output when it exits non-zero."""
    proc = try_run(cmd, **kw)
    assert proc.returncode == 0, f"{cmd} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def uv() -> str:
    """The same uv the Makefile uses (bootstrapped into .tools/ when the machine has none)."""
    return run(["sh", str(ROOT / "scripts" / "ensure-uv.sh")]).strip()


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The wheels ``make dist`` builds, by distribution (into a temporary DIST_DIR)."""
    out = tmp_path_factory.mktemp("dist")
    run(["make", "-s", "-C", str(ROOT), "dist", f"DIST_DIR={out}"])
    return {p.name.split("-")[0]: p for p in sorted(out.glob("*.whl"))}


@pytest.fixture(scope="module")
def constraints(uv: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """uv.lock's versions of every third-party run-time dependency, as a constraints file."""
    path = tmp_path_factory.mktemp("lock") / "constraints.txt"
    export = [uv, "export", "--frozen", "--all-packages", "--no-dev", "--no-emit-workspace"]
    run([*export, "--no-hashes", "-q", "-o", str(path)], cwd=ROOT)
    return path


def fresh_venv(uv: str, where: Path, constraints: Path, *wheels: Path) -> Path:
    """A new venv (this interpreter's base) with ``wheels`` installed; its python."""
    run([uv, "venv", "-q", "-p", sys.executable, str(where)])
    python = where / "bin" / "python"
    install = [uv, "pip", "install", "-q", "-p", str(python), "-c", str(constraints)]
    install += [str(w) for w in wheels]
    if try_run([*install, "--offline"]).returncode != 0:  # not all in uv's cache: use PyPI
        run(install)
    return python


def run_in(python: Path, code: str, cwd: Path) -> object:
    """Run ``code`` isolated (no checkout on sys.path) in ``python``; its last line as JSON."""
    out = run([str(python), "-I", "-c", code], cwd=cwd)
    return json.loads(out.strip().splitlines()[-1])


def test_make_dist_builds_the_three_wheels(wheels: dict[str, Path]):
    """``make dist`` produces exactly one wheel per distribution (and no sdist)."""
    assert sorted(wheels) == sorted(DISTS)
    assert not list(next(iter(wheels.values())).parent.glob("*.tar.gz"))


def test_core_wheel_requires_only_api_tenacity_cachetools(wheels: dict[str, Path]):
    """The core wheel's metadata requires opentelemetry-api, tenacity and cachetools only."""
    with zipfile.ZipFile(wheels["otel_resilience"]) as whl:
        name = next(n for n in whl.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = whl.read(name).decode()
    required = {
        Requirement(line.split(":", 1)[1].strip())
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:")
    }
    unconditional = {r.name for r in required if r.marker is None}
    assert unconditional == {"opentelemetry-api", "tenacity", "cachetools"}


def test_core_wheel_alone_installs_and_runs(
    uv: str, wheels: dict[str, Path], constraints: Path, tmp_path: Path
):
    """The core wheel alone gives a working Pipeline, with neither the SDK nor wrapt installed."""
    python = fresh_venv(uv, tmp_path / "venv", constraints, wheels["otel_resilience"])
    result = run_in(
        python,
        """
import importlib.util, json
from otel_resilience import Pipeline, Retry
from otel_resilience.testing import FakeClock
calls = []
def flaky():
    calls.append(1)
    if len(calls) == 1:
        raise ConnectionError("first call fails")
    return "ok"
import otel_resilience
print(json.dumps({
    "result": Pipeline("p", Retry(), clock=FakeClock()).call(flaky),
    "calls": len(calls),
    "file": otel_resilience.__file__,
    "sdk": importlib.util.find_spec("opentelemetry.sdk") is not None,
    "wrapt": importlib.util.find_spec("wrapt") is not None,
}))
""",
        cwd=tmp_path,
    )
    assert isinstance(result, dict)
    assert (result["result"], result["calls"]) == ("ok", 2)
    assert Path(result["file"]).is_relative_to(tmp_path / "venv")
    assert (result["sdk"], result["wrapt"]) == (False, False)


def test_all_wheels_install_and_import(
    uv: str, wheels: dict[str, Path], constraints: Path, tmp_path: Path
):
    """The three wheels install together; each package imports from the venv, not the checkout."""
    venv = tmp_path / "venv"
    python = fresh_venv(uv, venv, constraints, *(wheels[d] for d in DISTS))
    files = run_in(
        python,
        f"""
import importlib, json
print(json.dumps([importlib.import_module(name).__file__ for name in {list(DISTS)!r}]))
""",
        cwd=tmp_path,
    )
    assert isinstance(files, list)
    assert len(files) == len(DISTS)
    for name, file in zip(DISTS, files, strict=True):
        assert Path(file).is_relative_to(venv), (name, file)
        assert Path(file).parent.name == name
