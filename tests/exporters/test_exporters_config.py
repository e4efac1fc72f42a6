"""Configuration that surprised users: strict booleans, repeated configure(), values accepted
silently before (endpoints, jsonl paths, samplers), one table of variables, optional gRPC."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path

import otel_resilience_exporters as ore
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from otel_resilience_exporters import (
    RateLimitingSampler,
    RedactionOptions,
    RuleBasedSampler,
    SamplingRule,
    TelemetrySettings,
    build,
)

PACKAGE = Path(ore.__file__).parent
DOCS = Path(__file__).resolve().parents[2] / "docs" / "exporters.md"
TRUE_WORDS = ["true", "TRUE", "1", "yes", "Yes", "on", "ON"]
FALSE_WORDS = ["false", "False", "0", "no", "NO", "off", "Off"]


def _prompt_exported(**options: object) -> bool:
    spans = InMemorySpanExporter()
    handle = build(exporter="none", span_exporters=[spans], **options)  # type: ignore[arg-type]
    attrs = {"gen_ai.prompt": "secret prompt"}
    with handle.tracer_provider.get_tracer("t").start_as_current_span("s", attributes=attrs):
        pass
    handle.flush()
    handle.shutdown()
    return "gen_ai.prompt" in (spans.get_finished_spans()[0].attributes or {})


@pytest.mark.parametrize("word", FALSE_WORDS)
def test_capture_content_false_words_keep_prompts_out(word: str) -> None:
    """capture_content="false" (and 0/no/off in any case) does not export prompts."""
    assert _prompt_exported(capture_content=word) is False


@pytest.mark.parametrize("word", TRUE_WORDS)
def test_capture_content_true_words_export_prompts(word: str) -> None:
    """capture_content="true" (and 1/yes/on in any case) exports prompts."""
    assert _prompt_exported(capture_content=word) is True


@pytest.mark.parametrize("word", FALSE_WORDS)
def test_mirror_events_false_words_mean_false(word: str) -> None:
    """mirror_events="false" and friends turn mirroring off, also in TelemetrySettings."""
    assert build(exporter="none", mirror_events=word).settings.mirror_events is False  # type: ignore[arg-type]
    assert TelemetrySettings(mirror_events=word).mirror_events is False  # type: ignore[arg-type]
    assert RedactionOptions(capture_content=word).capture_content is False  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["maybe", "", "2", "tru", 2, 0.5, [1]])
def test_other_boolean_values_raise_naming_the_option(bad: object) -> None:
    """Anything but the boolean words is a ValueError naming the option."""
    for option in ("capture_content", "mirror_events", "redact"):
        with pytest.raises(ValueError, match=option):
            build(exporter="none", **{option: bad})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="capture_content"):
        RedactionOptions(capture_content=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mirror_events"):
        TelemetrySettings(mirror_events=bad)  # type: ignore[arg-type]


def test_boolean_variables_parse_the_same_words(monkeypatch: pytest.MonkeyPatch) -> None:
    """The variables take the same words in any case and reject others, naming themselves."""
    monkeypatch.setenv("OTEL_RESILIENCE_CAPTURE_CONTENT", "Off")
    assert _prompt_exported() is False
    monkeypatch.setenv("OTEL_RESILIENCE_CAPTURE_CONTENT", "YES")
    assert _prompt_exported() is True
    monkeypatch.setenv("OTEL_RESILIENCE_MIRROR_EVENTS", "nope")
    with pytest.raises(ValueError, match="OTEL_RESILIENCE_MIRROR_EVENTS"):
        build(exporter="none")


_REPEAT = textwrap.dedent(
    """
    import logging, warnings
    from otel_resilience_exporters import IgnoredConfigurationWarning, configure

    records = []
    logging.getLogger("otel_resilience_exporters").addHandler(
        type("H", (logging.Handler,), {"emit": lambda self, r: records.append(r.getMessage())})()
    )
    first = configure(service_name="a", exporter="none")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert configure(service_name="a", exporter="none") is first  # same: silent
        assert configure() is first  # nothing asked for: silent
        assert configure(service_name="b", exporter="console") is first
        assert configure(service_name="c", exporter="console") is first  # warned already
    ours = [w for w in caught if issubclass(w.category, IgnoredConfigurationWarning)]
    assert len(ours) == 1, [str(w.message) for w in caught]
    assert issubclass(ours[0].category, UserWarning)
    message = str(ours[0].message)
    assert "service_name" in message and "exporter" in message, message
    assert len([r for r in records if "already called" in r]) == 1, records
    invalid = [
        (dict(exporter="zipkin"), "zipkin"),
        (dict(shutdown_timeout=-1), "shutdown_timeout"),
        (dict(capture_content="maybe"), "capture_content"),
        (dict(sampler="nope"), "sampler"),
    ]
    for bad, field in invalid:
        try:
            configure(**bad)
        except ValueError as exc:
            assert field in str(exc), exc
        else:
            raise AssertionError(f"{bad} accepted on a repeated call")
    try:
        configure(not_an_option=1)
    except TypeError:
        pass
    else:
        raise AssertionError("unknown option accepted on a repeated call")
    print("OK")
    """
)


def test_repeated_configure_warns_once_and_still_validates() -> None:
    """A second configure() with other arguments warns once (log record and UserWarning
    subclass) naming them; invalid arguments raise even though a configuration exists."""
    run = subprocess.run(
        [sys.executable, "-c", _REPEAT], capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "OK"


@pytest.mark.parametrize(
    ("protocol", "endpoint"),
    [
        ("http/protobuf", "not a url"),
        ("http/protobuf", "localhost:4318"),
        ("http/protobuf", "http://"),
        ("http/protobuf", "ftp://collector:4318"),
        ("http/protobuf", "http://collector:99999"),
        ("http/protobuf", "http://collector:port"),
        ("grpc", "http//collector:4317"),
        ("grpc", "collector:notaport"),
    ],
)
def test_invalid_otlp_endpoint_raises_naming_the_variable(
    protocol: str, endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A malformed OTLP endpoint fails at set-up, naming the variable, instead of at export."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", endpoint)
    with pytest.raises(ValueError, match="OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        build(exporter="otlp")


@pytest.mark.parametrize(
    ("protocol", "endpoint"),
    [
        ("http/protobuf", "http://collector:4318"),
        ("http/protobuf", "https://otlp.example.com/otlp/v1/traces"),
        ("grpc", "collector:4317"),
        ("grpc", "http://127.0.0.1:4317"),
    ],
)
def test_valid_otlp_endpoints_are_accepted(
    protocol: str, endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Well-formed endpoints (and a bare host:port for gRPC) pass the check."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
    build(exporter="otlp").shutdown(timeout=1)


def test_invalid_grafana_cloud_endpoint_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Grafana Cloud endpoint is checked like the OTLP ones."""
    monkeypatch.setenv("OTEL_RESILIENCE_GRAFANA_CLOUD_ENDPOINT", "otlp-gateway.grafana.net/otlp")
    monkeypatch.setenv("OTEL_RESILIENCE_GRAFANA_CLOUD_INSTANCE_ID", "1")
    monkeypatch.setenv("OTEL_RESILIENCE_GRAFANA_CLOUD_TOKEN", "t")
    with pytest.raises(ValueError, match="OTEL_RESILIENCE_GRAFANA_CLOUD_ENDPOINT"):
        build(exporter="grafana-cloud")


def test_rule_sampler_options_are_validated() -> None:
    """RuleBasedSampler, SamplingRule and RateLimitingSampler refuse wrong types, naming them."""
    with pytest.raises(ValueError, match="fallback"):
        RuleBasedSampler([], fallback=5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rules"):
        RuleBasedSampler("rule")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="attributes"):
        SamplingRule(ALWAYS_ON, attributes=["a"])  # type: ignore[arg-type]
    for bad in (float("inf"), float("nan"), -1, "5", True):
        with pytest.raises(ValueError, match="max_per_second"):
            RateLimitingSampler(bad)  # type: ignore[arg-type]


def test_every_environment_read_goes_through_the_table() -> None:
    """No module but _env reads os.environ, and docs/exporters.md lists every variable."""
    for module in PACKAGE.glob("*.py"):
        if module.name != "_env.py":
            source = module.read_text()
            assert not re.search(r"os\.environ|getenv", source), module.name
    docs = DOCS.read_text()
    from otel_resilience_exporters._env import ENV

    missing = [name for name in ENV if f"`{name}`" not in docs and not _per_signal(name, docs)]
    assert not missing


def _per_signal(name: str, docs: str) -> bool:
    # OTEL_EXPORTER_OTLP_TRACES_ENDPOINT etc. are documented as OTEL_EXPORTER_OTLP_<SIGNAL>_...
    generic = re.sub(r"_(TRACES|METRICS|LOGS)_", "_<SIGNAL>_", name)
    return generic != name and f"`{generic}`" in docs


def test_import_does_not_load_instrumentation_or_grpc() -> None:
    """Importing the package loads neither opentelemetry.instrumentation nor grpc."""
    code = (
        "import sys, otel_resilience_exporters\n"
        "prefixes = ('opentelemetry.instrumentation', 'grpc')\n"
        "bad = [m for m in sys.modules if m.startswith(prefixes)]\n"
        "print(bad)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"


def test_grpc_is_an_extra_and_http_the_default_protocol() -> None:
    """The gRPC exporter is only required by the grpc extra; otlp defaults to OTLP/HTTP."""
    requires = metadata.requires("otel-resilience-exporters") or []
    grpc = [r for r in requires if "otlp-proto-grpc" in r]
    assert grpc
    assert all("extra == " in r and "grpc" in r.split("extra == ")[1] for r in grpc)
    handle = build(exporter="otlp")
    exporter = handle._guards[0].exporter  # type: ignore[attr-defined]
    assert type(exporter).__module__.startswith("opentelemetry.exporter.otlp.proto.http")
    handle.shutdown(timeout=1)


@pytest.mark.parametrize(
    ("env", "exporter", "named"),
    [
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL"),
        ({}, "otlp_proto_grpc", "otlp_proto_grpc"),
        ({"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"}, "jaeger", "TRACES_PROTOCOL"),
    ],
)
def test_grpc_without_the_extra_names_it(
    env: dict[str, str], exporter: str, named: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Choosing gRPC without the extra installed raises an ImportError naming the extra and
    what chose gRPC."""
    for module in ("trace_exporter", "metric_exporter", "_log_exporter"):
        monkeypatch.setitem(sys.modules, f"opentelemetry.exporter.otlp.proto.grpc.{module}", None)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ImportError, match=r"otel-resilience-exporters\[grpc\]") as caught:
        build(exporter=exporter)
    assert named in str(caught.value)
