"""The openai and anthropic instrumentors' lifecycle and configuration: entry points, identity
restored, pass-through of calls we do not manage, the HTTP layer's modes, options sources."""

from __future__ import annotations

import json
import logging

import pytest
from llm_calls import MESSAGES, Clients, bodies, chat_reply, error_reply, json_reply
from otel_resilience_instrumentation._llm.config import load_options
from otel_resilience_instrumentation._llm.options import LlmOptions
from otel_resilience_instrumentation.anthropic import AnthropicInstrumentor
from otel_resilience_instrumentation.openai import OpenAIInstrumentor

from otel_resilience import semconv


@pytest.fixture
def clients(server) -> Clients:
    """Sync SDK clients pointed at the scripted server (lifecycle needs no async twin)."""
    return Clients("sync", server.url)


def chat(c):
    """A chat completion for gpt-4o."""
    return c.chat.completions.create(model="gpt-4o", messages=MESSAGES)


@pytest.mark.parametrize(
    ("name", "cls", "dependency"),
    [
        ("resilience_openai", OpenAIInstrumentor, "openai >= 1.0"),
        ("resilience_anthropic", AnthropicInstrumentor, "anthropic >= 0.30"),
    ],
)
def test_entry_points_and_dependencies(name, cls, dependency):
    """opentelemetry-instrument finds each instrumentor under our names (not the official ones)."""
    from importlib.metadata import entry_points

    (point,) = [p for p in entry_points(group="opentelemetry_instrumentor") if p.name == name]
    assert point.load() is cls
    assert cls().instrumentation_dependencies() == (dependency,)


def test_uninstrument_restores_identity(instrument):
    """After uninstrument the SDK's request methods and httpx2's send are the originals again."""
    import anthropic._base_client as ab
    import httpx2
    import openai._base_client as ob

    before = (
        ob.SyncAPIClient.__dict__["request"],
        ob.AsyncAPIClient.__dict__["request"],
        ab.BaseClient.__dict__["_tracer"],
        httpx2.Client.__dict__["_send_single_request"],
    )
    first, second = instrument("openai"), instrument("anthropic")
    assert ob.SyncAPIClient.__dict__["request"] is not before[0]
    assert ab.BaseClient.__dict__["_tracer"] is not before[2]
    first.uninstrument()
    second.uninstrument()
    after = (
        ob.SyncAPIClient.__dict__["request"],
        ob.AsyncAPIClient.__dict__["request"],
        ab.BaseClient.__dict__["_tracer"],
        httpx2.Client.__dict__["_send_single_request"],
    )
    assert all(a is b for a, b in zip(after, before, strict=True))


def test_instrument_twice_is_a_no_op_with_a_warning(instrument, caplog, server, clients):
    """A second instrument() warns and changes nothing: still one span and two requests."""
    inst = instrument("openai")
    with caplog.at_level(logging.WARNING):
        inst.instrument()
    assert "already instrumented" in caplog.text
    server.script(error_reply(503), chat_reply())
    clients.openai(chat)
    assert server.count == 2


def test_invalid_option_fails_fast():
    """A wrong instrument() value raises ValueError naming the field."""
    with pytest.raises(ValueError, match="max_attempts"):
        OpenAIInstrumentor().instrument(max_attempts=0)
    with pytest.raises(ValueError, match="fallbacks"):
        OpenAIInstrumentor().instrument(fallbacks={"gpt-4o": "gpt-4o-mini"})
    assert not OpenAIInstrumentor().is_instrumented_by_opentelemetry


def test_unmanaged_calls_pass_through(instrument, server, clients, otel_capture):
    """A call we do not manage (models.list) goes as the SDK sends it: no GenAI span, no
    attempt span, the SDK's own settings intact."""
    instrument("openai")
    server.script(json_reply({"object": "list", "data": []}))
    clients.openai(lambda c: list(c.models.list()), max_retries=0)
    assert server.count == 1
    assert otel_capture.spans() == []


def test_user_httpx2_instrumentation_traces_managed_attempts_once(
    instrument, server, clients, otel_capture
):
    """With resilience_httpx2 on as well, a managed call is still 2 requests for 503+200 (the
    HTTP layer does not retry the idempotency-keyed POST again) and 2 attempt spans."""
    instrument("httpx2")
    instrument("openai")
    server.script(error_reply(503), chat_reply())
    clients.openai(chat)
    assert server.count == 2
    assert len(otel_capture.spans("POST")) == 2
    assert [s.name for s in otel_capture.spans() if s.name.startswith("HTTP")] == []


def test_environment_options(monkeypatch, instrument, server, clients):
    """OTEL_RESILIENCE_LLM_MAX_ATTEMPTS and _FALLBACKS configure the instrumentor."""
    monkeypatch.setenv("OTEL_RESILIENCE_LLM_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("OTEL_RESILIENCE_LLM_FALLBACKS", "gpt-4o=gpt-4o-mini|gpt-4.1; x=y")
    instrument("openai")
    server.script(error_reply(503), chat_reply("gpt-4o-mini"))
    assert clients.openai(chat).model == "gpt-4o-mini"
    assert [b["model"] for b in bodies(server)] == ["gpt-4o", "gpt-4o-mini"]


def test_policy_file_llm_table(tmp_path, caplog):
    """[llm] and [llm.fallbacks] in the policy file; an invalid key is logged and ignored;
    keywords win over the file, the file over the environment."""
    path = tmp_path / "policies.toml"
    path.write_text(
        "[llm]\nmax_attempts = 5\nstall_timeout = -1\nbase_delay = 1.0\n"
        '[llm.fallbacks]\n"gpt-4o" = ["gpt-4o-mini"]\n'
    )
    env = {"OTEL_RESILIENCE_CONFIG": str(path), "OTEL_RESILIENCE_LLM_BASE_DELAY": "0.1"}
    with caplog.at_level(logging.WARNING):
        options = load_options({"max_attempts": 2}, env)
    assert options == LlmOptions(
        max_attempts=2, base_delay=1.0, capture_content=False, fallbacks={"gpt-4o": ["gpt-4o-mini"]}
    )
    assert "llm.stall_timeout is invalid" in caplog.text


def test_invalid_environment_is_logged_and_ignored(caplog):
    """A typo in OTEL_RESILIENCE_LLM_* keeps the default and names the variable."""
    with caplog.at_level(logging.WARNING):
        options = load_options({}, {"OTEL_RESILIENCE_LLM_MAX_ATTEMPTS": "many"})
    assert options.max_attempts == 3
    assert "OTEL_RESILIENCE_LLM_MAX_ATTEMPTS" in caplog.text


def test_no_content_captured_by_default(instrument, server, clients, otel_capture):
    """Without OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT no prompt or answer is kept."""
    instrument("openai")
    server.script(chat_reply())
    clients.openai(chat)
    for span in otel_capture.spans():
        assert not any(
            k.startswith("gen_ai.input") or k.startswith("gen_ai.output") for k in span.attributes
        )
        assert "hi" not in str(dict(span.attributes).values())


def test_rate_limit_headers_feed_the_gauge(instrument, server, clients, otel_capture):
    """x-ratelimit-remaining-* of the last response are gauge points per provider + model."""
    instrument("openai")
    server.script(
        chat_reply(
            **{"x-ratelimit-remaining-requests": "99", "x-ratelimit-remaining-tokens": "5000"}
        )
    )
    clients.openai(chat)
    points = {
        p.attributes[semconv.LLM_RATE_LIMIT_KIND]: p.value
        for p in otel_capture.metric_points(
            semconv.METRIC_LLM_RATE_LIMIT_REMAINING, **{semconv.GEN_AI_REQUEST_MODEL: "gpt-4o"}
        )
    }
    assert points == {"requests": 99, "tokens": 5000}


def test_content_captured_on_opt_in(monkeypatch, instrument, server, clients, otel_capture):
    """OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true records prompt and answer as
    JSON on the GenAI span (only there: attempt spans stay content-free)."""
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    instrument("openai")
    server.script(chat_reply())
    clients.openai(chat)
    span = otel_capture.span("chat gpt-4o")
    assert json.loads(span.attributes[semconv.GEN_AI_INPUT_MESSAGES]) == MESSAGES
    (choice,) = json.loads(span.attributes[semconv.GEN_AI_OUTPUT_MESSAGES])
    assert choice["message"]["content"] == "yo"
    (attempt,) = otel_capture.spans("POST")
    assert semconv.GEN_AI_INPUT_MESSAGES not in attempt.attributes


@pytest.mark.parametrize(("throttle", "waited"), [(False, 0.0), (True, 2.0)])
def test_throttle_waits_for_an_exhausted_limit(
    throttle, waited, instrument, server, clients, fake_clock
):
    """With throttle on, a model whose headers said 0 requests remain (reset in 2 s) waits 2 s
    before its next request; off (the default), it sends at once."""
    instrument("openai", throttle=throttle)
    exhausted = {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "2s"}
    server.script(chat_reply(**exhausted), chat_reply())
    clients.openai(chat)
    assert fake_clock.monotonic() == 0.0
    clients.openai(chat)
    assert fake_clock.monotonic() == pytest.approx(waited)
    assert server.count == 2


def test_user_httpx2_uninstrument_still_removes_its_patch(instrument):
    """httpx2 instrumented by the user before openai: after both uninstruments (the user's
    first), httpx2's send is the original again (our layer did not wrap on top of theirs)."""
    import httpx2

    original = httpx2.Client.__dict__["_send_single_request"]
    user, ours = instrument("httpx2"), instrument("openai")
    user.uninstrument()
    ours.uninstrument()
    assert httpx2.Client.__dict__["_send_single_request"] is original


def test_legacy_httpx_client_attempts_are_traced(instrument, server, otel_capture):
    """openai with a legacy httpx.Client as http_client: the attempts go through httpx, and
    the layer the instrumentor installed there traces them (resend_count on the second)."""
    import httpx
    import openai

    instrument("openai")
    server.script(error_reply(503), chat_reply())
    with openai.OpenAI(base_url=server.url + "/v1", api_key="k", http_client=httpx.Client()) as c:
        chat(c)
    assert server.count == 2
    attempts = sorted(otel_capture.spans("POST"), key=lambda s: s.start_time)
    assert [s.attributes.get(semconv.HTTP_REQUEST_RESEND_COUNT) for s in attempts] == [None, 1]
    (span,) = otel_capture.spans("chat gpt-4o")
    assert all(s.parent.span_id == span.context.span_id for s in attempts)


def test_broken_span_processor_never_fails_the_call(instrument, server, clients, otel_capture):
    """A span processor that raises on every start: the call still retries and succeeds."""
    from opentelemetry.sdk.trace import SpanProcessor

    class Hostile(SpanProcessor):
        def on_start(self, span, parent_context=None):
            raise RuntimeError("hostile processor")

    otel_capture.tracer_provider.add_span_processor(Hostile())
    instrument("openai")
    server.script(error_reply(503), chat_reply())
    assert clients.openai(chat).model == "gpt-4o-2024"
    assert server.count == 2
