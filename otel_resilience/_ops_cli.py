"""``otel-resilience profile`` and ``otel-resilience debug-bundle`` (registered by policies.cli).

``profile -- python script.py`` runs the command with import timing on and prints the slowest
start-up imports; ``debug-bundle -o bundle.zip [--from URL]`` writes a debug bundle (needs
otel-resilience-exporters). See docs/budgets.md and docs/debugging.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, TextIO

__all__ = ["add_commands"]


def add_commands(sub: Any) -> None:
    """Add the two subcommands to ``sub`` (an argparse subparsers object)."""
    prof = sub.add_parser("profile", help="run a command, report its slowest start-up imports")
    prof.add_argument("--top", type=int, default=15, help="imports listed (default 15)")
    prof.add_argument("cmd", nargs=argparse.REMAINDER, help="-- python script.py [args]")
    prof.set_defaults(handler=_profile)
    bundle = sub.add_parser("debug-bundle", help="write a debug bundle (zip) for a bug report")
    bundle.add_argument("-o", "--output", default="debug-bundle.zip", help="the zip to write")
    bundle.add_argument(
        "--from",
        dest="source",
        metavar="URL",
        help="also fetch a running app's bundle from its GET /debug/bundle endpoint",
    )
    bundle.add_argument(
        "--token-env",
        default="OTEL_RESILIENCE_DEBUG_TOKEN",
        help="environment variable holding the endpoint's bearer token",
    )
    bundle.add_argument("--timeout", type=float, default=10.0, help="seconds for --from")
    bundle.set_defaults(handler=_debug_bundle)


def _profile(args: argparse.Namespace, out: TextIO) -> int:
    from otel_resilience.profiling import render_imports, run_importtime

    command = list(args.cmd)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        raise ValueError("profile: give the command to run after --, e.g. -- python app.py")
    if args.top < 1:
        raise ValueError(f"--top must be at least 1; got {args.top}")
    status, entries, output = run_importtime(command)
    sys.stderr.write(output)
    out.write(render_imports(entries, args.top))
    return status


def _debug_bundle(args: argparse.Namespace, out: TextIO) -> int:
    try:
        from otel_resilience_exporters import debug_bundle_bytes, fetch_debug_bundle
    except ImportError:
        raise ValueError("debug-bundle needs otel-resilience-exporters installed") from None
    remote = None
    if args.source:
        remote = fetch_debug_bundle(
            args.source, token=os.environ.get(args.token_env), timeout=args.timeout
        )
    data = debug_bundle_bytes(remote=remote)
    with open(args.output, "wb") as f:
        f.write(data)
    print(f"wrote {args.output} ({len(data)} bytes)", file=out)
    return 0
