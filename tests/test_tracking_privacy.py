"""ErrorTracker privacy by default: messages, traces and breadcrumbs are scrubbed before they are
kept (groups, /reliability, /status, bundles) or exported, with or without the exporters."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from otel_resilience import ErrorTracker, semconv
from otel_resilience.endpoints import Endpoints

#: (text, the secret in it): what the core's own patterns must recognise.
CORPUS = [
    ("write to jane.doe+ops@example.co.uk today", "jane.doe+ops@example.co.uk"),
    ("paid with 4111 1111 1111 1111 yesterday", "4111 1111 1111 1111"),
    ("call (555) 123-4567", "123-4567"),
    ("ssn 123-45-6789 on file", "123-45-6789"),
    ("Authorization: Bearer abcDEFghiJKLmno.xyz-_", "abcDEFghiJKLmno"),
    ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNr", "eyJhbGciOiJIUzI1NiJ9"),
    ("key sk-proj-AbCdEfGhIjKlMnOpQrStUvWx", "AbCdEfGhIjKlMnOpQrStUvWx"),
    ("id AKIAIOSFODNN7EXAMPLE ok", "AKIAIOSFODNN7EXAMPLE"),
    ("ghp_0123456789abcdefghijklmnopqrstuvwxyzAB", "0123456789abcdefghij"),
    ("password=hunter2 rejected", "hunter2"),
    ('{"api_key": "s3cr3tValue"}', "s3cr3tValue"),
    ("GET https://svc:pa55word@db.internal/x", "pa55word"),
]
SECRETS = [secret for _, secret in CORPUS]


def _fail(text: str) -> None:
    raise ValueError(f"request failed: {text}")


def _caught(text: str) -> ValueError:
    """The exception _fail raises, with its traceback."""
    try:
        _fail(text)
    except ValueError as exc:
        return exc
    raise AssertionError("unreachable")


def _run(tracker: ErrorTracker) -> None:
    """Every corpus text in an exception message and in breadcrumb keys and values."""
    for text, secret in CORPUS:
        tracker.breadcrumb(f"calling with {text}", note=text, **{text: 1})
        tracker.breadcrumb("login", password=secret, token=secret)
        assert tracker.capture(_caught(text)) is not None


def _leaks(otel_capture: Any, tracker: ErrorTracker) -> list[str]:
    records = otel_capture.logs(semconv.LOG_EVENT_ERROR)
    assert len(records) == len(CORPUS)
    seen = json.dumps(Endpoints(tracker=tracker).reliability(), default=str)
    seen += "".join(str(r.log_record.body) + str(r.log_record.attributes) for r in records)
    seen += json.dumps(tracker.groups())
    return [secret for secret in SECRETS if secret in seen]


def test_without_exporters_the_core_masks_the_corpus(otel_capture, monkeypatch) -> None:
    """No exporters installed: groups, /reliability and exported records hold no secret."""
    monkeypatch.setitem(sys.modules, "otel_resilience_exporters", None)  # import fails
    tracker = ErrorTracker(**otel_capture.providers)
    _run(tracker)
    assert _leaks(otel_capture, tracker) == []
    assert any("[REDACTED]" in g["message"] for g in tracker.groups())


def test_with_exporters_the_default_is_their_redaction(otel_capture) -> None:
    """With the exporters installed the default scrub is theirs (typed masks) and leaks nothing."""
    tracker = ErrorTracker(**otel_capture.providers)
    _run(tracker)
    assert _leaks(otel_capture, tracker) == []
    assert any("[REDACTED:email]" in g["message"] for g in tracker.groups())


def test_a_failing_scrub_falls_back_to_core_masks(otel_capture) -> None:
    """A scrub raising or returning junk neither loses the error nor leaks the secret."""

    def broken(text: str) -> str:
        raise RuntimeError("scrubber down")

    for scrub in (broken, lambda text: None):
        tracker = ErrorTracker(scrub=scrub, **otel_capture.providers)  # type: ignore[arg-type]
        assert tracker.capture(_caught("password=hunter2 rejected")) is not None
        assert "hunter2" not in json.dumps(tracker.groups())


def test_scrub_identity_opts_out(otel_capture) -> None:
    """scrub=lambda text: text keeps messages as they are (the user's explicit choice)."""
    tracker = ErrorTracker(scrub=lambda text: text, **otel_capture.providers)
    tracker.capture(_caught("password=hunter2 rejected"))
    (record,) = otel_capture.logs(semconv.LOG_EVENT_ERROR)
    message = record.log_record.attributes[semconv.EXCEPTION_MESSAGE]
    assert message == "request failed: password=hunter2 rejected"


def test_hostile_breadcrumb_data_never_loses_the_error(otel_capture) -> None:
    """Breadcrumb data with a raising or huge repr: the error is still tracked and exported,
    the exported breadcrumb stays short."""

    class Hostile:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    tracker = ErrorTracker(**otel_capture.providers)
    tracker.breadcrumb("step", bad=Hostile(), big="x" * 1_000_000)
    assert tracker.capture(_caught("boom")) is not None
    (record,) = otel_capture.logs(semconv.LOG_EVENT_ERROR)
    (crumb,) = record.log_record.attributes[semconv.ERROR_BREADCRUMBS]
    assert len(crumb) < 2000
    assert "bad='<unprintable>'" in crumb


@pytest.mark.parametrize("size", [100_000])
def test_huge_messages_cost_little_and_are_cut(otel_capture, size: int) -> None:
    """A message of many characters is cut before scrubbing and templating."""
    tracker = ErrorTracker(**otel_capture.providers)
    tracker.capture(_caught("password=hunter2 " + "9" * size))
    (group,) = tracker.groups()
    assert len(group["message"]) < 5000
    assert "hunter2" not in group["message"]


class _BrokenTracker(ErrorTracker):
    """A tracker whose every hook raises (a broken subclass, a bug in ours)."""

    def breadcrumb(self, message: str, **kwargs: Any) -> None:
        raise RuntimeError("breadcrumbs down")

    def mark_recovered(self, fingerprints: Any) -> None:
        raise RuntimeError("groups down")

    def capture(self, exc: BaseException, *, handled: bool = False) -> str | None:
        raise RuntimeError("capture down")


def test_a_failing_tracker_never_fails_the_users_call(run, flaky) -> None:
    """TrackErrors around and inside a Retry: a raising tracker changes no call's outcome."""
    from otel_resilience import Pipeline, Retry

    tracker = _BrokenTracker()
    retry = Retry(max_attempts=3, base_delay=0)
    pipeline = Pipeline("p", tracker.strategy(), retry, tracker.strategy())
    assert run(pipeline, flaky(ConnectionError("once"))) == "ok"
    err = run.raises(KeyError, pipeline, flaky(KeyError("mine")))
    assert err.args == ("mine",)


def test_100k_breadcrumbs_keep_memory_flat_and_no_objects_alive() -> None:
    """100k breadcrumbs carrying big objects: the trail stays at max_breadcrumbs, holds short
    strings only (the objects are freed), and a hostile message never raises."""
    import gc
    import tracemalloc
    import weakref

    class Payload:
        def __init__(self) -> None:
            self.blob = "y" * 10_000

    class NoStr:
        def __str__(self) -> str:
            raise RuntimeError("no str")

    tracker = ErrorTracker(max_breadcrumbs=50)
    first = Payload()
    ref = weakref.ref(first)
    tracker.breadcrumb("start", payload=first)
    del first
    tracemalloc.start()
    try:
        for i in range(100_000):
            tracker.breadcrumb(f"step {i}", payload=Payload())
        gc.collect()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    tracker.breadcrumb(NoStr())  # type: ignore[arg-type]
    crumbs = tracker.breadcrumbs()
    assert len(crumbs) == 50
    assert crumbs[-1].message == "step 99999"
    assert ref() is None
    assert peak < 5_000_000
    assert all(len(c.render()) < 1000 for c in crumbs)
    assert all(isinstance(v, str) and len(v) < 300 for c in crumbs for v in c.data.values())
