"""The cheaper L2 hit path keeps its outputs: the same cross-process keys as ``json.dumps``
gave, the JSON codec decoding as ``json.loads`` does, and followers still woken."""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any

import pytest

from otel_resilience.cache import _stable
from otel_resilience.cache._core import CacheCore
from otel_resilience.cache.codec import JSON_CODEC
from otel_resilience.cache.options import CacheOptions
from otel_resilience.testing import FakeClock

VALUES: list[Any] = [
    "plain",
    'é ü 漢字 \u2028 \x00 "quoted" \\ back',
    0,
    -17,
    2**70,
    1.5,
    -0.0,
    1e300,
    float("nan"),
    float("inf"),
    True,
    None,
    b"\x00\xff",
    (1, "a", (2.5, None)),
    [1, [2, [3]]],
    {"b": 1, "a": [1, 2], 3: "int key"},
    {"x", "y"},
    frozenset({1, 2}),
    {},
    (),
]


def _reference(parts: Any) -> str:
    """The key as the first release computed it (json.dumps with the same options)."""
    text = json.dumps(parts, ensure_ascii=False, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _fn(x: Any = None, **kw: Any) -> Any:
    return x


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_call_keys_unchanged(value):
    """stable_call_key and stable_key give the digests json.dumps gave, for every kind."""
    args, kwargs = (value,), {"k": value}
    parts = ["c", _stable._function(_fn), _stable._enc(args), _stable._enc(kwargs)]
    assert _stable.stable_call_key(_fn, args, kwargs) == _reference(parts)
    assert _stable.stable_call_key(_fn, args, {}) == _reference(
        ["c", _stable._function(_fn), _stable._enc(args), ["d"]]
    )
    assert _stable.stable_key(value) == _reference(["k", _stable._enc(value)])


def test_the_fast_encoder_is_in_use():
    """On CPython the key is written by the C encoder built once, not a json.dumps per call."""
    assert _stable._dump is not _stable._ENCODER.encode


@pytest.mark.parametrize(
    "data",
    [
        b'{"id":1,"score":42}',
        '{"s":"é漢"}'.encode(),
        b" [1, 2] \n",
        b"3",
        b'"x"',
        b"null",
        '{"a":1}'.encode("utf-16"),
    ],
)
def test_json_codec_decodes_as_json_loads(data):
    """The codec's decode answers what json.loads answers."""
    assert JSON_CODEC.decode(data) == json.loads(data)


@pytest.mark.parametrize("data", [b"[1] x", b"\xff\xfe\xfa", b"", b"{", b"[1]]"])
def test_json_codec_refuses_as_json_loads(data):
    """Bad bytes raise the ValueError json.loads raises (the L2 then treats it as a miss)."""
    with pytest.raises(ValueError) as ours:
        JSON_CODEC.decode(data)
    with pytest.raises(ValueError) as theirs:
        json.loads(data)
    assert type(ours.value) is type(theirs.value)
    assert str(ours.value) == str(theirs.value)


def test_a_lone_flight_makes_no_event_and_followers_are_woken():
    """A miss nobody joins allocates no Event; a follower that joins gets one and is woken."""
    core = CacheCore(CacheOptions(), FakeClock())
    lone = core.lookup("a")
    assert lone.leader
    assert lone.flight.event is None
    core.resolve("a", lone.flight, value=1, store=True)
    led = core.lookup("b")
    follower = core.lookup("b")
    assert not follower.leader
    assert follower.flight is led.flight
    event = follower.flight.event
    assert event is not None
    assert not event.is_set()
    woke = threading.Thread(target=event.wait)
    woke.start()
    core.resolve("b", led.flight, value=2, store=True)
    woke.join(10.0)
    assert not woke.is_alive()
    assert core.lookup("b") == 2
