"""``otel-resilience slo rules [FILE]`` and ``otel-resilience dashboard``: the SLO commands.

Registered in :mod:`otel_resilience.policies.cli` by :func:`add_commands`; each parser sets
``handler(args, out)`` (returning the exit status, ``None`` meaning 0), the CLI's one dispatch.
"""

from __future__ import annotations

import argparse
from typing import Any, TextIO

__all__ = ["add_commands"]


def add_commands(sub: Any) -> None:
    """Add the ``slo`` and ``dashboard`` subcommands to the CLI's subparsers."""
    slo = sub.add_parser("slo", help="SLO artefacts: Prometheus rules")
    slo_sub = slo.add_subparsers(dest="slo_command", required=True)
    rules = slo_sub.add_parser(
        "rules",
        help="print Prometheus recording and alerting rules for the file's [slos.NAME] "
        "(default: 99.9 %% availability over 30 days for every pipeline)",
    )
    rules.add_argument("file", nargs="?", help="a policies file (TOML) declaring [slos.NAME]")
    rules.set_defaults(handler=_rules)
    dash = sub.add_parser("dashboard", help="print the Grafana dashboard JSON (needs [dashboards])")
    dash.add_argument("--title", default="otel-resilience", help="the dashboard's title")
    dash.add_argument("--uid", default="otel-resilience", help="the dashboard's uid")
    dash.set_defaults(handler=_dashboard)


def _rules(args: argparse.Namespace, out: TextIO) -> None:
    from otel_resilience.slo._rules import rules_text

    slos = []
    if args.file:
        from otel_resilience.policies.registry import load_policies

        slos = [slo.options for slo in load_policies(args.file).slos.values()]
    out.write(rules_text(slos))


def _dashboard(args: argparse.Namespace, out: TextIO) -> None:
    from otel_resilience.slo._dashboard import dashboard_json

    out.write(dashboard_json(title=args.title, uid=args.uid))
