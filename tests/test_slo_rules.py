"""`otel-resilience slo rules`: Prometheus rules validated and evaluated by the real promtool."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from otel_resilience.policies import load_policies
from otel_resilience.policies.cli import main
from otel_resilience.slo._rules import ALERT_FAST, ALERT_SLOW, rules, rules_text
from otel_resilience.slo.options import SLOOptions
from otel_resilience.testing import FakeClock

POLICIES = """
[pipelines.checkout]
strategies = [{ retry = { max_attempts = 2 } }]

[slos.checkout-availability]
pipeline = "checkout"
objective = 0.99
window = "7d"

[slos.checkout-latency]
pipeline = "checkout"
objective = 0.95
latency_threshold = 0.5
"""


@pytest.fixture(scope="module")
def promtool() -> str:
    """Debian's promtool (``make debian`` installs it): a required part of this suite."""
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool not found: run `make debian` (Debian package prometheus)")
    return found


def check(promtool: str, path: Path) -> str:
    """``promtool check rules PATH``; its output, asserting success."""
    done = subprocess.run(
        [promtool, "check", "rules", str(path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_default_rules_pass_promtool_check(promtool, tmp_path, capsys):
    """Without a file: one availability SLO (99.9 %, 30d) over every pipeline, valid rules."""
    assert main(["slo", "rules"]) == 0
    text = capsys.readouterr().out
    path = tmp_path / "rules.yml"
    path.write_text(text)
    assert "SUCCESS: 9 rules found" in check(promtool, path)
    (group,) = rules()["groups"]
    alerts = {r["alert"]: r for r in group["rules"] if "alert" in r}
    assert alerts[ALERT_FAST]["labels"] == {"slo": "availability", "severity": "page"}
    assert alerts[ALERT_SLOW]["labels"] == {"slo": "availability", "severity": "ticket"}
    assert "resilience_pipeline_name=" not in text  # generic over the pipeline label
    assert "(1 - 0.999)" in alerts[ALERT_SLOW]["expr"]


def test_rules_from_a_policies_file(promtool, tmp_path, capsys):
    """[slos.NAME] tables give one group each, availability and latency, all valid."""
    policies = tmp_path / "policies.toml"
    policies.write_text(POLICIES)
    assert main(["slo", "rules", str(policies)]) == 0
    path = tmp_path / "rules.yml"
    path.write_text(capsys.readouterr().out)
    assert "SUCCESS: 18 rules found" in check(promtool, path)
    text = path.read_text()
    assert 'resilience_pipeline_name=\\"checkout\\"' in text
    assert 'le=\\"0.5\\"' in text
    assert "rate1w" in text  # the availability SLO's own window (7d)


def test_a_latency_threshold_off_the_buckets_is_refused(tmp_path, capsys):
    """Prometheus can only count calls under a bucket bound: another threshold exits 1."""
    policies = tmp_path / "policies.toml"
    policies.write_text(POLICIES.replace("latency_threshold = 0.5", "latency_threshold = 0.3"))
    assert main(["slo", "rules", str(policies)]) == 1
    err = capsys.readouterr().err
    assert "latency_threshold must be a bucket bound" in err
    assert "'checkout-latency'" in err


def test_policies_build_slos_with_the_loader_clock(tmp_path):
    """[slos.NAME] makes SLO objects on load_policies' clock; an unchanged one survives reloads."""
    path = tmp_path / "policies.toml"
    path.write_text(POLICIES)
    clock = FakeClock()
    policies = load_policies(path, clock=clock, environ={})
    slos = policies.slos
    assert sorted(slos) == ["checkout-availability", "checkout-latency"]
    slo = slos["checkout-availability"]
    assert slo.options == SLOOptions(
        name="checkout-availability", objective=0.99, window=7 * 86400.0, pipeline="checkout"
    )
    assert slo._clock is clock
    path.write_text(POLICIES.replace("max_attempts = 2", "max_attempts = 3"))
    assert policies.reload() is True
    assert policies.slos["checkout-availability"] is slo


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ("objective = 0.99", "slos.checkout-availability.objective: objective must"),
        ('window = "7d"', "slos.checkout-availability.window: window must"),
        ('pipeline = "checkout"\nobjective', "slos.checkout-availability.colour: unknown option"),
    ],
)
def test_bad_slo_tables_name_the_key(tmp_path, change, where):
    """An invalid [slos.NAME] fails the load with the TOML path of the bad key."""
    bad = {
        "objective = 0.99": "objective = 1.5",
        'window = "7d"': 'window = "7 days"',
        'pipeline = "checkout"\nobjective': 'pipeline = "checkout"\ncolour = "red"\nobjective',
    }[change]
    path = tmp_path / "policies.toml"
    path.write_text(POLICIES.replace(change, bad, 1))
    with pytest.raises(ValueError, match=where.replace(".", r"\.")):
        load_policies(path, environ={})


# -- promtool test rules: synthetic series -------------------------------------------------------


def _series(pipeline: str, outcome: str, per_minute: int, minutes: int) -> dict[str, str]:
    name = "resilience_pipeline_duration_seconds_count"
    labels = f'resilience_pipeline_name="{pipeline}", resilience_outcome="{outcome}"'
    return {"series": f"{name}{{{labels}}}", "values": f"0+{per_minute}x{minutes}"}


def _alert(name: str, severity: str, pipeline: str) -> dict[str, object]:
    (group,) = rules()["groups"]
    (rule,) = [r for r in group["rules"] if r.get("alert") == name]
    return {
        "exp_labels": {
            "slo": "availability",
            "severity": severity,
            "resilience_pipeline_name": pipeline,
        },
        "exp_annotations": {  # the summary template names the SLO by its label
            k: v.replace("{{ $labels.slo }}", "availability")
            for k, v in rule["annotations"].items()
        },
    }


def promtool_test(
    promtool: str, tmp_path: Path, tests: list[dict[str, object]], slos: list[SLOOptions] = ()
) -> None:
    """Write the rules of ``slos`` (default: the default SLO) and ``tests`` (JSON is YAML), run
    ``promtool test rules``."""
    (tmp_path / "rules.yml").write_text(rules_text(slos))
    spec = {"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": tests}
    (tmp_path / "test.yml").write_text(json.dumps(spec, indent=1))
    done = subprocess.run(
        [promtool, "test", "rules", "test.yml"],
        check=False,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_promtool_fast_burn_pages(promtool, tmp_path):
    """10 % errors (100x) on one pipeline pages within minutes; the healthy pipeline does not."""
    promtool_test(
        promtool,
        tmp_path,
        [
            {
                "interval": "1m",
                "input_series": [
                    _series("checkout", "success", 90, 120),
                    _series("checkout", "failure", 10, 120),
                    _series("search", "success", 100, 120),
                ],
                "alert_rule_test": [
                    {"eval_time": "1m", "alertname": ALERT_FAST, "exp_alerts": []},
                    {
                        "eval_time": "10m",
                        "alertname": ALERT_FAST,
                        "exp_alerts": [_alert(ALERT_FAST, "page", "checkout")],
                    },
                ],
                "promql_expr_test": [
                    {
                        "expr": 'resilience:slo_error_ratio:rate5m{slo="availability"}',
                        "eval_time": "10m",
                        "exp_samples": [
                            {
                                "labels": 'resilience:slo_error_ratio:rate5m{slo="availability",'
                                'resilience_pipeline_name="checkout"}',
                                "value": 0.1,
                            },
                            {
                                "labels": 'resilience:slo_error_ratio:rate5m{slo="availability",'
                                'resilience_pipeline_name="search"}',
                                "value": 0,
                            },
                        ],
                    }
                ],
            }
        ],
    )


def test_promtool_slow_burn_only_tickets(promtool, tmp_path):
    """0.2 % errors (2x) for hours: the ticket alert fires, the page alert never does.

    Seven hours of series suffice: the 3d rate is the ratio over the samples there are (2x),
    and evaluating days of one-minute steps takes promtool tens of seconds.
    """
    minutes = 7 * 60
    promtool_test(
        promtool,
        tmp_path,
        [
            {
                "interval": "1m",
                "input_series": [
                    _series("checkout", "success", 499, minutes),
                    _series("checkout", "rejected", 1, minutes),
                ],
                "alert_rule_test": [
                    {"eval_time": "1h", "alertname": ALERT_FAST, "exp_alerts": []},
                    {"eval_time": "6h30m", "alertname": ALERT_FAST, "exp_alerts": []},
                    {
                        "eval_time": "6h30m",
                        "alertname": ALERT_SLOW,
                        "exp_alerts": [_alert(ALERT_SLOW, "ticket", "checkout")],
                    },
                ],
            }
        ],
    )


def test_promtool_latency_slo_counts_calls_above_the_bucket(promtool, tmp_path):
    """A latency SLO: 20 % of calls above 0.5 s burns a 99 % objective 20x and pages."""
    slo = SLOOptions(name="lat", objective=0.99, pipeline="checkout", latency_threshold=0.5)
    (group,) = rules([slo])["groups"]
    (page,) = [r for r in group["rules"] if r.get("alert") == ALERT_FAST]
    stem = "resilience_pipeline_duration_seconds"
    labels = 'resilience_pipeline_name="checkout", resilience_outcome="success"'
    promtool_test(
        promtool,
        tmp_path,
        [
            {
                "interval": "1m",
                "input_series": [
                    {"series": f'{stem}_bucket{{{labels}, le="0.5"}}', "values": "0+80x60"},
                    {"series": f"{stem}_count{{{labels}}}", "values": "0+100x60"},
                    # Another pipeline, all slow: not this SLO's.
                    {
                        "series": f'{stem}_bucket{{resilience_pipeline_name="other", '
                        'resilience_outcome="success", le="0.5"}',
                        "values": "0+0x60",
                    },
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "10m",
                        "alertname": ALERT_FAST,
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    "slo": "lat",
                                    "severity": "page",
                                    "resilience_pipeline_name": "checkout",
                                },
                                "exp_annotations": {
                                    k: v.replace("{{ $labels.slo }}", "lat")
                                    for k, v in page["annotations"].items()
                                },
                            }
                        ],
                    }
                ],
                "promql_expr_test": [
                    {
                        "expr": 'round(resilience:slo_error_ratio:rate1h{slo="lat"}, 0.001)',
                        "eval_time": "30m",
                        "exp_samples": [
                            {
                                "labels": '{slo="lat", resilience_pipeline_name="checkout"}',
                                "value": 0.2,
                            }
                        ],
                    }
                ],
            }
        ],
        slos=[slo],
    )
