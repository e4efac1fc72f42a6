"""Fallback options: validated at construction, with a ValueError naming the field."""

from __future__ import annotations

import pytest

from otel_resilience.fallback import Fallback


def ok() -> str:
    return "ok"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({}, "value, handler, chain"),
        ({"value": 1, "handler": ok}, "value, handler, chain"),
        ({"handler": ok, "chain": [ok]}, "value, handler, chain"),
        ({"handler": "not callable"}, "handler"),
        ({"chain": []}, "chain"),
        ({"chain": "ok"}, "chain"),
        ({"chain": 3}, "chain"),
        ({"chain": [ok, 3]}, r"chain\[1\]"),
        ({"chain": [("", ok)]}, r"chain\[0\]"),
        ({"chain": [("name", "not callable")]}, r"chain\[0\]"),
        ({"chain": [("a", ok, "extra")]}, r"chain\[0\]"),
        ({"value": 1, "on": "not-a-category"}, "on"),
        ({"value": 1, "on": [3]}, "on"),
        ({"value": 1, "on": 3}, "on"),
        ({"value": 1, "on_result": "503"}, "on_result"),
    ],
)
def test_invalid_options(kwargs, field):
    """Each invalid option fails fast with a ValueError naming its field."""
    with pytest.raises(ValueError, match=rf"^{field}"):
        Fallback(**kwargs)


def test_options_are_keyword_only():
    """Options are keyword-only: Fallback("x") is a TypeError."""
    with pytest.raises(TypeError):
        Fallback("x")  # type: ignore[misc]


def test_valid_forms():
    """Every documented form of value, handler, chain and on= is accepted."""
    Fallback(value=None)
    Fallback(handler=ok, on=ConnectionError)
    Fallback(chain=(ok, ("named", ok)), on=["timeout", TimeoutError], on_result=bool)
    Fallback(value=0, on=lambda e: True)


def test_repr_names_the_alternatives():
    """The repr shows what serves."""
    assert repr(Fallback(chain=[("a", ok), ok])) == "Fallback(chain=[a, ok])"
    assert repr(Fallback(value=3)) == "Fallback(value=3)"
    assert repr(Fallback(handler=ok)) == "Fallback(handler=ok)"
