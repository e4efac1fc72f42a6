"""Live reload of policies files: polling on the clock, atomic swaps, state kept, bad files."""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path

import pytest

from otel_resilience import semconv
from otel_resilience.circuit_breaker import CircuitState
from otel_resilience.policies import load_policies

REGISTRY_LOGGER = "otel_resilience.policies.registry"

TEMPLATE = """
[pipelines.api]
strategies = [
  {{ fallback = {{ value = "{answer}" }} }},
  {{ retry = {{ max_attempts = {attempts}, base_delay = 0.0, jitter = false }} }},
  {{ circuit_breaker = {{ minimum_calls = 2, window = 2, window_type = "count" }} }},
]
"""


def policies_text(answer: str = "old", attempts: int = 2) -> str:
    """A one-pipeline file: Fallback(answer) > Retry(attempts) > CircuitBreaker."""
    return TEMPLATE.format(answer=answer, attempts=attempts)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    """The policies file, first written with answer "old"."""
    file = tmp_path / "policies.toml"
    file.write_text(policies_text())
    return file


def load(path, clock, **kwargs):
    """Load with watching on, polling every 2 s of ``clock``, no environment overrides."""
    return load_policies(path, watch=True, poll_interval=2.0, clock=clock, environ={}, **kwargs)


def _replace(text: str, changes: dict[str, str]) -> str:
    for old, new in changes.items():
        assert old in text
        text = text.replace(old, new)
    return text


def failing(counter: list[int]):
    """A dependency that always fails, counting its calls."""

    def fn():
        counter.append(1)
        raise ConnectionError("down")

    return fn


def test_change_is_seen_once_the_poll_interval_passed(path, fake_clock):
    """The new file is used only after poll_interval on the clock, then by every handle."""
    lenient = {"minimum_calls = 2, window = 2": "minimum_calls = 50, window = 50"}
    path.write_text(_replace(policies_text(), lenient))
    policies = load(path, fake_clock)
    api = policies.pipeline("api")
    path.write_text(_replace(policies_text(answer="new", attempts=1), lenient))
    calls: list[int] = []
    assert api.call(failing(calls)) == "old"
    assert len(calls) == 2  # not yet checked: still two attempts
    fake_clock.advance(2.0)
    calls.clear()
    assert api.call(failing(calls)) == "new"
    assert len(calls) == 1
    assert policies.generation == 1


def test_decorated_function_follows_reloads(path, fake_clock):
    """A function decorated before the reload runs under the new pipeline afterwards."""
    policies = load(path, fake_clock)

    @policies.pipeline("api")
    def down():
        raise ConnectionError

    assert down() == "old"
    path.write_text(policies_text(answer="new"))
    fake_clock.advance(2.0)
    assert down() == "new"


def test_unchanged_breaker_keeps_its_state(path, fake_clock):
    """A reload that changes only the retry keeps the same, still open, breaker."""
    policies = load(path, fake_clock)
    api = policies.pipeline("api")
    breaker = api.current.strategies[2]
    api.call(failing([]))  # two failed attempts: the breaker opens
    assert breaker.state is CircuitState.OPEN
    path.write_text(policies_text(attempts=3))
    assert policies.reload() is True
    assert api.current.strategies[1].max_attempts == 3
    assert api.current.strategies[2] is breaker
    assert breaker.state is CircuitState.OPEN
    calls: list[int] = []
    assert api.call(failing(calls)) == "old"  # refused by the open breaker, served the fallback
    assert calls == []


def test_changed_breaker_options_carry_its_state_over(path, fake_clock):
    """Changing a breaker's own options builds a new breaker that takes over the old one's
    state: still open, rejecting, until its break ends."""
    policies = load(path, fake_clock)
    api = policies.pipeline("api")
    before = api.current.strategies[2]
    api.call(failing([]))  # two failed attempts: the breaker opens
    assert before.state is CircuitState.OPEN
    path.write_text(policies_text().replace("minimum_calls = 2", "minimum_calls = 1"))
    assert policies.reload() is True
    after = api.current.strategies[2]
    assert after is not before
    assert after.options.minimum_calls == 1
    assert after.state is CircuitState.OPEN
    calls: list[int] = []
    assert api.call(failing(calls)) == "old"  # refused by the carried-over open state
    assert calls == []
    fake_clock.advance(after.options.break_duration)
    assert after.state is CircuitState.HALF_OPEN


def test_changed_limiter_and_budget_options_keep_their_tokens(tmp_path, fake_clock):
    """A shared rate limiter and a retry budget reconfigured by a reload keep the tokens
    already spent (capped by the new sizes)."""
    text = """
[rate_limiters.api]
rate = 1
per = 60
burst = 5
[budgets.shared]
max_tokens = 10
token_ratio = {ratio}
[pipelines.p]
strategies = [
  {{ retry = {{ max_attempts = 2, base_delay = 0.0, jitter = false, budget = "shared" }} }},
  {{ rate_limiter = "api" }},
]
"""
    path = tmp_path / "policies.toml"
    path.write_text(text.format(ratio=0.1))
    policies = load(path, fake_clock)
    handle = policies.pipeline("p")
    for _ in range(2):  # 2 calls x 2 failed attempts: 4 permits and 4 tokens spent
        with pytest.raises(ConnectionError):
            handle.call(failing([]))
    retry, limiter = handle.current.strategies
    assert (limiter.available(), retry._budget.tokens()) == (1.0, 6.0)
    path.write_text(text.format(ratio=0.2))  # the budget's options change; the limiter's not
    assert policies.reload() is True
    new_retry, new_limiter = handle.current.strategies
    assert new_limiter is limiter
    assert new_retry._budget is not retry._budget
    assert new_retry._budget.tokens() == 6.0
    path.write_text(text.format(ratio=0.2).replace("burst = 5", "burst = 3"))
    assert policies.reload() is True
    newest = handle.current.strategies[1]
    assert newest is not limiter
    assert newest.available() == 1.0  # one permit left, as before the change


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("", "the file is empty"),
        ("[pipelines.api\n", "not valid TOML"),
        (policies_text().replace("max_attempts = 2", "max_attempts = 0"), "max_attempts"),
        (None, "cannot read the file"),
    ],
    ids=["empty", "unparsable", "bad-value", "removed"],
)
def test_bad_file_keeps_previous_policies_and_reports_once(
    path, fake_clock, otel_capture, caplog, content, reason
):
    """An invalid/empty/missing file keeps the old policies, logs once, emits reload_failed;
    restoring a valid file reloads and emits reloaded with its hash."""
    policies = load(path, fake_clock, **otel_capture.providers)
    api = policies.pipeline("api")
    first_hash = policies.hash
    if content is None:
        path.unlink()
    else:
        path.write_text(content)
    with caplog.at_level(logging.ERROR, logger=REGISTRY_LOGGER):
        for _ in range(3):  # three polls of the same bad file
            fake_clock.advance(2.0)
            assert api.call(failing([])) == "old"
    errors = [r for r in caplog.records if r.name == REGISTRY_LOGGER]
    assert len(errors) == 1
    assert str(path) in errors[0].getMessage()
    assert reason in errors[0].getMessage()
    failed = otel_capture.logs(semconv.LOG_EVENT_CONFIG_RELOAD_FAILED)
    assert len(failed) == 1
    attrs = failed[0].log_record.attributes
    assert attrs[semconv.CONFIG_FILE] == str(path)
    assert reason in attrs[semconv.CONFIG_ERROR]
    assert failed[0].log_record.severity_text == "ERROR"
    path.write_text(policies_text(answer="restored"))
    fake_clock.advance(2.0)
    assert api.call(failing([])) == "restored"
    reloaded = otel_capture.logs(semconv.LOG_EVENT_CONFIG_RELOADED)
    hashes = [r.log_record.attributes[semconv.CONFIG_HASH] for r in reloaded]
    assert hashes[0] == first_hash
    assert hashes[-1] == policies.hash != first_hash
    assert len(hashes) == 2


def test_in_flight_thread_calls_finish_under_the_old_policies(path, fake_clock):
    """Calls running in threads during a reload get the old fallback; later calls the new."""
    policies = load(path, fake_clock)
    api = policies.pipeline("api")
    release = threading.Event()
    started = threading.Semaphore(0)
    results: list[object] = []

    def slow_failure():
        started.release()
        release.wait(10)
        raise ConnectionError

    threads = [threading.Thread(target=lambda: results.append(api.call(slow_failure)))]
    threads += [threading.Thread(target=lambda: results.append(api.call(slow_failure)))]
    for t in threads:
        t.start()
    for _ in threads:
        assert started.acquire(timeout=10)
    path.write_text(policies_text(answer="new", attempts=1))
    fake_clock.advance(2.0)
    assert api.call(failing([])) == "new"  # this call triggers the reload
    release.set()
    for t in threads:
        t.join(10)
    assert results == ["old", "old"]


def test_in_flight_tasks_finish_under_the_old_policies(path, fake_clock):
    """Same with asyncio tasks: in-flight calls keep their pipeline across the swap."""
    policies = load(path, fake_clock)
    api = policies.pipeline("api")

    async def main():
        release = asyncio.Event()
        entered = 0

        async def slow_failure():
            nonlocal entered
            entered += 1
            await release.wait()
            raise ConnectionError

        async def fast_failure():
            raise ConnectionError

        tasks = [asyncio.create_task(api.acall(slow_failure)) for _ in range(5)]
        while entered < 5:
            await asyncio.sleep(0)
        path.write_text(policies_text(answer="new"))
        fake_clock.advance(2.0)
        assert await api.acall(fast_failure) == "new"
        release.set()
        return await asyncio.gather(*tasks)

    assert asyncio.run(main()) == ["old"] * 5


def test_no_call_fails_while_the_file_churns(path, fake_clock):
    """Threads calling nonstop while the file goes valid/invalid/empty/missing: no call fails,
    the (unchanged) breaker is never replaced."""
    policies = load_policies(path, watch=True, poll_interval=0.0, clock=fake_clock, environ={})
    api = policies.pipeline("api")
    breaker = api.current.strategies[2]
    stop = threading.Event()
    errors: list[BaseException] = []
    answers: set[object] = set()

    def caller():
        while not stop.is_set():
            try:
                answers.add(api.call(lambda: "ok"))
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=caller) for _ in range(4)]
    for t in threads:
        t.start()
    contents = [policies_text(attempts=3), "", "[broken", None, policies_text(attempts=4)]
    for round_ in range(40):
        content = contents[round_ % len(contents)]
        if content is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(content)
        policies.reload()
    stop.set()
    for t in threads:
        t.join(10)
    assert errors == []
    assert answers == {"ok"}
    assert api.current.strategies[2] is breaker
    assert api.current.strategies[1].max_attempts == 4


def test_removed_pipeline_keeps_serving_its_handles(path, fake_clock):
    """A handle whose pipeline left the file keeps using its last version (no call fails)."""
    policies = load(path, fake_clock)
    api = policies.pipeline("api")
    path.write_text(policies_text().replace("pipelines.api", "pipelines.other"))
    assert policies.reload() is True
    assert policies.names == ["other"]
    assert api.call(failing([])) == "old"


def test_background_watcher_reloads_without_calls(path):
    """start_watcher() polls in a daemon thread (real time): the change is picked up."""
    policies = load_policies(path, poll_interval=0.01, environ={})
    policies.start_watcher()
    try:
        path.write_text(policies_text(answer="new"))
        assert policies.wait_for_generation(1, timeout=10)
        assert policies.pipeline("api").call(failing([])) == "new"
    finally:
        policies.close()


def test_breaker_state_is_shared_by_old_and_new_pipelines(path, fake_clock):
    """The kept breaker is one object: opening it through the new pipeline is seen by both."""
    policies = load(path, fake_clock)
    old = policies.pipeline("api").current
    path.write_text(policies_text(answer="new"))
    policies.reload()
    new = policies.pipeline("api").current
    assert new is not old
    new.call(failing([]))
    assert old.strategies[2].state is CircuitState.OPEN


def test_unchanged_old_file_is_not_read_again(path, fake_clock, monkeypatch):
    """A poll stats the file; it reads it only when mtime/size/inode changed (or is recent)."""
    import os

    from otel_resilience.policies.registry import Policies

    old = path.stat().st_mtime_ns - 3_600 * 10**9
    os.utime(path, ns=(old, old))
    policies = load(path, fake_clock)
    reads: list[int] = []
    real_read = Policies._read

    def counting_read(self):
        reads.append(1)
        return real_read(self)

    monkeypatch.setattr(Policies, "_read", counting_read)
    for _ in range(3):
        fake_clock.advance(2.0)
        policies.pipeline("api")
    assert reads == []
    path.write_text(policies_text(answer="new"))  # a fresh mtime
    fake_clock.advance(2.0)
    assert policies.pipeline("api").call(failing([])) == "new"
    assert reads == [1]


def test_no_task_call_fails_while_the_file_churns(path, fake_clock):
    """Tasks calling nonstop (each call polls) while the file churns: no call fails."""
    policies = load_policies(path, watch=True, poll_interval=0.0, clock=fake_clock, environ={})
    api = policies.pipeline("api")
    breaker = api.current.strategies[2]
    contents = [policies_text(attempts=3), "", "[broken", None, policies_text(attempts=4)]

    async def main():
        stop = False
        errors: list[BaseException] = []
        done = 0

        async def ok():
            await asyncio.sleep(0)
            return "ok"

        async def caller():
            nonlocal done
            while not stop:
                try:
                    assert await api.acall(ok) == "ok"
                    done += 1
                except BaseException as exc:
                    errors.append(exc)

        tasks = [asyncio.create_task(caller()) for _ in range(4)]
        for round_ in range(40):
            content = contents[round_ % len(contents)]
            if content is None:
                path.unlink(missing_ok=True)
            else:
                path.write_text(content)
            for _ in range(3):
                await asyncio.sleep(0)
        stop = True
        await asyncio.gather(*tasks)
        return errors, done

    errors, done = asyncio.run(main())
    assert errors == []
    assert done > 40
    assert policies.generation >= 8  # the good contents were loaded again and again
    assert api.current.strategies[2] is breaker


def test_changed_registry_defaults_keep_each_breakers_state(tmp_path, fake_clock):
    """A breaker registry whose defaults change hands out new breakers that keep the old
    ones' states, key by key."""
    text = """
[breaker_registries.hosts]
minimum_calls = {calls}
window = 2
window_type = "count"
[pipelines.p]
strategies = [{{ circuit_breaker = {{ registry = "hosts", key = "a" }} }}]
"""
    path = tmp_path / "policies.toml"
    path.write_text(text.format(calls=2))
    policies = load(path, fake_clock)
    handle = policies.pipeline("p")
    for _ in range(2):
        with pytest.raises(ConnectionError):
            handle.call(failing([]))
    (breaker,) = handle.current.strategies
    assert breaker.state is CircuitState.OPEN
    path.write_text(text.format(calls=1))
    assert policies.reload() is True
    (after,) = handle.current.strategies
    assert after is not breaker
    assert after.options.minimum_calls == 1
    assert after.state is CircuitState.OPEN
