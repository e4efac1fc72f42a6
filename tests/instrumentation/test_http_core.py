"""The client-neutral HTTP core: policies, host matching, environment, URL redaction, and the
runner driven by a fake adapter (no client library at all)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from http_core_support import FakeAdapter, FakeResponse
from otel_resilience_instrumentation._http import (
    Attempt,
    HttpPolicy,
    HttpRequest,
    HttpRunner,
    Target,
    load_policies,
    policy_from_env,
    redact_url,
)
from otel_resilience_instrumentation._http.config import match

from otel_resilience import CircuitOpenError, semconv


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_attempts", 0),
        ("base_delay", -1.0),
        ("max_delay", 0.1),
        ("jitter", 2.0),
        ("retry_statuses", [600]),
        ("retry_methods", "GET"),
        ("failure_ratio", 1.5),
        ("minimum_calls", 0),
        ("break_duration", 0),
        ("breaker", "yes"),
        ("idempotency_header", ""),
        ("backoff", "fibonacci"),
    ],
)
def test_policy_rejects_invalid_values_naming_the_field(field, value):
    """Every invalid HttpPolicy field raises ValueError naming it."""
    with pytest.raises(ValueError, match=field):
        HttpPolicy(**{field: value})


def test_policy_defaults_are_the_issues():
    """3 attempts, 0.2 s exponential with jitter, 30 s cap, breaker 0.5/20/30 s/15 s."""
    p = HttpPolicy()
    assert (p.max_attempts, p.backoff, p.base_delay, p.max_delay, p.jitter) == (
        3,
        "exponential",
        0.2,
        30.0,
        True,
    )
    assert (p.failure_ratio, p.minimum_calls, p.window, p.break_duration) == (0.5, 20, 30.0, 15.0)
    assert p.retry_methods == {"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}
    assert p.retry_statuses == {408, 429, 502, 503, 504}


def test_host_matching_prefers_the_most_specific_key():
    """host:port beats host beats the longest wildcard beats '*'."""
    a, b, c, d, e = (HttpPolicy(max_attempts=n) for n in range(1, 6))
    table = load_policies(
        {
            "api.example.com:8443": a,
            "api.example.com": b,
            "*.example.com": c,
            "*.a.example.com": d,
            "*": e,
        },
        environ={},
    )
    assert match(table, "api.example.com", "api.example.com:8443") is a
    assert match(table, "api.example.com", "api.example.com") is b
    assert match(table, "x.example.com", "x.example.com") is c
    assert match(table, "x.a.example.com", "x.a.example.com") is d
    assert match(table, "example.com", "example.com") is e
    assert match(table, "other.org", "other.org") is e


def test_policies_keys_and_values_are_validated():
    """A bad key or a non-HttpPolicy value fails fast with ValueError."""
    with pytest.raises(ValueError, match="wildcard"):
        load_policies({"api.*.com": HttpPolicy()}, environ={})
    with pytest.raises(ValueError, match=r"policies\['x'\]"):
        load_policies({"x": {"max_attempts": 2}}, environ={})  # type: ignore[dict-item]


def test_env_builds_the_default_policy_and_disabled_hosts():
    """OTEL_RESILIENCE_HTTP_* set the default policy; DISABLED_HOSTS switch hosts off; code
    policies win over both, key by key."""
    env = {
        "OTEL_RESILIENCE_HTTP_MAX_ATTEMPTS": "5",
        "OTEL_RESILIENCE_HTTP_RETRY_STATUSES": "500, 503",
        "OTEL_RESILIENCE_HTTP_BREAKER": "false",
        "OTEL_RESILIENCE_HTTP_DISABLED_HOSTS": "*.internal, metadata.local",
    }
    table = load_policies({"metadata.local": HttpPolicy()}, environ=env)
    assert table["*"] == HttpPolicy(max_attempts=5, retry_statuses={500, 503}, breaker=False)
    assert not match(table, "db.internal", "db.internal").enabled
    assert match(table, "metadata.local", "metadata.local").enabled


def test_invalid_env_is_logged_and_ignored_or_raised_when_strict(caplog):
    """An invalid value keeps that setting's default and logs a warning naming the variable;
    strict parsing raises ValueError naming it instead."""
    env = {"OTEL_RESILIENCE_HTTP_MAX_ATTEMPTS": "many", "OTEL_RESILIENCE_HTTP_BASE_DELAY": "1"}
    with caplog.at_level(logging.WARNING):
        policy = policy_from_env(env)
    assert policy == HttpPolicy(base_delay=1.0)
    assert "OTEL_RESILIENCE_HTTP_MAX_ATTEMPTS" in caplog.text
    with pytest.raises(ValueError, match="OTEL_RESILIENCE_HTTP_MAX_ATTEMPTS"):
        policy_from_env(env, strict=True)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://u:p@h.com/x", "https://REDACTED:REDACTED@h.com/x"),
        ("https://h.com/x?AWSAccessKeyId=a&Signature=b", "https://h.com/x?AWSAccessKeyId=REDACTED&Signature=REDACTED"),
        ("https://h.com/x?X-Goog-Signature=a&q=keep", "https://h.com/x?X-Goog-Signature=REDACTED&q=keep"),
        ("https://h.com/?X-Amz-Credential=a&X-Amz-Security-Token=b&access_token=c", "https://h.com/?X-Amz-Credential=REDACTED&X-Amz-Security-Token=REDACTED&access_token=REDACTED"),
        ("https://h.com/x?flag", "https://h.com/x?flag"),
        ("http://[::1", ""),
    ],
)  # fmt: skip
def test_redact_url(url, expected):
    """User info and sensitive query values are replaced; an unparsable URL gives ''; the same
    the second time (when the first result may have been remembered)."""
    assert redact_url(url) == expected
    assert redact_url(url) == expected


def test_redact_url_remembers_only_urls_without_user_info_or_query(monkeypatch):
    """A URL with user info or a query is never kept in the cache (it may hold a secret); a
    plain one is, normalised as urlsplit gives it, and the cache is cleared at its bound."""
    from otel_resilience_instrumentation._http import attrs

    monkeypatch.setattr(attrs, "_PLAIN_URLS", {})
    monkeypatch.setattr(attrs, "_MAX_PLAIN_URLS", 3)
    for secret in ("https://u:p@h.com/x", "https://h.com/x?access_token=t", "https://h.com/?q"):
        redact_url(secret)
    assert attrs._PLAIN_URLS == {}
    assert redact_url("HTTPS://h.com/a") == "https://h.com/a"
    assert attrs._PLAIN_URLS == {"HTTPS://h.com/a": "https://h.com/a"}
    for path in ("b", "c", "d"):
        redact_url(f"https://h.com/{path}")
    assert list(attrs._PLAIN_URLS) == ["https://h.com/d"]  # cleared when full, then added


def test_target_key_names_the_port_only_when_not_the_default():
    """The breaker key is the host, with :port for a non-default port."""
    assert Target.of("GET", "https://API.example.com/x").key == "api.example.com"
    assert Target.of("GET", "https://api.example.com:443/x").key == "api.example.com"
    assert Target.of("GET", "http://api.example.com:8080/x").key == "api.example.com:8080"
    assert Target.of("GET", "http://h/").port == 80


def test_unknown_method_is_other():
    """A method outside the known set is _OTHER (span name HTTP), the original kept; old
    names are added only when asked."""
    target = Target.of("PURGE", "http://h:81/")
    assert target.span_name == "HTTP"
    attrs = target.span_attributes()
    assert attrs[semconv.HTTP_REQUEST_METHOD] == "_OTHER"
    assert attrs[semconv.HTTP_REQUEST_METHOD_ORIGINAL] == "PURGE"
    assert semconv.OLD_HTTP_METHOD not in attrs
    attrs = target.span_attributes(dup=True)
    assert attrs[semconv.OLD_HTTP_METHOD] == "_OTHER"
    assert attrs[semconv.OLD_NET_PEER_PORT] == 81


def test_semconv_opt_in_http_dup_adds_the_old_names(fake_clock, otel_capture, monkeypatch):
    """OTEL_SEMCONV_STABILITY_OPT_IN=http/dup (read when instrumenting) adds the old names
    beside the stable ones; without it only the stable names are recorded."""
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "database,http/dup")
    runner = HttpRunner(FakeAdapter(), clock=fake_clock, environ={}, **otel_capture.providers)
    runner.send(HttpRequest("GET", "http://svc.test/x", {}), lambda a: FakeResponse(200))
    monkeypatch.delenv("OTEL_SEMCONV_STABILITY_OPT_IN")
    plain = HttpRunner(FakeAdapter(), clock=fake_clock, environ={}, **otel_capture.providers)
    plain.send(HttpRequest("GET", "http://svc.test/x", {}), lambda a: FakeResponse(200))
    dup, stable = (dict(s.attributes) for s in otel_capture.spans("GET"))
    assert dup[semconv.OLD_HTTP_STATUS_CODE] == dup[semconv.HTTP_RESPONSE_STATUS_CODE] == 200
    assert dup[semconv.OLD_HTTP_URL] == dup[semconv.URL_FULL] == "http://svc.test/x"
    assert not {semconv.OLD_HTTP_STATUS_CODE, semconv.OLD_HTTP_URL} & set(stable)


def test_runner_with_a_fake_adapter(fake_clock, otel_capture):
    """The core needs no client library: attempts get numbers, trace headers and the
    deadline's remaining time; a 503 is retried; the breaker then rejects."""
    runner = HttpRunner(
        FakeAdapter(),
        policies={"*": HttpPolicy(minimum_calls=2, max_attempts=2)},
        clock=fake_clock,
        environ={},
        **otel_capture.providers,
    )
    attempts: list[Attempt] = []

    def send(attempt: Attempt) -> FakeResponse:
        attempts.append(attempt)
        return FakeResponse(503 if attempt.number == 1 else 200)

    request = HttpRequest("GET", "http://svc.test/x", {})
    assert runner.send(request, send).status_code == 200
    assert [a.number for a in attempts] == [1, 2]
    assert all("traceparent" in a.headers for a in attempts)
    assert attempts[0].headers["traceparent"] != attempts[1].headers["traceparent"]
    assert all(a.timeout is None for a in attempts)
    assert runner.send(request, lambda a: FakeResponse(500)).status_code == 500
    with pytest.raises(CircuitOpenError):
        runner.send(request, send)
    assert len(attempts) == 2


def test_runner_survives_a_broken_adapter(fake_clock, otel_capture):
    """An adapter whose protocol_version and watch_body raise: the response still reaches the
    caller and the attempt's span still ends."""

    class Broken(FakeAdapter):
        def protocol_version(self, response: Any) -> str | None:
            raise RuntimeError("boom")

    runner = HttpRunner(Broken(), clock=fake_clock, environ={}, **otel_capture.providers)
    response = runner.send(HttpRequest("GET", "http://svc.test/", {}), lambda a: FakeResponse(200))
    assert response.status_code == 200
    assert len(otel_capture.spans("GET")) == 1


def test_nothing_recording_still_retries_and_propagates_the_callers_context(
    fake_clock, otel_capture
):
    """With no-op providers there is no span and no measurement, yet a 503 is retried and
    each attempt carries the caller's own trace context."""
    from opentelemetry.metrics import NoOpMeterProvider
    from opentelemetry.trace import NoOpTracerProvider

    runner = HttpRunner(
        FakeAdapter(),
        clock=fake_clock,
        environ={},
        tracer_provider=NoOpTracerProvider(),
        meter_provider=NoOpMeterProvider(),
    )
    attempts: list[Attempt] = []

    def send(attempt: Attempt) -> FakeResponse:
        attempts.append(attempt)
        return FakeResponse(503 if attempt.number == 1 else 200)

    tracer = otel_capture.tracer_provider.get_tracer("test")
    with tracer.start_as_current_span("caller") as caller:
        assert runner.send(HttpRequest("GET", "http://svc.test/", {}), send).status_code == 200
    parent = f"{caller.get_span_context().span_id:016x}"
    assert [a.headers["traceparent"].split("-")[2] for a in attempts] == [parent, parent]
    assert [s.name for s in otel_capture.spans()] == ["caller"]


def test_a_raising_tracer_does_not_fail_the_request(fake_clock):
    """A tracer whose start_span raises: no span, but the request and its retry still go."""

    class Hostile:
        def start_span(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("sampler broke")

    class HostileProvider:
        def get_tracer(self, *args: Any, **kwargs: Any) -> Hostile:
            return Hostile()

    runner = HttpRunner(
        FakeAdapter(), clock=fake_clock, environ={}, tracer_provider=HostileProvider()
    )
    statuses = iter([503, 200])
    response = runner.send(
        HttpRequest("GET", "http://svc.test/", {}), lambda a: FakeResponse(next(statuses))
    )
    assert response.status_code == 200


def test_invalid_policies_fail_at_instrument(instrument):
    """instrument(policies=...) with a bad value raises ValueError and patches nothing."""
    import httpx

    before = httpx.Client.__dict__["_send_single_request"]
    with pytest.raises(ValueError, match="HttpPolicy"):
        instrument("httpx", policies={"*": {"max_attempts": 2}})
    assert httpx.Client.__dict__["_send_single_request"] is before


def test_invalid_provider_fails_fast():
    """A tracer_provider that is no provider raises ValueError naming the keyword."""
    with pytest.raises(ValueError, match="tracer_provider"):
        HttpRunner(FakeAdapter(), tracer_provider=object(), environ={})


def test_policy_file_http_hosts_apply_between_environment_and_code(tmp_path):
    """[http.hosts."KEY"] tables of OTEL_RESILIENCE_CONFIG set fields over the environment's
    policy; code policies still win key by key; the core loader accepts such a file."""
    from otel_resilience import load_policies as load_core_policies

    path = tmp_path / "policies.toml"
    path.write_text(
        '[http.hosts."api.example.com"]\nmax_attempts = 5\nretry_statuses = [429, 503]\n'
        '[http.hosts."*.internal"]\nenabled = false\n'
        '[http.hosts."code.example.com"]\nmax_attempts = 9\n'
    )
    env = {"OTEL_RESILIENCE_CONFIG": str(path), "OTEL_RESILIENCE_HTTP_BREAKER": "false"}
    table = load_policies({"code.example.com": HttpPolicy(max_attempts=2)}, environ=env)
    api = match(table, "api.example.com", "api.example.com")
    assert api == HttpPolicy(max_attempts=5, retry_statuses={429, 503}, breaker=False)
    assert not match(table, "db.internal", "db.internal").enabled
    assert match(table, "code.example.com", "code.example.com").max_attempts == 2
    assert match(table, "other.com", "other.com") == HttpPolicy(breaker=False)
    load_core_policies(path)  # a file with only [http] is a valid policy file


@pytest.mark.parametrize(
    ("bad", "logged"),
    [
        ("[http.hosts.a]\nmax_attempts = 0\n", "http.hosts.'a'"),
        ("[http.hosts.a]\nretries = 2\n", "http.hosts.'a'"),
        ("[http.hosts.a]\nmax_attempts = [\n", "OTEL_RESILIENCE_CONFIG"),
    ],
)
def test_bad_policy_file_is_logged_and_ignored(tmp_path, caplog, bad, logged):
    """An invalid host table is a warning naming it (the file's other tables still apply);
    an unparsable file is a warning naming the variable, and nothing of it applies."""
    path = tmp_path / "policies.toml"
    path.write_text("[http.hosts.b]\nmax_attempts = 4\n" + bad)
    with caplog.at_level(logging.WARNING):
        table = load_policies(None, environ={"OTEL_RESILIENCE_CONFIG": str(path)})
    assert logged in caplog.text
    assert str(path) in caplog.text
    assert match(table, "a", "a") == HttpPolicy()
    parsed = logged != "OTEL_RESILIENCE_CONFIG"
    assert match(table, "b", "b").max_attempts == (4 if parsed else 3)


@pytest.mark.parametrize("keys", range(8))
def test_suppression_check_agrees_with_the_instrumentation_helper(keys):
    """The runner's plan passes a request straight through exactly when
    is_http_instrumentation_enabled says no, for every combination of the three keys (the
    plan reads the context once instead of calling that helper)."""
    from opentelemetry import context
    from opentelemetry.instrumentation.utils import (
        _SUPPRESS_INSTRUMENTATION_KEY_PLAIN,
        is_http_instrumentation_enabled,
    )
    from otel_resilience_instrumentation._http.runner import _Call

    runner = HttpRunner(FakeAdapter(), environ={})
    request = HttpRequest("GET", "http://h.test/", {}, True, "h.test", None, "http")

    all_keys = (
        context._SUPPRESS_INSTRUMENTATION_KEY,
        _SUPPRESS_INSTRUMENTATION_KEY_PLAIN,
        context._SUPPRESS_HTTP_INSTRUMENTATION_KEY,
    )
    chosen = [key for bit, key in enumerate(all_keys) if keys >> bit & 1]
    ctx = context.get_current()
    for key in chosen:
        ctx = context.set_value(key, True, ctx)
    token = context.attach(ctx)
    try:
        passed_through = runner._plan(request, _Call(request)) is None
        assert passed_through is (not is_http_instrumentation_enabled())
        assert passed_through is bool(chosen)
    finally:
        context.detach(token)


def test_an_origin_keeps_its_host_and_shares_the_breaker_after_eviction():
    """Requests to one origin reuse its host state; a host made again (registry eviction)
    gets the same breaker, so an origin never has two."""
    runner = HttpRunner(FakeAdapter())
    request = HttpRequest("GET", "http://a.test/x", {}, True, "a.test", None, "http")
    from otel_resilience_instrumentation._http.runner import _Call

    first = runner._plan(request, _Call(request))
    again = runner._plan(request, _Call(request))
    assert first is not None
    assert again is not None
    assert first[0] is again[0]
    runner._origins.clear()
    runner._hosts._hosts = type(runner._hosts._hosts)(runner._hosts._host, 8)  # all evicted
    rebuilt = runner._plan(request, _Call(request))
    assert rebuilt is not None
    assert rebuilt[0] is not first[0]
    assert rebuilt[0].strategies[-1] is first[0].strategies[-1]  # the one breaker of a.test
