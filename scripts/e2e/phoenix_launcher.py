"""Start the Phoenix server with its OTLP/gRPC listener forced onto 127.0.0.1.

Phoenix binds its gRPC port on every interface whatever ``PHOENIX_HOST`` says. This launcher runs
inside Phoenix's own venv (``scripts/e2e.sh`` builds it under ``.e2e/``): it wraps
``grpc.aio.server`` so that every server it creates rewrites wildcard listen addresses to
loopback, then hands over to ``phoenix.server.main`` exactly as ``python -m`` would.

Usage: ``python phoenix_launcher.py [phoenix arguments, default: serve]``; configure it with the
``PHOENIX_*`` environment variables.
"""

from __future__ import annotations

import runpy
import sys
from typing import Any

import grpc.aio

_WILDCARDS = ("[::]:", "0.0.0.0:", "[::0]:", ":")
_PATCHED: set[type] = set()


def _loopback(address: str) -> str:
    """Rewrite a wildcard ``host:port`` to ``127.0.0.1:port``; leave other addresses alone."""
    for prefix in _WILDCARDS:
        if address.startswith(prefix):
            return "127.0.0.1:" + address[len(prefix) :]
    return address


def _patch_server_class(cls: type) -> None:
    """Make ``add_insecure_port``/``add_secure_port`` of ``cls`` bind loopback only."""
    if cls in _PATCHED:
        return
    insecure = cls.add_insecure_port
    secure = cls.add_secure_port

    def add_insecure_port(self: Any, address: str) -> int:
        return insecure(self, _loopback(address))

    def add_secure_port(self: Any, address: str, credentials: Any) -> int:
        return secure(self, _loopback(address), credentials)

    cls.add_insecure_port = add_insecure_port  # type: ignore[method-assign]
    cls.add_secure_port = add_secure_port  # type: ignore[method-assign]
    _PATCHED.add(cls)


_original_server = grpc.aio.server


def _loopback_server(*args: Any, **kwargs: Any) -> Any:
    """``grpc.aio.server`` whose listen addresses are confined to 127.0.0.1."""
    server = _original_server(*args, **kwargs)
    _patch_server_class(type(server))
    return server


def main() -> None:
    """Install the patch and run Phoenix's CLI (``serve`` unless arguments are given)."""
    grpc.aio.server = _loopback_server  # type: ignore[assignment]
    sys.argv = ["phoenix", *(sys.argv[1:] or ["serve"])]
    runpy.run_module("phoenix.server.main", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
