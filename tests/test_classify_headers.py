"""parse_retry_after: delay-seconds, HTTP-dates, millisecond and provider reset headers."""

from __future__ import annotations

from datetime import datetime, timezone
from email.message import Message
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otel_resilience.classify import ErrorClassifier, parse_retry_after

NOW = 1_700_000_000.0  # a fixed wall-clock instant, 2023-11-14T22:13:20Z


def _http_date(offset: float) -> str:
    return format_datetime(datetime.fromtimestamp(NOW + offset, timezone.utc), usegmt=True)


def _rfc3339(offset: float) -> str:
    return datetime.fromtimestamp(NOW + offset, timezone.utc).isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "120"}, 120.0),
        ({"retry-after": " 7 "}, 7.0),
        ({"RETRY-AFTER": "1.5"}, 1.5),
        ({"Retry-After": _http_date(30)}, 30.0),
        ({"Retry-After": _http_date(-30)}, 0.0),
        ({"retry-after-ms": "250", "Retry-After": "9"}, 0.25),
        ({"retry-after-ms": "soon", "Retry-After": "9"}, 9.0),
        ({"x-ratelimit-reset-requests": "6m0s"}, 360.0),
        ({"x-ratelimit-reset-tokens": "20ms"}, 0.02),
        ({"x-ratelimit-reset-tokens": "1h2m3.5s"}, 3723.5),
        ({"anthropic-ratelimit-tokens-reset": _rfc3339(45)}, 45.0),
        ({"anthropic-ratelimit-requests-reset": "2023-11-14T22:14:20+00:00"}, 60.0),
        ({}, None),
    ],
)
def test_known_header_forms_are_parsed(headers: dict[str, str], expected: float | None) -> None:
    """Each supported header form yields the delay it describes, case-insensitively."""
    assert parse_retry_after(headers, now=NOW) == pytest.approx(expected)


@pytest.mark.parametrize(
    "value",
    [
        "-5",
        "soon",
        "",
        "1e400",
        "nan",
        "inf",
        "٣",
        "12abc",
        "Thu, 99 Foo 2023 99:99:99 GMT",
        "9" * 400,
    ],
)
def test_negative_and_garbage_values_are_ignored(value: str) -> None:
    """Garbage or negative Retry-After values give None, never an exception."""
    assert parse_retry_after({"Retry-After": value}, now=NOW) is None


def test_exhausted_limit_decides_between_reset_headers() -> None:
    """The reset of the limit that is actually at zero wins over a sooner one that is not."""
    headers = {
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "1m30s",
        "x-ratelimit-remaining-tokens": "5000",
        "x-ratelimit-reset-tokens": "20ms",
    }
    assert parse_retry_after(headers, now=NOW) == 90.0
    headers["x-ratelimit-remaining-requests"] = "3"
    headers["x-ratelimit-remaining-tokens"] = "0"
    assert parse_retry_after(headers, now=NOW) == pytest.approx(0.02)


def test_header_objects_with_items_or_only_get_are_supported() -> None:
    """email.message.Message and get()-only objects are read like mappings."""
    message = Message()
    message["Retry-After"] = "3"

    class GetOnly:
        def get(self, name: str) -> str | None:
            return "8" if name.lower() == "retry-after" else None

    assert parse_retry_after(message) == 3.0
    assert parse_retry_after(GetOnly()) == 8.0
    assert parse_retry_after([("Retry-After", "3")]) is None  # not header-like
    assert parse_retry_after(None) is None


def test_bytes_header_items_are_decoded() -> None:
    """Raw byte header pairs (as some clients expose them) are understood."""
    raw = {b"Retry-After": b"6"}
    assert parse_retry_after(raw) == 6.0


def test_dates_are_measured_against_the_classifier_wall_clock() -> None:
    """An HTTP-date on a response is turned into a delay using the injected wall clock."""

    class Resp:
        status_code = 503
        headers = {"Retry-After": _http_date(12)}  # noqa: RUF012

    classifier = ErrorClassifier(wall_clock=lambda: NOW)
    assert classifier.classify(Resp()).retry_after == pytest.approx(12.0)


_HEADER_NAMES = st.sampled_from(
    [
        "Retry-After",
        "retry-after-ms",
        "x-ratelimit-reset-requests",
        "x-ratelimit-remaining-requests",
        "anthropic-ratelimit-tokens-reset",
        "anthropic-ratelimit-tokens-remaining",
        "x-other",
    ]
)
_HEADER_VALUES = st.one_of(
    st.text(max_size=40),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.integers().map(str),
    st.datetimes(timezones=st.just(timezone.utc)).map(lambda d: format_datetime(d, usegmt=True)),
    st.datetimes().map(lambda d: d.isoformat() + "Z"),
    st.from_regex(r"\A(\d{1,4}(\.\d{1,3})?(ms|h|m|s)){1,3}\Z"),
)


@given(st.dictionaries(_HEADER_NAMES, _HEADER_VALUES, max_size=6), st.floats(0, 4e9))
def test_parse_retry_after_never_raises_and_is_never_negative(
    headers: dict[str, str], now: float
) -> None:
    """Whatever the headers say, the result is None or a finite non-negative delay."""
    result = parse_retry_after(headers, now=now)
    assert result is None or (result >= 0.0 and result != float("inf"))


@given(st.integers(min_value=0, max_value=10**9))
def test_delay_seconds_round_trip(seconds: int) -> None:
    """Any non-negative integer Retry-After comes back as that many seconds."""
    assert parse_retry_after({"Retry-After": str(seconds)}) == float(seconds)
