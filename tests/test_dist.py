"""What each distribution depends on, as installed, and what the core's code imports."""

from __future__ import annotations

import ast
import sys
from importlib.metadata import requires
from pathlib import Path

from packaging.requirements import Requirement

CORE_DIR = Path(__file__).resolve().parents[1] / "otel_resilience"


def runtime_requirements(dist: str) -> set[str]:
    """Names of ``dist``'s unconditional requirements (extras left out)."""
    names = set()
    for line in requires(dist) or []:
        req = Requirement(line)
        if req.marker is None or ("extra" not in str(req.marker) and req.marker.evaluate()):
            names.add(req.name.lower())
    return names


def test_core_runtime_dependencies_are_api_tenacity_cachetools():
    """The core requires exactly opentelemetry-api, tenacity, cachetools (+ tomli before 3.11)."""
    backport = {"tomli"} if sys.version_info < (3, 11) else set()
    assert runtime_requirements("otel-resilience") == {
        "opentelemetry-api",
        "tenacity",
        "cachetools",
        *backport,
    }


def test_instrumentation_distribution_requires_wrapt():
    """wrapt belongs to the instrumentation distribution, which patches clients with it."""
    assert "wrapt" in runtime_requirements("otel-resilience-instrumentation")


def test_core_code_never_imports_wrapt():
    """No module of the core imports wrapt, at any level (its requirement moved away)."""
    offenders = []
    for path in sorted(CORE_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            else:
                continue
            if any(m == "wrapt" or m.startswith("wrapt.") for m in modules):
                offenders.append(f"{path.relative_to(CORE_DIR.parent)}:{node.lineno}")
    assert offenders == []
    assert len(list(CORE_DIR.rglob("*.py"))) > 10  # the scan did look at the core's modules
