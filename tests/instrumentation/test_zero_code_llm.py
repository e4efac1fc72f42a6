"""examples/zero_code_llm_app.py run by ``opentelemetry-instrument`` against the local LLM server:
a rate-limited chat retried by our pipeline (one HTTP span per attempt, resend_count on the
resend) under one GenAI span with token usage and the breaker state, configured by environment
variables alone and exported to a jsonl file. (The official openai instrumentor, installed as a
test dependency, is disabled here: test_llm_coexistence.py runs the two together.)"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from llm_server import LLMServer, rate_limited

from otel_resilience import semconv

APP = Path(__file__).resolve().parents[2] / "examples" / "zero_code_llm_app.py"
RUN_TIMEOUT = 60.0  # seconds: a hung run fails the test; it normally takes a few
MODEL = "gpt-4o-mini"
CHAT_SPAN = f"chat {MODEL}"


def test_the_app_has_no_telemetry_or_resilience_code() -> None:
    """The example imports openai and the stdlib only: nothing of OpenTelemetry or ours."""
    imported: set[str] = set()
    for node in ast.walk(ast.parse(APP.read_text())):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    assert "openai" in imported
    assert not any(n.startswith(("opentelemetry", "otel_resilience")) for n in imported)


def _run(server: LLMServer, jsonl: Path) -> subprocess.CompletedProcess[str]:
    launcher = Path(sys.executable).with_name("opentelemetry-instrument")
    env = {
        **os.environ,  # OTEL_* removed by the autouse fixture
        "OTEL_PYTHON_DISTRO": "otel_resilience",
        "OTEL_SERVICE_NAME": "chat-app",
        "OTEL_RESILIENCE_EXPORTER": "jsonl",
        "OTEL_RESILIENCE_JSONL_PATH": str(jsonl),
        "OTEL_RESILIENCE_LLM_BASE_DELAY": "0.01",
        "OTEL_RESILIENCE_LLM_MAX_DELAY": "0.5",
        "OPENAI_BASE_URL": server.openai_url,
        "OPENAI_API_KEY": "sk-local-test",
        # The official openai instrumentor's entry point is called "openai".
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "openai",
    }
    argv = [str(launcher), sys.executable, str(APP)]
    return subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False
    )


def _children(spans: list[dict[str, Any]]) -> dict[str | None, list[dict[str, Any]]]:
    children: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for span in sorted(spans, key=lambda s: s["start_time_unix_nano"]):
        children[span["parent_span_id"]].append(span)
    return children


def test_zero_code_llm_run_shows_the_retried_attempt_under_one_genai_span(
    llm_server: LLMServer, tmp_path: Path
) -> None:
    """A 429 then 200: two HTTP attempt spans (resend_count 1 on the second) under ONE GenAI
    span with the usage, response model and breaker state; stream and embeddings get theirs;
    the server saw 4 requests."""
    llm_server.script(rate_limited(retry_after_ms=10))
    jsonl = tmp_path / "telemetry.jsonl"
    run = _run(llm_server, jsonl)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        f"chat: {MODEL} said 'Hello from {MODEL}.'",
        f"stream: 3 chunks, 'Hello from {MODEL}.'",
        "embeddings: 2 vectors of 4",
    ]
    paths = [r.path for r in llm_server.requests]
    assert paths == ["/v1/chat/completions"] * 3 + ["/v1/embeddings"]

    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    spans = [o for o in lines if o["signal"] == "span"]
    ours = [s for s in spans if s["scope"]["name"].startswith("otel_resilience")]
    chats = [s for s in ours if s["name"] == CHAT_SPAN]
    assert len(chats) == 2  # the plain call and the stream, one logical span each
    first = chats[0]
    attrs = first["attributes"]
    assert first["kind"] == "CLIENT"
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.request.model"] == attrs["gen_ai.response.model"] == MODEL
    assert attrs["gen_ai.usage.output_tokens"] == 3
    assert attrs["gen_ai.usage.input_tokens"] > 0
    assert attrs[semconv.ATTEMPTS] == 2
    assert attrs[semconv.CIRCUIT_BREAKER_STATE] == "closed"
    attempts = [s for s in _children(ours)[first["span_id"]] if s["kind"] == "CLIENT"]
    assert [a["attributes"][semconv.HTTP_RESPONSE_STATUS_CODE] for a in attempts] == [429, 200]
    assert semconv.HTTP_REQUEST_RESEND_COUNT not in attempts[0]["attributes"]
    assert attempts[1]["attributes"][semconv.HTTP_REQUEST_RESEND_COUNT] == 1
    streamed = chats[1]["attributes"]
    assert streamed["gen_ai.usage.output_tokens"] == 3  # usage asked for on the caller's behalf
    assert [s["name"] for s in ours if s["name"].startswith("embeddings ")] == [
        "embeddings text-embedding-3-small"
    ]
    logical = [s for s in ours if s["name"].startswith(("chat ", "embeddings "))]
    assert len(logical) == 3  # one GenAI span per call, never a second one of ours
    points = [
        o for o in lines if o["signal"] == "metric" and o["name"] == "gen_ai.client.token.usage"
    ]
    assert (
        sum(p["count"] for p in points) >= 5
    )  # input and output of both chats, input of one embedding
