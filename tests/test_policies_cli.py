"""The otel-resilience command: check, schema, simulate; in-process and as the console script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from otel_resilience.policies._schema import schema_text
from otel_resilience.policies._simulate import simulate
from otel_resilience.policies.cli import main

EXAMPLE = str(Path(__file__).resolve().parent.parent / "examples" / "policies.toml")
# The console script `uv run otel-resilience` runs: installed next to this interpreter.
SCRIPT = Path(sys.executable).with_name("otel-resilience")


@pytest.fixture(autouse=True)
def _no_overrides(monkeypatch):
    """The developer's OTEL_RESILIENCE_* variables must not change what the tests see."""
    import os

    for var in [v for v in os.environ if v.startswith("OTEL_RESILIENCE_")]:
        monkeypatch.delenv(var)


def test_check_prints_the_resolved_pipelines(capsys):
    """check: exit 0, every pipeline with its strategies and resolved options."""
    assert main(["check", EXAMPLE]) == 0
    out = capsys.readouterr().out
    assert "OK, 3 pipeline(s)" in out
    assert "[payments]\n  1. retry(max_attempts=4, backoff='exponential'" in out
    assert "[github]\n  1. retry(max_attempts=5" in out  # the preset, overridden
    assert "deadline=30.0" in out  # ...keeping the preset's other values
    assert "2. rate_limiter(name='search_api', rate=20" in out


def test_check_exits_1_with_the_error(tmp_path, capsys):
    """check on an invalid file: exit 1, the error names the file and the TOML key."""
    bad = tmp_path / "bad.toml"
    bad.write_text("[pipelines.p]\nstrategies = [{ timeout = { seconds = -1 } }]\n")
    assert main(["check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}: pipelines.p.strategies[0].timeout.seconds: seconds must be" in err


def test_schema_prints_the_json_schema(capsys):
    """schema: the published JSON Schema, parseable."""
    assert main(["schema"]) == 0
    out = capsys.readouterr().out
    assert out == schema_text()
    assert json.loads(out)["title"] == "otel-resilience policies"


def test_simulate_healthy_dependency(capsys):
    """No failures: every call succeeds at its first attempt, no breaker moves, no progress bar."""
    argv = ["simulate", EXAMPLE, "--pipeline", "payments", "--failure-rate", "0"]
    assert main([*argv, "--duration", "10"]) == 0
    captured = capsys.readouterr()
    assert "100 calls over 10 simulated seconds" in captured.out
    assert "success rate:        100.0% (100 succeeded" in captured.out
    assert "attempts per call:   mean 1.00, max 1 (100 attempts)" in captured.out
    assert "breaker transitions: 0" in captured.out
    assert captured.err == ""  # not a TTY: no progress bar


def test_simulate_outage_opens_the_breaker():
    """A dead dependency: nothing succeeds, the breaker opens and probes every break_duration."""
    report = simulate(EXAMPLE, "payments", failure_rate=1.0, duration=60, environ={})
    assert report.calls == 600
    assert report.succeeded == 0
    assert report.errors["CircuitOpenError"] > 500
    opened = [t for t in report.transitions if t[3] == "open"]
    assert opened[0][2] == "closed"
    # break_duration = 15: re-probes about every 15 simulated seconds
    assert 3 <= len(opened) <= 5
    assert sum(report.attempts) == report.errors["ConnectionError"] * 4 + (len(opened) - 1)


def test_simulate_is_deterministic_per_seed():
    """The same seed gives the same run; another seed another one."""
    runs = [
        simulate(EXAMPLE, "payments", failure_rate=0.3, duration=30, seed=s, environ={})
        for s in (1, 1, 2)
    ]
    assert runs[0].latencies == runs[1].latencies
    assert runs[0].latencies != runs[2].latencies


def test_simulate_refuses_bad_input(capsys):
    """An unknown pipeline or a failure rate above 1: exit 1 with the reason."""
    assert main(["simulate", EXAMPLE, "--pipeline", "nope"]) == 1
    assert "no pipeline 'nope'" in capsys.readouterr().err
    assert main(["simulate", EXAMPLE, "--pipeline", "payments", "--failure-rate", "2"]) == 1
    assert "failure_rate must be in [0, 1]" in capsys.readouterr().err


def test_console_script_runs_as_a_subprocess(tmp_path):
    """The installed otel-resilience script: check succeeds, an invalid file exits 1."""
    done = subprocess.run(
        [str(SCRIPT), "check", EXAMPLE], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "[payments]" in done.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text("")
    done = subprocess.run(
        [str(SCRIPT), "check", str(bad)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1
    assert "the file is empty" in done.stderr


def test_simulate_draws_a_progress_bar_when_given_a_stream():
    """With a progress stream (a TTY in the CLI), a bar reaches 100% and ends the line."""
    import io

    stream = io.StringIO()
    simulate(EXAMPLE, "payments", failure_rate=0.0, duration=5, progress=stream, environ={})
    text = stream.getvalue()
    assert text.startswith("\r[")
    assert text.endswith(f"[{'#' * 40}] 100%\n")


def test_uv_run_otel_resilience_prints_the_schema():
    """`uv run otel-resilience schema` (this venv, no sync) prints the published schema."""
    import os

    root = Path(__file__).resolve().parent.parent
    uv = subprocess.run(
        ["sh", str(root / "scripts" / "ensure-uv.sh")],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout.strip()
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": sys.prefix, "UV_PYTHON_DOWNLOADS": "never"}
    done = subprocess.run(
        [uv, "run", "--frozen", "--no-sync", "otel-resilience", "schema"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=root,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == schema_text()


@pytest.mark.parametrize(
    "argv", [["profile", "--", "python"], ["debug-bundle"], ["slo", "rules"], ["dashboard"]]
)
def test_every_module_subcommand_dispatches_through_handler(argv):
    """Subcommands added by other modules share one dispatch: a `handler`, never `run`."""
    from otel_resilience.policies.cli import _parser

    args = _parser().parse_args(argv)
    assert callable(args.handler)
    assert not hasattr(args, "run")
