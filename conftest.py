"""Runs the Python code blocks of README.md and docs/*.md as tests, with Sybil.

Each page's blocks run in order in one namespace, so a block may use names an earlier one
defined. Setup a reader does not need to see (fakes for a client, assertions on what a comment
claims) sits in ``<!-- invisible-code-block: python ... -->`` comments next to the block; a block
that cannot run here is preceded by ``<!-- skip: next "why" -->``.

What a block prints still reaches stdout, and is also recorded, one string per ``print`` call, in
the page's ``printed`` list: an invisible block after it asserts that the output is what the
page's comments say (``assert printed == [...]``).

docs/exporters.md calls ``configure()``, which installs process-wide providers once per process
and registers an exit hook. On that page only, ``configure`` is swapped for :func:`build` (the
same options and validation, nothing installed globally), every handle it returns is shut down
after the page, and the OTEL_* environment is replaced by one that writes JSON lines to a
temporary file, so no block needs a collector.
"""

from __future__ import annotations

import builtins
import os
import shutil
import tempfile
from collections.abc import Callable
from typing import Any

from sybil import Sybil
from sybil.parsers.markdown import PythonCodeBlockParser, SkipParser

_PAGES = ["README.md", "docs/*.md"]
_EXPORTERS_PAGE = "docs/exporters.md"


class _ExportersPage:
    """Per-page setup and teardown for docs/exporters.md (see the module docstring)."""

    def __init__(self) -> None:
        self._saved_env: dict[str, str] = {}
        self._tmp = ""
        self._handles: list[Any] = []
        self._restore: Callable[[], None] = lambda: None

    def setup(self, namespace: dict[str, Any]) -> None:
        import otel_resilience_exporters as exporters

        _record_prints(namespace)
        self._saved_env = {k: v for k, v in os.environ.items() if k.startswith("OTEL_")}
        for name in self._saved_env:
            del os.environ[name]
        self._tmp = tempfile.mkdtemp(prefix="otel-resilience-docs-")
        os.environ["OTEL_RESILIENCE_EXPORTER"] = "jsonl"
        os.environ["OTEL_RESILIENCE_JSONL_PATH"] = os.path.join(self._tmp, "telemetry.jsonl")

        original = exporters.configure

        def configure(*args: Any, **kwargs: Any) -> Any:
            handle = exporters.build(*args, **kwargs)
            self._handles.append(handle)
            return handle

        exporters.configure = configure

        def restore() -> None:
            exporters.configure = original

        self._restore = restore

    def teardown(self, namespace: dict[str, Any]) -> None:
        try:
            for handle in self._handles:
                handle.shutdown(timeout=5)
        finally:
            self._handles.clear()
            self._restore()
            for name in [k for k in os.environ if k.startswith("OTEL_")]:
                del os.environ[name]
            os.environ.update(self._saved_env)
            shutil.rmtree(self._tmp, ignore_errors=True)


def _record_prints(namespace: dict[str, Any]) -> None:
    """Shadow ``print`` in the page's namespace with one that also records what it printed."""
    printed: list[str] = []

    def recording_print(*args: Any, sep: str | None = " ", **kwargs: Any) -> None:
        if kwargs.get("file") is None:
            printed.append((" " if sep is None else sep).join(str(a) for a in args))
        builtins.print(*args, sep=sep, **kwargs)

    namespace["printed"] = printed
    namespace["print"] = recording_print


def _parsers() -> list[Any]:
    return [PythonCodeBlockParser(), SkipParser()]


_exporters_page = _ExportersPage()

pytest_collect_file = (
    Sybil(
        parsers=_parsers(),
        patterns=_PAGES,
        excludes=[_EXPORTERS_PAGE],
        setup=_record_prints,
        name="docs",
    )
    + Sybil(
        parsers=_parsers(),
        patterns=[_EXPORTERS_PAGE],
        setup=_exporters_page.setup,
        teardown=_exporters_page.teardown,
        name="exporters-docs",
    )
).pytest()
