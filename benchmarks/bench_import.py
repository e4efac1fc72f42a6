"""Import cost of ``import otel_resilience`` against the OpenTelemetry API it builds on.

Each figure is the cumulative time of the statement's top-level imports as printed by
``python -X importtime``, in a fresh interpreter (the same executable as this script), median
over ``--runs`` interpreters; the two statements alternate so machine noise hits both alike,
after one discarded warm-up run each (it writes any missing ``.pyc`` files). The target is
``import otel_resilience`` <= 1.5 x ``import opentelemetry.trace, opentelemetry.metrics``.

    uv run --frozen python benchmarks/bench_import.py [--runs 7] [--check] [--explain 15]

``--explain N`` lists the N costliest modules that ``import otel_resilience`` loads on top of
the baseline, each charged to the ``otel_resilience`` module whose import statement pulled it in.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
from dataclasses import dataclass, field

OURS = "import otel_resilience"
#: What an application's module usually says; informational (names load on first use).
TYPICAL = "from otel_resilience import CircuitBreaker, Pipeline, Retry"
BASELINE = "import opentelemetry.trace, opentelemetry.metrics"
TARGET = 1.5
# Written to stderr just before the measured statement: lines above it are start-up imports.
_MARK = "@@otel-resilience-bench-import@@"
_PREFIX = "import time:"


@dataclass
class Node:
    """One line of ``-X importtime`` output: a module, its own and cumulative microseconds."""

    name: str
    self_us: int
    cumulative_us: int
    depth: int
    children: list[Node] = field(default_factory=list)


def parse(stderr: str) -> list[Node]:
    """The import tree of the measured statement (the top-level imports, children filled in)."""
    _, _, measured = stderr.partition(_MARK + "\n")
    pending: list[Node] = []
    for line in measured.splitlines():
        if not line.startswith(_PREFIX):
            continue
        self_us, cumulative_us, raw_name = line[len(_PREFIX) :].split("|")
        if not self_us.strip().isdigit():  # the header line
            continue
        name = raw_name.rstrip()
        # One space after the bar, then two per nesting level. Children print before parents.
        depth = (len(name) - len(name.lstrip(" ")) - 1) // 2
        node = Node(name.strip(), int(self_us), int(cumulative_us), depth)
        while pending and pending[-1].depth > depth:
            node.children.insert(0, pending.pop())
        pending.append(node)
    return pending


def run_once(statement: str) -> list[Node]:
    """Run ``statement`` in a fresh interpreter under ``-X importtime``; its import tree."""
    code = f"import sys; sys.stderr.write({_MARK!r} + '\\n'); sys.stderr.flush()\n{statement}\n"
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{statement!r} failed:\n{proc.stderr[-2000:]}")
    return parse(proc.stderr)


def total_us(tree: list[Node]) -> int:
    """Cumulative microseconds of the top-level imports."""
    return sum(node.cumulative_us for node in tree)


def walk(nodes: list[Node]) -> list[Node]:
    """Every node of the tree, parents before children."""
    out: list[Node] = []
    for node in nodes:
        out.append(node)
        out.extend(walk(node.children))
    return out


def explain(ours: list[Node], baseline: list[Node], top: int) -> list[tuple[str, str, int]]:
    """(importing otel_resilience module, extra module, its subtree's new self time in us).

    An ``otel_resilience`` module's own code is a row of its own, charged to ``(own code)``.
    """
    known = {node.name for node in walk(baseline)}
    rows: list[tuple[str, str, int]] = []

    def new_self_us(node: Node) -> int:
        own = 0 if node.name in known else node.self_us
        return own + sum(new_self_us(c) for c in node.children if not _ours(c.name))

    def visit(node: Node, owner: str) -> None:
        rows.append(("(own code)", node.name, node.self_us))
        for child in node.children:
            if _ours(child.name):
                visit(child, child.name)
            elif child.name not in known or new_self_us(child):
                rows.append((owner, child.name, new_self_us(child)))

    for node in ours:
        if _ours(node.name):
            visit(node, node.name)
    rows.sort(key=lambda row: row[2], reverse=True)
    return rows[:top]


def _ours(name: str) -> bool:
    return name == "otel_resilience" or name.startswith("otel_resilience.")


def main(argv: list[str] | None = None) -> int:
    """Measure both statements; print medians and the ratio; ``--check`` exits 1 over target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh interpreters per statement")
    parser.add_argument("--check", action="store_true", help=f"exit 1 over {TARGET}x")
    parser.add_argument("--explain", type=int, default=0, metavar="N", help="top N extra modules")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be >= 1")

    print(f"import cost: Python {platform.python_version()} ({sys.executable})", flush=True)
    run_once(OURS)  # warm-up: compiles any missing .pyc
    run_once(BASELINE)
    run_once(TYPICAL)
    ours_trees: list[list[Node]] = []
    base_trees: list[list[Node]] = []
    typical_trees: list[list[Node]] = []
    for _ in range(args.runs):
        ours_trees.append(run_once(OURS))
        base_trees.append(run_once(BASELINE))
        typical_trees.append(run_once(TYPICAL))
    ours = statistics.median(total_us(t) for t in ours_trees)
    base = statistics.median(total_us(t) for t in base_trees)
    typical = statistics.median(total_us(t) for t in typical_trees)
    ratio = ours / base
    print(f"{OURS:<52} median {ours / 1000:8.1f} ms over {args.runs} interpreters")
    print(f"{BASELINE:<52} median {base / 1000:8.1f} ms over {args.runs} interpreters")
    ok = ratio <= TARGET
    print(f"{'PASS' if ok else 'FAIL'} import cost ratio {ratio:.2f} <= {TARGET}")
    print(f"info: {TYPICAL}: median {typical / 1000:.1f} ms, {typical / base:.2f} x the API's")
    if args.explain:
        # The run closest to the median is the most representative tree.
        # (of the typical statement: `import otel_resilience` alone loads names lazily)
        tree = min(typical_trees, key=lambda t: abs(total_us(t) - typical))
        print(f"\nextra modules over the baseline (run of {total_us(tree) / 1000:.1f} ms):")
        print(f"{'self ms':>8}  {'module':<34} imported by")
        for owner, module, us in explain(tree, base_trees[0], args.explain):
            print(f"{us / 1000:8.1f}  {module:<34} {owner}")
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
