"""``import otel_resilience`` stays cheap: heavy modules load only when a feature needs them."""

from __future__ import annotations

import json

from core_support import run_python

#: Modules the core must not import eagerly (asyncio alone drags in ssl, socket, subprocess and
#: concurrent.futures; tenacity imports asyncio; email.utils serves Retry-After dates only).
HEAVY = (
    "asyncio",
    "cachetools",
    "concurrent.futures",
    "email",
    "selectors",
    "socket",
    "ssl",
    "subprocess",
    "tenacity",
)
API = "import opentelemetry.trace, opentelemetry.metrics"


def heavy_modules_after(statement: str) -> set[str]:
    """Which of :data:`HEAVY` a fresh interpreter has loaded after running ``statement``."""
    out = run_python(
        f"""
        import json, sys
        {statement}
        print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))
        """
    )
    return set(json.loads(out))


def test_import_loads_no_heavy_module_beyond_the_api():
    """``import otel_resilience`` loads none of asyncio, email, tenacity & co. itself."""
    # Python 3.10's importlib.metadata makes the API itself load subprocess and selectors.
    added = heavy_modules_after("import otel_resilience") - heavy_modules_after(API)
    assert sorted(added) == []


def test_the_api_import_loads_neither_asyncio_nor_email_nor_tenacity():
    """The check above can pass: the OpenTelemetry API alone loads none of the three."""
    assert heavy_modules_after(API) & {"asyncio", "email", "tenacity"} == set()
