"""The ``otel-resilience`` command: check a policies file, print its schema, simulate a pipeline.

``otel-resilience check FILE`` validates and prints the resolved pipelines (exit 1 with the
error); ``otel-resilience schema`` prints the JSON Schema; ``otel-resilience simulate FILE
--pipeline NAME --failure-rate 0.3 --duration 60`` runs the pipeline in simulated time against
a synthetic dependency. See docs/cli.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from typing import Any, TextIO

__all__ = ["main"]


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 invalid input, 2 usage)."""
    out = out or sys.stdout
    args = _parser().parse_args(argv)
    from otel_resilience.policies._errors import PolicyError

    try:
        if getattr(args, "handler", None) is not None:  # subcommands of other modules
            return int(args.handler(args, out) or 0)
        if args.command == "schema":
            from otel_resilience.policies._schema import schema_text

            out.write(schema_text())
        elif args.command == "check":
            _check(args.file, out)
        else:
            _simulate(args, out)
    except (PolicyError, ValueError) as exc:
        print(f"otel-resilience {args.command}: error: {exc}", file=sys.stderr)
        return 1
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="otel-resilience", description="Check, describe and simulate resilience policies."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="validate a policies file, print its pipelines")
    check.add_argument("file", help="the policies file (TOML)")
    sub.add_parser("schema", help="print the JSON Schema of policies files")
    sim = sub.add_parser("simulate", help="run a pipeline in simulated time")
    sim.add_argument("file", help="the policies file (TOML)")
    sim.add_argument("--pipeline", required=True, help="the pipeline to simulate")
    sim.add_argument("--failure-rate", type=float, default=0.1, help="attempts failing (0-1)")
    sim.add_argument("--duration", type=float, default=60.0, help="simulated seconds")
    sim.add_argument("--rate", type=float, default=10.0, help="calls per simulated second")
    sim.add_argument("--latency", type=float, default=0.05, help="median attempt latency (s)")
    sim.add_argument("--seed", type=int, default=0, help="random seed (same seed, same run)")
    from otel_resilience._ops_cli import add_commands

    add_commands(sub)
    from otel_resilience.slo.cli import add_commands as add_slo_commands

    add_slo_commands(sub)  # slo rules, dashboard
    return parser


def _check(file: str, out: TextIO) -> None:
    from otel_resilience.policies.registry import load_policies

    policies = load_policies(file)
    names = policies.names
    print(f"{file}: OK, {len(names)} pipeline(s), sha256 {policies.hash}", file=out)
    for name in names:
        pipeline = policies.pipeline(name).current
        print(f"[{name}]", file=out)
        for i, strategy in enumerate(pipeline.strategies, 1):
            print(f"  {i}. {describe(strategy)}", file=out)


def describe(strategy: Any) -> str:
    """``kind(option=value, ...)`` from the strategy's options, in field order."""
    parts = []
    name = getattr(strategy, "name", None)
    if isinstance(name, str):
        parts.append(f"name={name!r}")
    options = getattr(strategy, "options", None)
    if dataclasses.is_dataclass(options):
        for f in dataclasses.fields(options):
            value = getattr(options, f.name)
            if value is None or callable(value) or f.name == "name":
                continue
            if isinstance(value, frozenset):
                value = sorted(value)
            parts.append(f"{f.name}={value!r}")
    return f"{strategy.strategy_name}({', '.join(parts)})"


def _simulate(args: argparse.Namespace, out: TextIO) -> None:
    from otel_resilience.policies._simulate import progress_stream, simulate

    report = simulate(
        args.file,
        args.pipeline,
        failure_rate=args.failure_rate,
        duration=args.duration,
        rate=args.rate,
        latency=args.latency,
        seed=args.seed,
        progress=progress_stream(),
    )
    print(
        f"pipeline {args.pipeline!r}: {report.calls} calls over {args.duration:g} simulated "
        f"seconds, {args.failure_rate:.0%} of attempts failing, median latency {args.latency:g} s",
        file=out,
    )
    report.render(out)


if __name__ == "__main__":  # pragma: no cover - python -m otel_resilience.policies.cli
    raise SystemExit(main())
