"""README.md and docs/*.md: every Python code block runs in the test suite (conftest.py, Sybil)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
_BLOCK = re.compile(r"^(```python|<!-- invisible-code-block: python)\s*$")
_SKIP = re.compile(r"<!--\s*skip:\s*(?:next|start)\b(.*?)-->", re.DOTALL)


def python_blocks(page: Path) -> list[int]:
    """Line numbers (1-based) where the page's visible and invisible Python blocks start."""
    lines = page.read_text(encoding="utf-8").splitlines()
    return [n for n, line in enumerate(lines, start=1) if _BLOCK.match(line)]


def collected_blocks() -> set[tuple[str, int]]:
    """(page, line) of every example pytest collects from README.md and docs/."""
    pytest = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
    proc = subprocess.run(
        [*pytest, "README.md", "docs"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = set()
    for item in proc.stdout.splitlines():
        match = re.match(r"(\S+\.md)::sybil:[\w-]+,line:(\d+),", item)
        if match:
            found.add((match[1], int(match[2])))
    return found


def test_every_python_block_of_the_docs_is_collected():
    """Each ```python block (and invisible setup block) of README.md and docs/ is a test."""
    expected = {
        (page.relative_to(ROOT).as_posix(), line) for page in PAGES for line in python_blocks(page)
    }
    assert len(expected) > len(PAGES)  # the pages do have Python blocks
    assert expected - collected_blocks() == set()


def test_blocks_are_skipped_only_for_a_server_or_a_pending_core_change():
    """A skipped block says why, and the only accepted reasons are these two."""
    reasons = [
        (page.name, m[1].strip())
        for page in PAGES
        for m in _SKIP.finditer(page.read_text(encoding="utf-8"))
    ]
    bad = [r for r in reasons if "needs a server" not in r[1] and "pending core change" not in r[1]]
    assert bad == []
