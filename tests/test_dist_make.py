"""The Makefile and scripts: ``make test`` runs every suite and says what each step is doing."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make(*args: str) -> str:
    """``make -C ROOT args...``; its stdout (fails the test on a non-zero exit)."""
    proc = subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_make_test_includes_the_wheel_round_trip_and_unit_excludes_it():
    """``make test`` runs the slow wheel test; ``make unit`` leaves it (and e2e) out."""
    dry = make("-n", "test")
    assert "pytest -q -m slow" in dry
    assert 'pytest -q -m "not e2e and not slow"' in dry
    assert "bash scripts/e2e.sh" in dry


def test_python310_run_is_labelled():
    """The Python 3.10 unit run announces itself, naming the interpreter it uses."""
    dry = make("-n", "unit-py310", "PY310=/opt/fake/bin/python3.10")
    assert 'echo "== unit tests: Python 3.10 (/opt/fake/bin/python3.10)' in dry


def test_python310_run_says_when_it_is_skipped():
    """Without Python 3.10 the step prints one line saying it skipped the run."""
    out = make("-s", "unit-py310", "PY310=")
    assert out.strip() == "== unit tests: Python 3.10 not found, skipping the 3.10 run"


def test_uv_bootstrap_announces_itself_on_stderr_only(tmp_path: Path):
    """Bootstrapping uv prints one progress line to stderr; stdout stays the bare path."""
    shutil.copytree(ROOT / "scripts", tmp_path / "scripts")
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    # A python3 whose pip "installs" uv by creating the executable where --target points.
    fake_python = fake_bin / "python3"
    fake_python.write_text(
        "#!/bin/sh\n"
        'while [ $# -gt 0 ]; do if [ "$1" = --target ]; then mkdir -p "$2/bin";'
        ' printf "#!/bin/sh\\n" > "$2/bin/uv"; chmod +x "$2/bin/uv"; fi; shift; done\n'
    )
    fake_python.chmod(fake_python.stat().st_mode | stat.S_IXUSR)
    path = f"{fake_bin}:/usr/bin:/bin"
    assert shutil.which("uv", path=path) is None  # precondition: no uv to find
    proc = subprocess.run(
        ["sh", str(tmp_path / "scripts" / "ensure-uv.sh")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={**os.environ, "PATH": path},
    )
    assert proc.stdout == f"{tmp_path}/.tools/uv/bin/uv\n"
    assert "installing it from PyPI into .tools/uv" in proc.stderr
    assert (tmp_path / ".tools" / "uv" / "bin" / "uv").exists()
