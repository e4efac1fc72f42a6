"""The tables of strategy kinds and shared objects: adding one is one entry (budgets, chaos)."""

from __future__ import annotations

import pytest

from otel_resilience.policies import PolicyError, load_policies, policies_schema
from otel_resilience.policies._kinds import SHARED, STRATEGIES, Kind
from otel_resilience.policies._simulate import simulate

FILE = """
[budgets.shared]
max_tokens = 20

[pipelines.p]
strategies = [{ budgeted = { attempts = 2, budget = "shared" } }]

[pipelines.q]
strategies = [{ budgeted = { budget = "shared" } }]
"""


@pytest.fixture(autouse=True)
def tables(monkeypatch):
    """Register a shared `budgets` section and a `budgeted` strategy referencing it."""
    monkeypatch.setitem(
        STRATEGIES,
        "budgeted",
        Kind("budgeted", "policies_support:Budgeted", refs={"budget": "budgets"}),
    )
    monkeypatch.setitem(
        SHARED, "budgets", Kind("budgets", "policies_support:Budget", named_by_table=True)
    )


def load(tmp_path, text=FILE, **kwargs):
    """Write and load ``text``."""
    path = tmp_path / "policies.toml"
    path.write_text(text)
    return load_policies(path, environ={}, **kwargs)


def test_shared_object_is_referenced_by_name(tmp_path):
    """Both pipelines get the one [budgets.shared] object, named by its table."""
    policies = load(tmp_path)
    (p,) = policies.pipeline("p").current.strategies
    (q,) = policies.pipeline("q").current.strategies
    assert p.budget is q.budget
    assert (p.budget.name, p.budget.max_tokens, p.attempts) == ("shared", 20, 2)


def test_undefined_reference_and_bad_shared_value_name_the_path(tmp_path):
    """An undefined budget and an invalid one are PolicyErrors naming their TOML path."""
    with pytest.raises(PolicyError) as info:
        load(
            tmp_path,
            FILE.replace(
                'budget = "shared" } }]\n\n[pipelines.q]', 'budget = "x" } }]\n\n[pipelines.q]'
            ),
        )
    assert info.value.key == "pipelines.p.strategies[0].budgeted.budget"
    assert "no [budgets.x] is defined (defined: shared)" in info.value.reason
    with pytest.raises(PolicyError) as info:
        load(tmp_path, FILE.replace("max_tokens = 20", "max_tokens = 0"))
    assert info.value.key == "budgets.shared.max_tokens"


def test_annotation_only_for_type_checkers_is_not_an_option(tmp_path):
    """A keyword typed with a TYPE_CHECKING-only class is not offered (nor accepted)."""
    schema = policies_schema()["$defs"]
    assert schema["budgeted"]["properties"]["budget"] == {"type": "string"}
    assert "precise" not in schema["budgeted"]["properties"]
    assert schema["budgets"]["properties"]["max_tokens"] == {"type": "number", "default": 10}
    with pytest.raises(PolicyError, match="unknown option"):
        load(tmp_path, FILE.replace("attempts = 2,", "precise = 2,"))


def test_unchanged_shared_object_survives_a_reload(tmp_path):
    """A reload that changes a pipeline keeps the budget (and its tokens) when unchanged."""
    policies = load(tmp_path)
    budget = policies.pipeline("p").current.strategies[0].budget
    policies.pipeline("p").call(lambda: None)
    assert budget.tokens() == 19
    policies.path.write_text(FILE.replace("attempts = 2", "attempts = 3"))
    assert policies.reload() is True
    assert policies.pipeline("p").current.strategies[0].attempts == 3
    assert policies.pipeline("q").current.strategies[0].budget is budget
    policies.path.write_text(FILE.replace("max_tokens = 20", "max_tokens = 5"))
    assert policies.reload() is True
    assert policies.pipeline("q").current.strategies[0].budget is not budget


def test_simulate_reports_token_use_of_shared_objects(tmp_path):
    """simulate prints the lowest and final token count of each shared object with tokens."""
    path = tmp_path / "policies.toml"
    path.write_text(FILE)
    report = simulate(str(path), "p", failure_rate=0.0, duration=1, rate=5, environ={})
    assert report.tokens == {"budgets.shared": (15.0, 15.0)}


@pytest.fixture
def injector(monkeypatch):
    """Register an `inject` strategy built by factory methods, its `error` named in the file."""
    from otel_resilience.policies._kinds import exception_class

    kind = Kind(
        "inject",
        "policies_support:Injector",
        variants=("fault", "latency"),
        convert={"error": exception_class},
    )
    monkeypatch.setitem(STRATEGIES, "inject", kind)


INJECT = """
[pipelines.p]
strategies = [
  {{ inject = {{ type = "fault", rate = 0.25, error = "{error}", seed = 7 }} }},
  {{ inject = {{ type = "latency", rate = 0.5, seconds = 2 }} }},
]
"""


def test_factory_method_variants_and_named_exceptions(tmp_path, injector):
    """`type` picks the factory method; `error` names a builtin or otel_resilience error."""
    policies = load(tmp_path, INJECT.format(error="TimeoutError"))
    fault, latency = policies.pipeline("p").current.strategies
    assert fault.settings == {"kind": "fault", "rate": 0.25, "error": TimeoutError, "seed": 7}
    assert latency.settings["seconds"] == 2
    assert latency.settings["enabled"] is False
    from otel_resilience.errors import BulkheadFullError

    policies = load(tmp_path, INJECT.format(error="BulkheadFullError"))
    assert policies.pipeline("p").current.strategies[0].settings["error"] is BulkheadFullError


@pytest.mark.parametrize(
    ("change", "key", "reason"),
    [
        (('"fault"', '"crash"'), "strategies[0].inject.type", "must be one of 'fault', 'latency'"),
        (("TimeoutError", "os.system"), "strategies[0].inject.error", "error must name a builtin"),
        (("TimeoutError", "print"), "strategies[0].inject.error", "error must name a builtin"),
        (("seconds = 2", "seed = 2"), "strategies[1].inject.seed", "unknown option"),
        (("rate = 0.25", "rate = 3"), "strategies[0].inject.rate", "rate must be in [0, 1]"),
    ],
)
def test_variant_errors_name_the_path(tmp_path, injector, change, key, reason):
    """A bad type, an exception name that is not an exception, a wrong option: PolicyErrors."""
    with pytest.raises(PolicyError) as info:
        load(tmp_path, INJECT.format(error="TimeoutError").replace(*change))
    assert info.value.key == f"pipelines.p.{key}"
    assert reason in info.value.reason


def test_variant_schema_has_one_alternative_per_factory_method(injector):
    """The schema offers `type = "fault"` with fault's options and `type = "latency"` with its."""
    defs = policies_schema()["$defs"]
    fault = defs["inject.fault"]
    assert fault["properties"]["type"] == {"const": "fault"}
    assert fault["required"] == ["type", "rate"]
    assert fault["properties"]["error"] == {"type": "string"}  # a class: no TOML default
    assert list(defs["inject.latency"]["properties"]) == ["type", "rate", "seconds", "enabled"]
    assert defs["inject"] == {
        "anyOf": [{"$ref": "#/$defs/inject.fault"}, {"$ref": "#/$defs/inject.latency"}]
    }
    assert "required" not in defs["inject_override"]
