"""`otel-resilience dashboard`: Grafana dashboard JSON from grafana-foundation-sdk."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from otel_resilience.policies.cli import main
from otel_resilience.slo._dashboard import PANELS

needs_sdk = pytest.mark.skipif(
    sys.version_info < (3, 11), reason="grafana-foundation-sdk supports Python 3.11+ only"
)


def grafana_builtins(expr: str) -> str:
    """``expr`` with Grafana's own variables replaced as Grafana would (for Prometheus)."""
    return expr.replace("$__rate_interval", "1m")


@needs_sdk
def test_dashboard_prints_the_panels_of_the_issue(capsys):
    """Six panels of the right kinds, each querying the picked Prometheus data source."""
    assert main(["dashboard", "--title", "T", "--uid", "u1"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["title"], doc["uid"]) == ("T", "u1")
    panels = [(p["type"], p["title"]) for p in doc["panels"]]
    assert panels == [
        ("state-timeline", "Circuit breaker states"),
        ("timeseries", "Retries and rejections per pipeline"),
        ("heatmap", "Call latency"),
        ("timeseries", "Error budget remaining"),
        ("timeseries", "GenAI tokens per model"),
        ("timeseries", "GenAI time to first chunk per model (p95)"),
    ]
    (variable,) = doc["templating"]["list"]
    assert (variable["type"], variable["name"], variable["query"]) == (
        "datasource", "datasource", "prometheus",
    )  # fmt: skip
    for panel in doc["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
    heat = doc["panels"][2]
    assert heat["targets"][0]["format"] == "heatmap"
    mappings = doc["panels"][0]["fieldConfig"]["defaults"]["mappings"][0]["options"]
    assert {k: v["text"] for k, v in mappings.items()} == {
        "0": "closed", "1": "half_open", "2": "open",
    }  # fmt: skip


@needs_sdk
def test_dashboard_queries_are_the_panel_table(capsys):
    """The JSON carries exactly the PromQL of PANELS (what the e2e test runs)."""
    assert main(["dashboard"]) == 0
    doc = json.loads(capsys.readouterr().out)
    printed = [[t["expr"] for t in p["targets"]] for p in doc["panels"]]
    assert printed == [[q for q, _ in spec.queries] for spec in PANELS]


def test_every_query_is_valid_promql(tmp_path):
    """promtool parses each panel query (as a recording rule expression)."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool not found: run `make debian` (Debian package prometheus)")
    exprs = [grafana_builtins(q) for spec in PANELS for q, _ in spec.queries]
    rules = {"groups": [{"name": "panels", "rules": []}]}
    for i, expr in enumerate(exprs):
        rules["groups"][0]["rules"].append({"record": f"panel:query:{i}", "expr": expr})
    path = tmp_path / "panels.yml"
    path.write_text(json.dumps(rules))  # JSON is YAML
    done = subprocess.run(
        [promtool, "check", "rules", str(path)], check=False, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in done.stdout


def test_without_the_library_the_command_says_what_to_install(monkeypatch, capsys):
    """No grafana-foundation-sdk: exit 1 naming the extra to install, no traceback."""
    monkeypatch.setitem(sys.modules, "grafana_foundation_sdk", None)
    assert main(["dashboard"]) == 1
    err = capsys.readouterr().err
    assert "pip install 'otel-resilience[dashboards]'" in err
    assert "Traceback" not in err
