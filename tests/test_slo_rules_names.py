"""SLO and pipeline names with quotes, regex characters, templates or emoji give valid rules."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from otel_resilience.slo._rules import ALERT_FAST, rules_text
from otel_resilience.slo.options import SLOOptions

ODD = ['say "hi"', "back\\slash", "a.b*c+[x]|(y)?", "tmpl {{ b", "x }}{{", "new\nline", "émoji 😀"]


def _promtool(tmp_path: Path, *args: str) -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool not found: run `make debian` (Debian package prometheus)")
    done = subprocess.run(
        [found, *args], check=False, cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_odd_names_pass_promtool_check(tmp_path):
    """Every odd name, as an SLO name and as a pipeline name, passes ``promtool check rules``."""
    slos = [SLOOptions(name=f"{n} {i}", pipeline=n) for i, n in enumerate(ODD)]
    (tmp_path / "rules.yml").write_text(rules_text(slos), encoding="utf-8")
    assert f"SUCCESS: {9 * len(ODD)} rules found" in _promtool(
        tmp_path, "check", "rules", "rules.yml"
    )


def test_emoji_pipeline_and_template_like_slo_name_page_on_a_fast_burn(tmp_path):
    """The selector matches a pipeline named with an emoji; the summary shows the name verbatim."""
    pipeline, name = "émoji 😀", "tmpl {{ b"
    (tmp_path / "rules.yml").write_text(
        rules_text([SLOOptions(name=name, pipeline=pipeline)]), encoding="utf-8"
    )
    series = "resilience_pipeline_duration_seconds_count"
    labels = json.dumps(pipeline, ensure_ascii=False)
    spec = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {
                        "series": f"{series}{{resilience_pipeline_name={labels}, "
                        f'resilience_outcome="{outcome}"}}',
                        "values": f"0+{rate}x120",
                    }
                    for outcome, rate in (("success", 90), ("failure", 10))
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "10m",
                        "alertname": ALERT_FAST,
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    "slo": name,
                                    "severity": "page",
                                    "resilience_pipeline_name": pipeline,
                                },
                                "exp_annotations": {
                                    "summary": f"SLO {name} is burning its error budget fast",
                                    "description": "Objective 99.9 % over 30d; burn rate "
                                    "1h/5m over 14.4x, 6h/30m over 6x (multi-window, "
                                    "multi-burn-rate).",
                                },
                            }
                        ],
                    }
                ],
            }
        ],
    }
    (tmp_path / "test.yml").write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    assert "SUCCESS" in _promtool(tmp_path, "test", "rules", "test.yml")
