"""Redaction gaps: AWS secret keys, URL passwords with / + = @, letters-only bearer tokens,
URL-encoded e-mail addresses and secrets inside attribute keys, in every place they travel."""

from __future__ import annotations

import json
import random
import string
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from otel_resilience_exporters import Redactor, build

_B64 = string.ascii_letters + string.digits + "/+"


def aws_secret(rng: random.Random) -> str:
    """40 random base64 characters with a digit, as AWS secret access keys are."""
    chars = [rng.choice(_B64) for _ in range(40)]
    chars[rng.randrange(40)] = rng.choice(string.digits)
    return "".join(chars)


def url_password(rng: random.Random) -> str:
    """A password holding /, + , = and @ among letters and digits."""
    chars = [rng.choice(string.ascii_letters + string.digits) for _ in range(rng.randint(6, 20))]
    for special in "/+=@":
        chars.insert(rng.randrange(len(chars) + 1), special)
    return "".join(chars)


def letters_token(rng: random.Random) -> str:
    """A bearer token of letters only, mixed case."""
    token = [rng.choice(string.ascii_letters) for _ in range(rng.randint(12, 40))]
    token[0], token[1] = token[0].upper(), token[1].lower()
    return "".join(token)


def email_local(rng: random.Random) -> str:
    """A plausible local part of an e-mail address."""
    alphabet = string.ascii_lowercase + string.digits
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(2, 12))) + rng.choice(
        ["", ".x", "+tag", "_1"]
    )


# kind -> (text carrying the secret, the secret that must not survive)
def _aws(rng: random.Random) -> tuple[str, str]:
    key = aws_secret(rng)
    return rng.choice(["key {}", "{}", "aws: {} ok", '"{}"']).format(key), key


def _url(rng: random.Random) -> tuple[str, str]:
    pw = url_password(rng)
    scheme = rng.choice(["postgres", "https", "redis", "amqp"])
    return f"{scheme}://admin:{pw}@db-{rng.randint(1, 9)}.example.com:5432/app", pw


def _bearer(rng: random.Random) -> tuple[str, str]:
    token = letters_token(rng)
    head = rng.choice(["Authorization: Bearer", "authorization: bearer", "Bearer", "BEARER"])
    return f"{head} {token}", token


def _encoded_email(rng: random.Random) -> str:
    local = email_local(rng)
    return f"{local}%40{rng.choice(['example.com', 'mail.example.org', 'x.co.uk'])}"


def _email(rng: random.Random) -> tuple[str, str]:
    address = _encoded_email(rng)
    # The secret is the local part where it stood: a short one ("tp") may occur elsewhere
    # in the URL ("https") by chance.
    return f"https://app.example.com/invite?to={address}&ref=1", "to=" + address.split("%40")[0]


KINDS: dict[str, Callable[[random.Random], tuple[str, str]]] = {
    "aws_secret_key": _aws,
    "url_password": _url,
    "bearer_letters": _bearer,
    "encoded_email": _email,
}


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_secret_values_are_redacted(kind: str, seed: int) -> None:
    """Every generated secret of each kind is gone from the scrubbed text."""
    text, secret = KINDS[kind](random.Random(seed))
    out = Redactor().scrub_text(text)
    assert secret not in out
    assert "[REDACTED:" in out


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_secrets_in_attribute_keys_are_redacted(kind: str, seed: int) -> None:
    """A secret inside an attribute key is scrubbed out of the key; other entries are kept."""
    text, secret = KINDS[kind](random.Random(seed))
    out = Redactor().scrub_attributes({f"seen.{text}": 1, "plain": "ok"})
    assert out is not None
    assert all(secret not in key for key in out)
    assert out["plain"] == "ok"
    assert len(out) == 2


@pytest.mark.parametrize(
    "text",
    [
        "sha 3f786850e387550fdab836ed7e6dc881de23001b ok",  # hex digest: no upper case
        "id AB12CD34EF56AB12CD34EF56AB12CD34EF56AB12",  # upper-case hex
        "in getUserAccountSettingsForTenantInstance",  # a long identifier, no digit
        "File /Users/Alice/Projects/Service2/handlers1.py",  # a path
        "a basic understanding of the bearer responsibilities",
        "the bearer bonds were cashed",
    ],
)
def test_look_alikes_survive(text: str) -> None:
    """Digests, identifiers, paths and prose about bearers are not taken for secrets."""
    assert Redactor().scrub_text(text) is text


def test_aws_secret_under_a_key_named_attribute() -> None:
    """An AWS secret is masked under a plain ``key`` attribute and under secret key names."""
    key = aws_secret(random.Random(7))
    out = Redactor().scrub_attributes(
        {
            "key": key,
            "aws_secret_access_key": key,
            "AWS_SECRET_ACCESS_KEY": key,
            "secretAccessKey": key,
        }
    )
    assert out is not None
    assert key not in json.dumps(out)


def _samples() -> list[tuple[str, str, str]]:
    rng = random.Random(2024)
    return [(kind, *make(rng)) for kind, make in KINDS.items()]


@pytest.mark.parametrize(("kind", "text", "secret"), _samples())
def test_secrets_leave_no_trace_in_jsonl(
    kind: str, text: str, secret: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the default redaction and the jsonl exporter, a secret put into a span name,
    attribute keys and values, an exception message and stack trace, a log body and log
    attributes and metric attribute keys and values appears nowhere in the file."""
    path = tmp_path / "t.jsonl"
    monkeypatch.setenv("OTEL_RESILIENCE_JSONL_PATH", str(path))
    handle = build(exporter="jsonl")
    tracer = handle.tracer_provider.get_tracer("t")
    try:
        with tracer.start_as_current_span(f"call {text}") as span:
            span.set_attribute("note", text)
            span.set_attribute(f"k.{text}", 1)
            raise ValueError(f"failed with {text}")
    except ValueError as exc:
        stack = "".join(traceback.format_exception(exc))
    assert secret in stack  # the stack trace really carried it
    logger = handle.logger_provider.get_logger("l")
    logger.emit(body=f"log {text}", attributes={"detail": text, f"a.{text}": 2})
    logger.emit(body={"nested": {"value": text, text: 3}})
    counter = handle.meter_provider.get_meter("m").create_counter("c")
    counter.add(1, {"v": text, f"label.{text}": "x"})
    assert handle.flush()
    handle.shutdown()
    content = path.read_text()
    for signal in ("span", "log", "metric"):
        assert f'"signal":"{signal}"' in content
    assert "exception.stacktrace" in content
    assert secret not in content, kind
