"""Policies files: loading, validation naming the TOML path, references, env overrides, schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from otel_resilience.circuit_breaker import CircuitBreaker
from otel_resilience.policies import PolicyError, load_policies, policies_schema
from otel_resilience.policies._schema import schema_text
from otel_resilience.rate_limiter import RateLimiter
from otel_resilience.retry import Retry
from otel_resilience.timeout import Timeout

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "policies.toml"

PAYMENTS = """
[pipelines.payments]
strategies = [
  { retry = { max_attempts = 4, backoff = "exponential", base_delay = 0.2 } },
  { circuit_breaker = { failure_ratio = 0.5, minimum_calls = 20, break_duration = 15 } },
  { timeout = { seconds = 2 } },
]
"""


def write(tmp_path: Path, text: str) -> Path:
    """Write a policies file and return its path."""
    path = tmp_path / "policies.toml"
    path.write_text(text)
    return path


def load(tmp_path: Path, text: str, **kwargs):
    """Load ``text`` as a policies file, with no environment overrides unless given."""
    kwargs.setdefault("environ", {})
    return load_policies(write(tmp_path, text), **kwargs)


def test_example_file_loads_every_pipeline():
    """examples/policies.toml loads, with its strategies in file order and shared objects."""
    policies = load_policies(EXAMPLE, environ={})
    assert policies.names == ["payments", "github", "search"]
    payments = policies.pipeline("payments").current
    assert [type(s) for s in payments.strategies] == [Retry, CircuitBreaker, Timeout]
    assert payments.strategies[0].max_attempts == 4
    search = policies.pipeline("search").current.strategies
    assert isinstance(search[1], RateLimiter)
    assert search[1].name == "search_api"
    assert search[2].name == "per_host.search.example.com"


def test_handle_calls_like_a_pipeline(tmp_path, run):
    """A handle's call/acall go through the pipeline: a failing attempt is retried."""
    policies = load(tmp_path, PAYMENTS.replace("base_delay = 0.2", "base_delay = 0.0"))
    outcomes = [ConnectionError("down"), "ok"]

    def flaky():
        item = outcomes.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    assert run(policies.pipeline("payments"), flaky) == "ok"
    assert outcomes == []


def test_handle_decorates_sync_and_async(tmp_path):
    """The handle decorates def and async def functions."""
    import asyncio

    handle = load(tmp_path, PAYMENTS).pipeline("payments")

    @handle
    def add(a, b):
        return a + b

    @handle
    async def aadd(a, b):
        return a + b

    assert add(1, 2) == 3
    assert asyncio.run(aadd(2, 3)) == 5


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        (
            PAYMENTS.replace("max_attempts = 4", "max_attempts = 0"),
            "pipelines.payments.strategies[0].retry.max_attempts",
            "max_attempts must be an integer >= 1, got 0",
        ),
        (
            PAYMENTS.replace("break_duration = 15", "break_duration = -1"),
            "pipelines.payments.strategies[1].circuit_breaker.break_duration",
            "break_duration must be",
        ),
        (
            PAYMENTS.replace('backoff = "exponential"', 'backoff = "fibonacci"'),
            "pipelines.payments.strategies[0].retry.backoff",
            "backoff must be one of",
        ),
        (
            PAYMENTS.replace("max_attempts = 4", "max_atempts = 4"),
            "pipelines.payments.strategies[0].retry.max_atempts",
            "unknown option; known: ",
        ),
        (
            PAYMENTS.replace("{ timeout = {", "{ timeuot = {"),
            "pipelines.payments.strategies[2].timeuot",
            "unknown strategy; known: retry, circuit_breaker",
        ),
        (
            PAYMENTS.replace("[pipelines.payments]", "[pipeline.payments]"),
            "pipeline",
            "unknown section",
        ),
        (
            '[pipelines.p]\nstrategies = [{ rate_limiter = "nope" }]\n',
            "pipelines.p.strategies[0].rate_limiter",
            "no [rate_limiters.nope] is defined",
        ),
        (
            '[pipelines.p]\nstrategies = [{ circuit_breaker = { registry = "r", key = "k" } }]\n',
            "pipelines.p.strategies[0].circuit_breaker.registry",
            "no [breaker_registries.r] is defined",
        ),
        ("[pipelines.p]\nstrategies = [{ retry = {}, timeout = {} }]\n", "strategies[0]", "one"),
        ('[pipelines.p]\npreset = "grpc"\n', "pipelines.p.preset", "unknown preset 'grpc'"),
        ('[pipelines.p]\npreset = ["http"]\n', "pipelines.p.preset", "unknown preset ['http']"),
        ('[pipelines.p]\npreset = "http"\nstrategies = []\n', "pipelines.p", "not both"),
        ('[pipelines.""]\nstrategies = []\n', "pipelines.", "name must be a non-empty string"),
        ("[rate_limiters.a]\nrate = 0\n[pipelines.p]\nstrategies = []\n", "a.rate", "rate"),
        ("x = 1\n", "x", "unknown section"),
        (
            "[pipelines.p]\nstrategies = [{ timeout = {} }]",
            "timeout.seconds",
            "seconds is required",
        ),
        ("[rate_limiters.a]\nper = 1\n", "rate_limiters.a.rate", "rate is required"),
        (
            '[pipelines.p]\nstrategies = [{ circuit_breaker = { key = "k" } }]',
            "circuit_breaker.key",
            "key needs registry",
        ),
        (
            "[pipelines.p]\nstrategies = [{ retry = {} }, { retry = {} }]\nretry = { jitter = 0 }",
            "pipelines.p.retry",
            "not unique",
        ),
        ("[budget.b]\nmax_tokens = 1\n", "budget", "unknown section"),
    ],
)
def test_bad_values_name_the_toml_path(tmp_path, text, key, reason):
    """Every invalid value raises a ValueError naming the file and the TOML path."""
    with pytest.raises(ValueError) as info:
        load(tmp_path, text)
    assert isinstance(info.value, PolicyError)
    assert info.value.key.endswith(key)
    assert reason in info.value.reason
    assert str(info.value).startswith(f"{tmp_path / 'policies.toml'}: ")


def test_constructor_message_is_kept_verbatim(tmp_path):
    """The reason is exactly the constructor's own ValueError message."""
    with pytest.raises(ValueError) as expected:
        Retry(max_attempts=0)
    with pytest.raises(PolicyError) as info:
        load(tmp_path, PAYMENTS.replace("max_attempts = 4", "max_attempts = 0"))
    assert info.value.reason == str(expected.value)
    assert isinstance(info.value.__cause__, ValueError)


@pytest.mark.parametrize(
    ("text", "reason"),
    [("", "the file is empty"), ("  \n", "the file is empty"), ("[pipelines\n", "line 1")],
)
def test_empty_and_unparsable_files_are_refused(tmp_path, text, reason):
    """An empty or unparsable file is a PolicyError naming the file (and the line)."""
    with pytest.raises(PolicyError, match=reason):
        load(tmp_path, text)


def test_missing_file_and_missing_config_variable(tmp_path):
    """A missing file names its path; no path and no OTEL_RESILIENCE_CONFIG says so."""
    with pytest.raises(PolicyError, match="cannot read the file"):
        load_policies(tmp_path / "absent.toml", environ={})
    with pytest.raises(PolicyError, match="OTEL_RESILIENCE_CONFIG"):
        load_policies(environ={})


def test_config_variable_names_the_file(tmp_path):
    """OTEL_RESILIENCE_CONFIG is read when no path is given."""
    path = write(tmp_path, PAYMENTS)
    policies = load_policies(environ={"OTEL_RESILIENCE_CONFIG": str(path)})
    assert policies.path == path


def test_env_overrides_single_values(tmp_path):
    """OTEL_RESILIENCE_PIPELINES__NAME__KIND__OPTION and shared sections override one value."""
    text = PAYMENTS + "[rate_limiters.api]\nrate = 5\n"
    env = {
        "OTEL_RESILIENCE_PIPELINES__PAYMENTS__RETRY__MAX_ATTEMPTS": "7",
        "OTEL_RESILIENCE_PIPELINES__PAYMENTS__TIMEOUT__MODE": "thread",
        "OTEL_RESILIENCE_RATE_LIMITERS__API__RATE": "12.5",
        "OTEL_RESILIENCE_EXPORTER": "console",  # one underscore: not an override
    }
    policies = load(tmp_path, text, environ=env)
    retry, _, timeout = policies.pipeline("payments").current.strategies
    assert retry.max_attempts == 7
    assert retry.options.base_delay == 0.2  # the rest of the table is kept
    assert timeout.mode == "thread"
    built = policies._built.objects[("shared", "rate_limiters", "api")][1]
    assert built.options.rate == 12.5


def test_bad_env_override_names_the_variable(tmp_path):
    """An invalid override names the TOML path and the variable that set it."""
    env = {"OTEL_RESILIENCE_PIPELINES__PAYMENTS__RETRY__MAX_ATTEMPTS": "-2"}
    with pytest.raises(PolicyError) as info:
        load(tmp_path, PAYMENTS, environ=env)
    assert info.value.key == "pipelines.payments.strategies[0].retry.max_attempts"
    assert "(set by OTEL_RESILIENCE_PIPELINES__PAYMENTS__RETRY__MAX_ATTEMPTS)" in str(info.value)
    for var in ("OTEL_RESILIENCE_PIPELINES__NOPE__RETRY__X", "OTEL_RESILIENCE_FOO__A__B"):
        with pytest.raises(PolicyError, match=var):
            load(tmp_path, PAYMENTS, environ={var: "1"})


def test_unknown_pipeline_lookup_lists_the_known_ones(tmp_path):
    """Asking for an undeclared pipeline is a ValueError listing the declared ones."""
    with pytest.raises(ValueError, match="pipelines: payments"):
        load(tmp_path, PAYMENTS).pipeline("refunds")


def test_published_schema_is_up_to_date():
    """docs/policies.schema.json is what policies_schema() generates (regenerate if not)."""
    published = (ROOT / "docs" / "policies.schema.json").read_text()
    assert published == schema_text(), "run: otel-resilience schema > docs/policies.schema.json"


def test_schema_follows_the_constructors():
    """Options and defaults come from the signatures; callables are not offered."""
    defs = policies_schema()["$defs"]
    retry = defs["retry"]["properties"]
    assert retry["max_attempts"] == {"type": "integer", "default": 3}
    assert "retry_if_result" not in retry
    assert "clock" not in retry
    assert defs["timeout"]["required"] == ["seconds"]
    assert "name" not in defs["rate_limiters"]["properties"]
    assert "failure_ratio" in defs["breaker_registries"]["properties"]
    json.dumps(policies_schema())  # serialisable


def _conforms(value, schema, defs) -> bool:
    """A small JSON Schema checker (the subset policies_schema uses: no dependency needed)."""
    if "$ref" in schema:
        return _conforms(value, defs[schema["$ref"].rsplit("/", 1)[1]], defs)
    if "anyOf" in schema:
        return any(_conforms(value, s, defs) for s in schema["anyOf"])
    if "enum" in schema and value not in schema["enum"]:
        return False
    kinds = {"object": dict, "array": list, "string": str, "boolean": bool}
    kind = schema.get("type")
    if kind in kinds and not isinstance(value, kinds[kind]):
        return False
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if kind == "integer" and not is_int:
        return False
    if kind == "number" and not (is_int or isinstance(value, float)):
        return False
    if kind == "array":
        return all(_conforms(v, schema.get("items", {}), defs) for v in value)
    if kind == "object":
        if not schema.get("minProperties", 0) <= len(value) <= schema.get("maxProperties", 99):
            return False
        if not set(schema.get("required", ())) <= set(value):
            return False
        props, extra = schema.get("properties", {}), schema.get("additionalProperties", True)
        for key, item in value.items():
            sub = props.get(key, extra)
            if sub is False or (isinstance(sub, dict) and not _conforms(item, sub, defs)):
                return False
    return True


def test_schema_accepts_the_example_and_refuses_typos():
    """The example file conforms to the schema; a misspelt option or a wrong type does not."""
    from otel_resilience.policies._toml import tomllib

    schema = policies_schema()
    data = tomllib.loads(EXAMPLE.read_text())
    assert _conforms(data, schema, schema["$defs"])
    data["pipelines"]["payments"]["strategies"][0]["retry"]["max_atempts"] = 4
    assert not _conforms(data, schema, schema["$defs"])
    bad = tomllib.loads(PAYMENTS.replace("max_attempts = 4", 'max_attempts = "4"'))
    assert not _conforms(bad, schema, schema["$defs"])
    assert "required" not in schema["$defs"]["timeout_override"]  # preset overrides: partial


def test_handle_refuses_generator_functions_like_a_pipeline(tmp_path):
    """Decorating a generator function fails at once, with the pipeline's own UsageError."""
    from otel_resilience._strategy import UsageError

    handle = load(tmp_path, PAYMENTS).pipeline("payments")

    def stream():
        yield 1

    with pytest.raises(UsageError, match="generator function"):
        handle(stream)
